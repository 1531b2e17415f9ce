package registry

import (
	"context"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// SeedRelease writes rel the way a push leaves it for releases.list — its
// record, its current copy and its listing index objects — straight through s, without the
// protocol (benchmarks and tests that need many releases fast).
func SeedRelease(ctx context.Context, s Store, rel *Release) error {
	sc, err := newScope(protocol.TargetConfig{Workspace: rel.Workspace, Environment: rel.Environment, Stream: rel.Stream}, true)
	if err != nil {
		return err
	}
	if err := s.CreateIfAbsent(ctx, sc.releaseKey(rel.ReleaseID), mustJSON(rel)); err != nil {
		return err
	}
	if err := s.CreateIfAbsent(ctx, sc.currentKey(rel.ReleaseID), mustJSON(rel)); err != nil {
		return err
	}
	return New(s, Options{}).indexListing(ctx, sc, rel, false)
}

// MarkListed writes the listing marker of a workspace and environment, as
// their first push does.
func MarkListed(ctx context.Context, s Store, workspace, environment string) error {
	sc, err := newScope(protocol.TargetConfig{Workspace: workspace, Environment: environment}, false)
	if err != nil {
		return err
	}
	return s.CreateIfAbsent(ctx, sc.listingMarkerKey(), mustJSON(listingMarker{Version: 1}))
}

// SetListScanBudget changes how many listing entries one releases.list call
// examines beyond its page, and returns a function restoring it.
func SetListScanBudget(n int) func() {
	old := listScanBudget
	listScanBudget = n
	return func() { listScanBudget = old }
}

// SetListMaxBytes changes how many bytes of releases one releases.list
// answer holds at most, and returns a function restoring it.
func SetListMaxBytes(n int) func() {
	old := listMaxBytes
	listMaxBytes = n
	return func() { listMaxBytes = old }
}

// SetBackfillBatch changes how many earlier releases one releases.list call
// indexes, and returns a function restoring it.
func SetBackfillBatch(n int) func() {
	old := backfillBatch
	backfillBatch = n
	return func() { backfillBatch = old }
}

// ParseRecordNameID returns the release id of a record name.
func ParseRecordNameID(name string) string {
	id, _, _ := ParseRecordName(name)
	return id
}

// SetLogPageBytes changes how many record bytes one log.read answer holds
// at most, and returns a function restoring it.
func SetLogPageBytes(n int) func() {
	old := logPageBytes
	logPageBytes = n
	return func() { logPageBytes = old }
}

// SetBlobsCheckBudget changes how long one blobs.check call may spend
// hashing, and returns a function restoring it.
func SetBlobsCheckBudget(d time.Duration) func() {
	old := blobsCheckBudget
	blobsCheckBudget = d
	return func() { blobsCheckBudget = old }
}
