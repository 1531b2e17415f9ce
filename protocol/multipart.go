package protocol

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// Multipart upload is our addition to the protocol: a big pack goes to the
// registry in parts, sent in parallel straight from the host to the store,
// each part checked by the store against the checksums the host computed
// from the very bytes it verified. An adapter offers it in its capabilities
// (features.multipart_upload with limits.multipart); a host that did not
// offer it in push.prepare never gets it, so the existing tool and adapters
// without the feature keep the single upload.
//
// Capabilities:
//
//	"features":{…,"multipart_upload":true},
//	"limits":{…,"multipart":{"threshold_bytes":67108864,"min_part_bytes":5242880,
//	  "max_part_bytes":5368709120,"max_parts":10000,"max_part_urls":100,
//	  "part_checksums":["md5","sha256"]}}
//
// push.prepare request: pack.checksum (the whole file's MD5) may be left out
// when a multipart offer is made; the offer lists every part in order:
//
//	"multipart":{"part_size":16777216,
//	  "parts":[{"part_number":1,"size_bytes":16777216,"md5":"<base64>","sha256":"<base64>"},…],
//	  "resume":{"upload_id":"…","finalize_token":"…"}}
//
// resume names the upload an interrupted push of the same pack left behind;
// the adapter continues it when it still exists and belongs to the same
// pack, target and part size, and otherwise starts a new one.
//
// push.prepare answer choosing it: upload.method "multipart" and
//
//	"multipart":{"upload_id":"…","part_size":16777216,"part_count":64,"resumed":true,
//	  "uploaded":[{"part_number":1,"size_bytes":16777216,"sha256":"<base64>"}],
//	  "parts":[{"part_number":2,"method":"PUT","url":"https://…","headers":{…},"expires_at":"…"},…]}
//
// uploaded lists the parts the store already holds with the checksum the
// offer gave them (a resumed upload); parts holds upload targets for the
// first parts still to send (at most max_part_urls). The host asks for the
// others, and for fresh ones when targets expire, with push.parts:
//
//	{"type":"push.parts","protocol_version":1,"request_id":"…","remote":"origin",
//	 "target":{…},"finalize_token":"…","upload_id":"…","part_numbers":[3,4,5],
//	 "list_uploaded":false}
//
//	{"ok":true,"type":"push.parts.result","request_id":"…",
//	 "parts":[{"part_number":3,"method":"PUT","url":"https://…",…}],"uploaded":[…]}
//
// uploaded is answered when list_uploaded is true. The host sends each
// part with PUT, Content-Length, x-amz-checksum-sha256 and (unless the
// adapter's part_checksums leave "md5" out, when md5 is left out of the
// offer too) Content-MD5, base64 of the part's bytes — headers it computes
// itself, so it sends them over plain loopback http too, where it never
// sends an adapter's headers; the store refuses a part whose bytes differ. push.finalize is
// unchanged: the adapter completes the upload and checks the whole object
// (its size, and that it is made of exactly the offered parts with their
// SHA-256s) before any release exists.

// CmdPushParts asks for upload targets of more parts of a multipart upload
// (and, optionally, which parts the store holds).
const CmdPushParts = "push.parts"

// MethodMultipart is upload.method of a push.prepare answer that chose a
// multipart upload (PushPrepareResponse.Multipart says how).
const MethodMultipart = "multipart"

// Bounds of multipart uploads a host and an adapter both hold to.
const (
	// MaxMultipartParts bounds the parts of one upload (S3's limit).
	MaxMultipartParts = 10000
	// MaxPartURLs bounds the part targets of one answer.
	MaxPartURLs = 1000
	// MaxUploadIDBytes bounds an upload id.
	MaxUploadIDBytes = 1024
)

