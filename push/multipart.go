package push

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/transfer"
)

// multipartRun is the multipart side of one push. An adapter that announces
// features.multipart_upload is offered the pack in parts once it reaches the
// adapter's threshold: the verification pass then also hashes every part
// (SHA-256 and, unless the adapter's part_checksums leave it out, MD5, for
// the store to check each part) instead of the whole file's MD5, push.prepare carries the parts, and an answer choosing the
// multipart upload is sent part by part, in parallel, straight to the store.
//
// The upload's state (transfer.UploadState) is kept under .epack/uploads/
// while it runs. The same push run again after an interruption verifies the
// file again; when its digest is the one recorded, push.prepare names the
// interrupted upload and the adapter says which parts the store holds: only
// the others are sent. A file that changed is never resumed: its state is
// dropped and the upload starts over.
type multipartRun struct {
	hasher    *transfer.PartHasher
	tee       *verifyTee
	partSize  int64
	limits    protocol.MultipartLimits
	parts     []protocol.PartChecksum
	offer     *protocol.MultipartOffer
	states    transfer.UploadStates
	stateName string
	prior     *transfer.UploadState
	resumed   bool // BytesResumed is set (by the first answer)
}

// verifyTee hands the verification pass's bytes to the staged copy and the
// part hasher, keeping their failures apart: either may fail alone.
type verifyTee struct {
	staged, parts       io.Writer
	stagedErr, partsErr error
}

func (t *verifyTee) Write(p []byte) (int, error) {
	if t.staged != nil && t.stagedErr == nil {
		_, t.stagedErr = t.staged.Write(p)
	}
	if t.parts != nil && t.partsErr == nil {
		_, t.partsErr = t.parts.Write(p)
	}
	return len(p), nil
}

// verifyOptions starts the part hasher for the pass that is about to begin
// (its part size is decided once the adapter's capabilities are known) and
// returns the pass's options.
func (m *multipartRun) verifyOptions(ctx context.Context, size int64, staged io.Writer) pack.VerifyOptions {
	m.hasher = transfer.NewPartHasher(ctx, size)
	m.tee = &verifyTee{staged: staged, parts: m.hasher}
	return pack.VerifyOptions{CopyTo: m.tee, SkipMD5: func() bool { return !m.hasher.WantWholeMD5() }}
}

// decide fixes the part size once the adapter is open: none (single upload)
// unless the adapter takes parts and the pack reaches its threshold. A part
// size of an interrupted push of the same file to the same remote is kept,
// so that its parts can be resumed.
func (m *multipartRun) decide(r *run) error {
	caps := r.caps
	lim := caps.Limits.Multipart
	if !caps.Features.MultipartUpload || lim == nil || r.size <= 0 || r.size < lim.ThresholdBytes {
		if caps.Features.NoFileChecksum {
			m.hasher.DecideNoMD5()
		} else {
			m.hasher.Decide(0)
		}
		return nil
	}
	m.limits = *lim
	m.states = transfer.UploadStates{ProjectRoot: r.env.Root}
	m.stateName = transfer.StateName(r.opts.Remote, r.packPath)
	prior, err := m.states.Load(m.stateName)
	if err != nil {
		fmt.Fprintf(r.stderr, "Warning: %v; the upload starts over\n", err)
		_ = m.states.Remove(m.stateName)
	}
	m.prior = prior
	want := r.opts.PartSize
	if want == 0 && prior != nil && prior.SizeBytes == r.size && prior.Remote == r.opts.Remote && lim.CheckPartSize(prior.PartSize, r.size) == nil {
		want = prior.PartSize
	}
	ps, err := transfer.ChoosePartSize(r.size, *lim, want)
	if err != nil {
		m.hasher.Decide(0)
		if r.opts.PartSize > 0 {
			return err
		}
		return nil
	}
	m.partSize = ps
	if lim.WantsPartMD5() {
		m.hasher.Decide(ps)
	} else {
		m.hasher.DecideSHA256(ps)
	}
	return nil
}

// collect takes the parts' checksums from the finished verification pass.
func (m *multipartRun) collect() error {
	if m.partSize == 0 {
		return nil
	}
	if m.tee.partsErr != nil {
		return errcode.Wrap(errcode.IOError, m.tee.partsErr, "hashing the pack's parts")
	}
	parts, err := m.hasher.Parts()
	if err != nil {
		return err
	}
	m.parts = parts
	return nil
}

// buildOffer makes the push.prepare offer, naming the interrupted upload of
// this very file when there is one.
func (m *multipartRun) buildOffer(r *run) {
	if m.partSize == 0 {
		return
	}
	m.offer = &protocol.MultipartOffer{PartSize: m.partSize, Parts: m.parts}
	p := m.prior
	if p == nil {
		return
	}
	if p.Matches(r.opts.Remote, r.target, r.verified.File.SHA256, r.size, m.partSize) {
		m.offer.Resume = &protocol.MultipartResume{UploadID: p.UploadID, FinalizeToken: p.FinalizeToken}
		return
	}
	if p.FileDigest != r.verified.File.SHA256 {
		fmt.Fprintf(r.stderr, "The pack changed since its interrupted upload (%s, now %s): not resuming, the upload starts over.\n", p.FileDigest, r.verified.File.SHA256)
	} else {
		fmt.Fprintf(r.stderr, "The interrupted upload of this pack went elsewhere or in other parts: not resuming, the upload starts over.\n")
	}
	_ = m.states.Remove(m.stateName)
	m.prior = nil
}

