package sigstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/evidencerelay/epack/internal/jcs"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	rekorutil "github.com/sigstore/rekor/pkg/util"

	// The kinds Rekor accepts register themselves with pkg/types.
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1"
)

const entriesPath = "/api/v1/log/entries"

// logEntry is one leaf of the log.
type logEntry struct {
	body           []byte // canonicalized entry, the Merkle leaf
	leafHash       []byte
	integratedTime int64
}

// jsonConsumer is the go-openapi consumer models.UnmarshalProposedEntry needs.
type jsonConsumer struct{}

func (jsonConsumer) Consume(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

func rekorError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, &models.Error{Code: int64(status), Message: msg})
}

func (s *Sigstore) entryID(leafHash []byte) string {
	return fmt.Sprintf("%016x%x", s.treeID, leafHash)
}

func (s *Sigstore) entryURL(id string) string { return s.rekorURL + entriesPath + "/" + id }

func (s *Sigstore) rekorHandler(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == entriesPath && r.Method == http.MethodPost:
		s.createEntry(w, r)
	case strings.HasPrefix(r.URL.Path, entriesPath+"/") && r.Method == http.MethodGet:
		s.getEntry(w, strings.TrimPrefix(r.URL.Path, entriesPath+"/"))
	default:
		rekorError(w, http.StatusNotFound, "path "+r.URL.Path+" was not found")
	}
}

// createEntry validates and canonicalizes the proposed entry with Rekor's
// own type implementations, appends it and answers like Rekor: 201 with
// the entry, ETag and Location, or 409 with Location if it is logged.
func (s *Sigstore) createEntry(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<20))
	if err != nil {
		rekorError(w, http.StatusBadRequest, err.Error())
		return
	}
	pe, err := models.UnmarshalProposedEntry(bytes.NewReader(data), jsonConsumer{})
	if err != nil {
		rekorError(w, http.StatusBadRequest, "error processing entry: "+err.Error())
		return
	}
	impl, err := types.CreateVersionedEntry(pe)
	if err != nil {
		rekorError(w, http.StatusBadRequest, "error processing entry: "+err.Error())
		return
	}
	body, err := types.CanonicalizeEntry(r.Context(), impl)
	if err != nil {
		var verr *types.InputValidationError
		if errors.As(err, &verr) {
			rekorError(w, http.StatusBadRequest, "error processing entry: "+err.Error())
		} else {
			rekorError(w, http.StatusInternalServerError, "error generating canonicalized entry: "+err.Error())
		}
		return
	}
	leaf := leafHash(body)
	id := s.entryID(leaf)

	s.mu.Lock()
	if _, dup := s.byLeaf[hex.EncodeToString(leaf)]; dup {
		s.mu.Unlock()
		w.Header().Set("Location", s.entryURL(id))
		rekorError(w, http.StatusConflict, "an equivalent entry already exists in the transparency log with UUID "+id)
		return
	}
	s.entries = append(s.entries, &logEntry{body: body, leafHash: leaf, integratedTime: time.Now().Unix()})
	idx := len(s.entries) - 1
	s.byLeaf[hex.EncodeToString(leaf)] = idx
	anon, err := s.answerLocked(r.Context(), idx)
	s.mu.Unlock()
	if err != nil {
		rekorError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("ETag", id)
	w.Header().Set("Location", s.entryURL(id))
	writeJSON(w, http.StatusCreated, models.LogEntry{id: anon})
}

// getEntry serves GET /api/v1/log/entries/{entryUUID}; the UUID is the
// leaf hash, optionally prefixed by the 16-hex-digit tree ID.
func (s *Sigstore) getEntry(w http.ResponseWriter, id string) {
	uuid := id
	if len(id) == 80 {
		if id[:16] != fmt.Sprintf("%016x", s.treeID) {
			rekorError(w, http.StatusNotFound, "no entry with UUID "+id)
			return
		}
		uuid = id[16:]
	}
	s.mu.Lock()
	idx, ok := s.byLeaf[strings.ToLower(uuid)]
	if !ok {
		s.mu.Unlock()
		rekorError(w, http.StatusNotFound, "no entry with UUID "+id)
		return
	}
	anon, err := s.answerLocked(context.Background(), idx)
	leaf := s.entries[idx].leafHash
	s.mu.Unlock()
	if err != nil {
		rekorError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, models.LogEntry{s.entryID(leaf): anon})
}