// MultipartLimits are an adapter's multipart bounds (limits.multipart).
type MultipartLimits struct {
	// ThresholdBytes: packs of at least this size should go in parts (0:
	// any size). The adapter decides in push.prepare; the host offers parts
	// only from this size on.
	ThresholdBytes int64 `json:"threshold_bytes"`
	// MinPartBytes is the smallest part but the last (0: no minimum).
	MinPartBytes int64 `json:"min_part_bytes"`
	// MaxPartBytes is the largest part (0: no maximum).
	MaxPartBytes int64 `json:"max_part_bytes"`
	// MaxParts bounds the number of parts (0: MaxMultipartParts).
	MaxParts int `json:"max_parts"`
	// MaxPartURLs bounds the part targets one answer carries (0:
	// MaxPartURLs); a host asks push.parts for no more at once.
	MaxPartURLs int `json:"max_part_urls,omitempty"`
	// PartChecksums names what the store checks every part by, and so
	// what the host computes and sends with each: "sha256"
	// (x-amz-checksum-sha256, always) and "md5" (Content-MD5). Absent:
	// both. A store that enforces x-amz-checksum-sha256 needs no MD5, which
	// saves the host and the store an MD5 pass over the pack.
	PartChecksums []string `json:"part_checksums,omitempty"`
}

// Part checksum names (MultipartLimits.PartChecksums).
const (
	PartChecksumMD5    = "md5"
	PartChecksumSHA256 = "sha256"
)

// WantsPartMD5 reports whether the host must send each part's Content-MD5.
func (l MultipartLimits) WantsPartMD5() bool {
	if len(l.PartChecksums) == 0 {
		return true
	}
	for _, c := range l.PartChecksums {
		if c == PartChecksumMD5 {
			return true
		}
	}
	return false
}

// PartLimit is the number of parts the limits allow.
func (l MultipartLimits) PartLimit() int {
	if l.MaxParts <= 0 || l.MaxParts > MaxMultipartParts {
		return MaxMultipartParts
	}
	return l.MaxParts
}

// URLBatch is the number of part targets one answer may carry.
func (l MultipartLimits) URLBatch() int {
	if l.MaxPartURLs <= 0 || l.MaxPartURLs > MaxPartURLs {
		return MaxPartURLs
	}
	return l.MaxPartURLs
}

// CheckPartSize refuses a part size these limits do not take for a pack of
// size bytes.
func (l MultipartLimits) CheckPartSize(partSize, size int64) error {
	if partSize <= 0 {
		return fmt.Errorf("part size %d is not positive", partSize)
	}
	if l.MinPartBytes > 0 && partSize < l.MinPartBytes && size > partSize {
		return fmt.Errorf("part size %d is below the minimum %d", partSize, l.MinPartBytes)
	}
	if l.MaxPartBytes > 0 && partSize > l.MaxPartBytes {
		return fmt.Errorf("part size %d is above the maximum %d", partSize, l.MaxPartBytes)
	}
	if n := PartCount(size, partSize); n > int64(l.PartLimit()) {
		return fmt.Errorf("%d parts of %d bytes exceed the limit of %d parts", n, partSize, l.PartLimit())
	}
	return nil
}

// PartCount is the number of parts of partSize bytes a pack of size bytes
// has (the last one may be shorter).
func PartCount(size, partSize int64) int64 {
	if size <= 0 || partSize <= 0 {
		return 0
	}
	return (size + partSize - 1) / partSize
}

// PartChecksum is one part as the host computed it from the verified bytes.
type PartChecksum struct {
	PartNumber int   `json:"part_number"`
	SizeBytes  int64 `json:"size_bytes"`
	// MD5 and SHA256 are the standard base64 of the part's digests (the
	// values of Content-MD5 and x-amz-checksum-sha256). MD5 is left out
	// when the adapter's part_checksums do not ask for it.
	MD5    string `json:"md5,omitempty"`
	SHA256 string `json:"sha256"`
}

// Offset is where the part starts in the pack.
func (p PartChecksum) Offset(partSize int64) int64 { return int64(p.PartNumber-1) * partSize }

// MultipartOffer is the host's offer in push.prepare.
type MultipartOffer struct {
	PartSize int64            `json:"part_size"`
	Parts    []PartChecksum   `json:"parts"`
	Resume   *MultipartResume `json:"resume,omitempty"`
}

// MultipartResume names an interrupted upload to continue.
type MultipartResume struct {
	UploadID      string `json:"upload_id"`
	FinalizeToken string `json:"finalize_token"`
}

