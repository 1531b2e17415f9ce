package push

import (
	"context"
	"fmt"

	"github.com/evidencerelay/epack/internal/retry"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
)

type syncInput struct {
	packPath, cwd, fileDigest string
	target                    protocol.TargetConfig
	patterns, extra           []string
	maxBatch                  int
}

// syncRuns sends run results in batches of at most maxBatch and records what
// was synced and what failed in res. It returns the first call error.
func syncRuns(ctx context.Context, s *remote.Session, in syncInput, res *Result) error {
	runs, skipped := discoverRuns(pack.SidecarPath(in.packPath), in.cwd, in.patterns, in.extra)
	for _, sk := range skipped {
		id := sk.RunID
		if id == "" {
			id = sk.Path
		}
		res.FailedRuns = append(res.FailedRuns, id)
		res.FailedOutputs = append(res.FailedOutputs, protocol.FailedOutput{RunID: sk.RunID, Path: sk.Path, Reason: sk.Reason})
	}
	batch := in.maxBatch
	if batch <= 0 {
		batch = 100
	}
	before := *res
	var firstErr error
	for start := 0; start < len(runs); start += batch {
		end := min(start+batch, len(runs))
		chunk := runs[start:end]
		var resp *protocol.RunsSyncResponse
		err := retry.Do(ctx, workflow.AdapterRetry, func(int) error {
			var err error
			resp, err = s.RunsSync(ctx, &protocol.RunsSyncRequest{
				Target: in.target, FileDigest: in.fileDigest, PackPath: in.packPath, Runs: chunk,
			})
			return err
		})
		if err != nil && start == 0 && remote.IsUnsupported(err) {
			// Nothing was sent: the adapter does not do run sync at all.
			res.SyncedRuns, res.FailedRuns, res.FailedOutputs = before.SyncedRuns, before.FailedRuns, before.FailedOutputs
			return &runSyncUnsupported{runs: len(runs), err: err}
		}
		if err != nil {
			for _, r := range chunk {
				res.FailedRuns = append(res.FailedRuns, r.RunID)
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("runs.sync failed: %w", err)
			}
			continue
		}
		status := map[string]string{}
		for _, it := range resp.Items {
			status[it.RunID] = it.Status
		}
		for _, r := range chunk {
			switch status[r.RunID] {
			case protocol.RunAccepted, protocol.RunDuplicate:
				res.SyncedRuns = append(res.SyncedRuns, r.RunID)
			default:
				res.FailedRuns = append(res.FailedRuns, r.RunID)
			}
		}
		res.FailedOutputs = append(res.FailedOutputs, resp.FailedOutputs...)
	}
	if firstErr == nil && len(res.FailedRuns) > 0 {
		firstErr = fmt.Errorf("%d run(s) were not accepted: %v", len(res.FailedRuns), res.FailedRuns)
	}
	return firstErr
}