// done forgets the upload's state once the release exists (or the pack
// went some other way).
func (m *multipartRun) done() {
	if m.stateName != "" {
		_ = m.states.Remove(m.stateName)
	}
}

// upload sends the parts the answer in r.prep leaves to send.
func (m *multipartRun) upload(ctx context.Context, r *run, client *transfer.Client) error {
	ans := r.prep.Multipart
	if m.offer == nil || ans == nil {
		return errcode.New(errcode.ProtocolMismatch, "adapter answered a multipart upload that was not offered")
	}
	if ans.PartSize != m.partSize || ans.PartCount != len(m.parts) {
		return errcode.New(errcode.ProtocolMismatch, "adapter answered parts of %d bytes (%d parts); the offer was %d parts of %d bytes",
			ans.PartSize, ans.PartCount, len(m.parts), m.partSize)
	}
	if m.offer.Resume != nil && !ans.Resumed && !m.resumed {
		fmt.Fprintf(r.stderr, "The interrupted upload no longer exists on the remote: the upload starts over.\n")
	}
	skip := map[int]bool{}
	var finished []protocol.PartChecksum
	var resumedBytes int64
	for _, u := range ans.Uploaded {
		if u.PartNumber < 1 || u.PartNumber > len(m.parts) {
			continue
		}
		p := m.parts[u.PartNumber-1]
		if u.SizeBytes == p.SizeBytes && u.SHA256 == p.SHA256 {
			skip[p.PartNumber] = true
			finished = append(finished, p)
			resumedBytes += p.SizeBytes
		}
	}
	if !m.resumed {
		r.result.BytesResumed = resumedBytes
		m.resumed = true
	}
	now := time.Now().UTC()
	st := &transfer.UploadState{
		Remote: r.opts.Remote, Target: r.target, PackPath: r.packPath,
		FileDigest: r.verified.File.SHA256, SizeBytes: r.size, PartSize: m.partSize,
		UploadID: ans.UploadID, FinalizeToken: r.prep.FinalizeToken, Finished: finished,
		CreatedAt: now, UpdatedAt: now,
	}
	if m.prior != nil && m.prior.UploadID == ans.UploadID && !m.prior.CreatedAt.IsZero() {
		st.CreatedAt = m.prior.CreatedAt
	}
	// Later prepares (an expired URL) continue this upload.
	m.offer.Resume = &protocol.MultipartResume{UploadID: ans.UploadID, FinalizeToken: r.prep.FinalizeToken}
	// The upload is recorded before its first part is sent: a push killed
	// at any point after this can be resumed.
	if err := m.states.Save(m.stateName, st); err != nil {
		fmt.Fprintf(r.stderr, "Warning: the upload state could not be saved (%v): an interrupted push would start over.\n", err)
	}
	w := transfer.NewStateWriter(m.states, m.stateName, st)
	token, uploadID := r.prep.FinalizeToken, ans.UploadID
	res, err := client.UploadParts(ctx, transfer.PartsRequest{
		Policy: r.env.Policy, Body: r.file, PartSize: m.partSize, Parts: m.parts,
		Skip: skip, Targets: ans.Parts, Batch: m.limits.URLBatch(), Parallel: r.opts.Parallel,
		// The store checks every part against the checksums of the
		// verified bytes (part_checksums), and push.finalize checks the
		// completed object against them: the parts are not hashed again.
		RehashParts: false,
		Fetch: func(ctx context.Context, numbers []int) ([]protocol.PartTarget, error) {
			resp, err := workflow.Call(ctx, protocol.CmdPushParts, func(ctx context.Context) (*protocol.PushPartsResponse, error) {
				return r.session.PushParts(ctx, &protocol.PushPartsRequest{
					Remote: r.opts.Remote, Target: r.target, FinalizeToken: token, UploadID: uploadID, PartNumbers: numbers,
				})
			})
			if err != nil {
				return nil, err
			}
			return resp.Parts, nil
		},
		OnPart: func(p protocol.PartChecksum) {
			w.Update(func(st *transfer.UploadState) { st.Finished = append(st.Finished, p) })
		},
		Progress: r.opts.OnUploadProgress,
	})
	r.result.BytesSent += res.BytesSent
	if res.Throttled > 0 {
		fmt.Fprintf(r.stderr, "The store throttled %d part uploads; parallelism went down to %d.\n", res.Throttled, res.MinParallel)
	}
	if werr := w.Close(); werr != nil && err == nil {
		fmt.Fprintf(r.stderr, "Warning: the upload state could not be saved (%v): an interrupted push would start over.\n", werr)
	}
	return err
}