// Check refuses an offer that does not describe a pack of size bytes:
// parts numbered 1…n in order, each part_size long but the last (1 to
// part_size bytes), the sizes adding up to size, base64 MD5 (16 bytes) and
// SHA-256 (32 bytes) — MD5 for every part or none —, at most
// MaxMultipartParts; and a resume with a malformed upload id or token.
// Both sides run it.
func (o *MultipartOffer) Check(size int64) error {
	if o.PartSize <= 0 {
		return fmt.Errorf("multipart.part_size must be positive, got %d", o.PartSize)
	}
	n := PartCount(size, o.PartSize)
	if n == 0 || n > MaxMultipartParts {
		return fmt.Errorf("a pack of %d bytes in parts of %d bytes has %d parts (1 to %d allowed)", size, o.PartSize, n, MaxMultipartParts)
	}
	if int64(len(o.Parts)) != n {
		return fmt.Errorf("multipart.parts lists %d parts, the pack has %d", len(o.Parts), n)
	}
	for i, p := range o.Parts {
		want := o.PartSize
		if int64(i) == n-1 {
			want = size - (n-1)*o.PartSize
		}
		if p.PartNumber != i+1 {
			return fmt.Errorf("multipart.parts[%d] has part_number %d, want %d", i, p.PartNumber, i+1)
		}
		if p.SizeBytes != want {
			return fmt.Errorf("part %d has size_bytes %d, want %d", p.PartNumber, p.SizeBytes, want)
		}
		if (p.MD5 == "") != (o.Parts[0].MD5 == "") {
			return fmt.Errorf("part %d: md5 is given for some parts only", p.PartNumber)
		}
		if p.MD5 != "" {
			if err := checkB64(p.MD5, 16); err != nil {
				return fmt.Errorf("part %d md5: %v", p.PartNumber, err)
			}
		}
		if err := checkB64(p.SHA256, 32); err != nil {
			return fmt.Errorf("part %d sha256: %v", p.PartNumber, err)
		}
	}
	if r := o.Resume; r != nil {
		if err := CheckUploadID(r.UploadID); err != nil {
			return err
		}
		if err := checkToken(r.FinalizeToken); err != nil {
			return err
		}
	}
	return nil
}

// checkB64 refuses s unless it is standard base64 of n bytes.
func checkB64(s string, n int) error {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != n {
		return fmt.Errorf("%q is not standard base64 of %d bytes", truncateText(s), n)
	}
	return nil
}

// CheckUploadID refuses an empty, over-long or non-printable upload id.
func CheckUploadID(id string) error {
	if id == "" {
		return fmt.Errorf("upload_id is missing")
	}
	if len(id) > MaxUploadIDBytes {
		return fmt.Errorf("upload_id is too long (%d bytes, limit %d)", len(id), MaxUploadIDBytes)
	}
	if !printable(id) {
		return fmt.Errorf("upload_id contains a control character or space")
	}
	return nil
}