// answerLocked builds entry idx as Rekor returns it: a SET over the
// canonical JSON of body, integratedTime, logID and logIndex, and an
// inclusion proof against the current tree with a signed checkpoint. It
// applies and clears the pending tamper.
func (s *Sigstore) answerLocked(ctx context.Context, idx int) (models.LogEntryAnon, error) {
	e := s.entries[idx]
	logID := hex.EncodeToString(s.logID)
	index := int64(idx)
	integrated := e.integratedTime
	payload, err := json.Marshal(struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogID          string `json:"logID"`
		LogIndex       int64  `json:"logIndex"`
	}{base64.StdEncoding.EncodeToString(e.body), integrated, logID, index})
	if err != nil {
		return models.LogEntryAnon{}, err
	}
	canonical, err := jcs.Canonicalize(payload, jcs.General)
	if err != nil {
		return models.LogEntryAnon{}, err
	}
	set, err := s.logSigner.SignMessage(bytes.NewReader(canonical))
	if err != nil {
		return models.LogEntryAnon{}, fmt.Errorf("signing entry: %w", err)
	}

	leaves := make([][]byte, len(s.entries))
	for i, le := range s.entries {
		leaves[i] = le.leafHash
	}
	rootHash := merkleRoot(leaves)
	var hashes []string
	for _, h := range inclusionPath(idx, leaves) {
		hashes = append(hashes, hex.EncodeToString(h))
	}
	size := uint64(len(leaves))
	checkpoint, err := rekorutil.CreateAndSignCheckpoint(ctx, s.rekorHost, s.treeID, size, rootHash, s.logSigner)
	if err != nil {
		return models.LogEntryAnon{}, err
	}

	proofRoot := rootHash
	switch s.tamperNext {
	case TamperSET:
		set[len(set)-1] ^= 1
	case TamperIntegratedTime:
		integrated -= 3600
	case TamperInclusionProof:
		proofRoot = append([]byte(nil), rootHash...)
		proofRoot[0] ^= 1
	}
	s.tamperNext = 0

	treeSize := int64(size)
	rootHex := hex.EncodeToString(proofRoot)
	cp := string(checkpoint)
	if hashes == nil {
		hashes = []string{}
	}
	return models.LogEntryAnon{
		Body:           base64.StdEncoding.EncodeToString(e.body),
		IntegratedTime: &integrated,
		LogID:          &logID,
		LogIndex:       &index,
		Verification: &models.LogEntryAnonVerification{
			SignedEntryTimestamp: set,
			InclusionProof: &models.InclusionProof{
				LogIndex:   &index,
				RootHash:   &rootHex,
				TreeSize:   &treeSize,
				Hashes:     hashes,
				Checkpoint: &cp,
			},
		},
	}, nil
}

// RFC 6962 Merkle tree hashing.

func leafHash(data []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	return h.Sum(nil)
}

func nodeHash(l, r []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l)
	h.Write(r)
	return h.Sum(nil)
}

// split is the largest power of two smaller than n (n > 1).
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// merkleRoot is MTH over leaf hashes (at least one).
func merkleRoot(leaves [][]byte) []byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := split(len(leaves))
	return nodeHash(merkleRoot(leaves[:k]), merkleRoot(leaves[k:]))
}

// inclusionPath is RFC 6962's PATH(m, D[n]), leaf to root.
func inclusionPath(m int, leaves [][]byte) [][]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if m < k {
		return append(inclusionPath(m, leaves[:k]), merkleRoot(leaves[k:]))
	}
	return append(inclusionPath(m-k, leaves[k:]), merkleRoot(leaves[:k]))
}