func checkToken(tok string) error {
	if tok == "" || len(tok) > MaxUploadIDBytes || !printable(tok) {
		return fmt.Errorf("finalize_token is missing or malformed")
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r <= 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func truncateText(s string) string {
	if len(s) > 48 {
		return s[:48] + "…"
	}
	return s
}

// MultipartUpload is the multipart part of a push.prepare answer.
type MultipartUpload struct {
	UploadID  string `json:"upload_id"`
	PartSize  int64  `json:"part_size"`
	PartCount int    `json:"part_count"`
	// Resumed: the upload of the offer's resume continues.
	Resumed bool `json:"resumed,omitempty"`
	// Uploaded lists the parts the store holds already (a resumed upload).
	Uploaded []UploadedPart `json:"uploaded,omitempty"`
	// Parts are upload targets for the first parts still to send.
	Parts []PartTarget `json:"parts,omitempty"`
}

// PartTarget is where one part goes.
type PartTarget struct {
	PartNumber int `json:"part_number"`
	TransferTarget
}

// UploadedPart is a part the store holds.
type UploadedPart struct {
	PartNumber int   `json:"part_number"`
	SizeBytes  int64 `json:"size_bytes"`
	// SHA256 is the store's base64 SHA-256 of the part ("" when it has none).
	SHA256 string `json:"sha256,omitempty"`
}

// PushPartsRequest asks for targets of more parts of a multipart upload.
type PushPartsRequest struct {
	RequestHeader
	Remote        string       `json:"remote"`
	Target        TargetConfig `json:"target"`
	FinalizeToken string       `json:"finalize_token"`
	UploadID      string       `json:"upload_id"`
	// PartNumbers are the parts to hand out targets for (at most the
	// adapter's max_part_urls).
	PartNumbers []int `json:"part_numbers,omitempty"`
	// ListUploaded asks for the parts the store holds, too.
	ListUploaded bool `json:"list_uploaded,omitempty"`
}

// Check refuses a request no adapter should have to read. Both sides run it.
func (r *PushPartsRequest) Check() error {
	if err := checkToken(r.FinalizeToken); err != nil {
		return err
	}
	if err := CheckUploadID(r.UploadID); err != nil {
		return err
	}
	if len(r.PartNumbers) == 0 && !r.ListUploaded {
		return fmt.Errorf("part_numbers is empty and list_uploaded is false: nothing to answer")
	}
	if len(r.PartNumbers) > MaxPartURLs {
		return fmt.Errorf("%d part numbers asked for at once (limit %d)", len(r.PartNumbers), MaxPartURLs)
	}
	seen := make(map[int]bool, len(r.PartNumbers))
	for _, n := range r.PartNumbers {
		if n < 1 || n > MaxMultipartParts {
			return fmt.Errorf("part number %d is out of 1..%d", n, MaxMultipartParts)
		}
		if seen[n] {
			return fmt.Errorf("part number %d is asked for twice", n)
		}
		seen[n] = true
	}
	return nil
}

// PushPartsResponse is the answer to push.parts.
type PushPartsResponse struct {
	ResponseHeader
	Parts    []PartTarget   `json:"parts"`
	Uploaded []UploadedPart `json:"uploaded,omitempty"`
}

// checkRequired checks a push.parts answer (CheckRequired).
func (r *PushPartsResponse) checkRequired([]byte) error {
	if err := checkPartTargets(r.Parts, 0); err != nil {
		return err
	}
	return checkUploaded(r.Uploaded, 0)
}

// checkMultipartAnswer checks the multipart object of a push.prepare answer
// that chose upload.method "multipart".
func checkMultipartAnswer(m *MultipartUpload) error {
	if m == nil {
		return fmt.Errorf(`upload.method is %q but the multipart object is missing`, MethodMultipart)
	}
	if err := CheckUploadID(m.UploadID); err != nil {
		return fmt.Errorf("multipart.%v", err)
	}
	if m.PartSize <= 0 {
		return fmt.Errorf("multipart.part_size must be positive, got %d", m.PartSize)
	}
	if m.PartCount <= 0 || m.PartCount > MaxMultipartParts {
		return fmt.Errorf("multipart.part_count %d is out of 1..%d", m.PartCount, MaxMultipartParts)
	}
	if err := checkPartTargets(m.Parts, m.PartCount); err != nil {
		return fmt.Errorf("multipart.%v", err)
	}
	return checkUploaded(m.Uploaded, m.PartCount)
}

// checkPartTargets refuses targets without a number in 1..count, a URL
// or a method, and a number given twice. count 0 means MaxMultipartParts.
func checkPartTargets(ts []PartTarget, count int) error {
	if count <= 0 {
		count = MaxMultipartParts
	}
	if len(ts) > MaxPartURLs {
		return fmt.Errorf("parts holds %d targets (limit %d)", len(ts), MaxPartURLs)
	}
	seen := make(map[int]bool, len(ts))
	for _, t := range ts {
		if t.PartNumber < 1 || t.PartNumber > count {
			return fmt.Errorf("parts: part_number %d is out of 1..%d", t.PartNumber, count)
		}
		if seen[t.PartNumber] {
			return fmt.Errorf("parts: part %d is given twice", t.PartNumber)
		}
		seen[t.PartNumber] = true
		if strings.TrimSpace(t.Method) == "" || t.URL == "" {
			return fmt.Errorf("parts: part %d has no method or url", t.PartNumber)
		}
	}
	return nil
}

func checkUploaded(us []UploadedPart, count int) error {
	seen := make(map[int]bool, len(us))
	for _, u := range us {
		if u.PartNumber < 1 || (count > 0 && u.PartNumber > count) || u.PartNumber > MaxMultipartParts {
			return fmt.Errorf("uploaded: part_number %d is out of range", u.PartNumber)
		}
		if seen[u.PartNumber] {
			return fmt.Errorf("uploaded: part %d is listed twice", u.PartNumber)
		}
		seen[u.PartNumber] = true
		if u.SizeBytes < 0 {
			return fmt.Errorf("uploaded: part %d has a negative size", u.PartNumber)
		}
	}
	return nil
}
