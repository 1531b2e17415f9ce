package transfer

import (
	"sync"
	"time"
)

// progressEvery is the minimum time between two progress calls, unless a
// whole percent has passed.
const progressEvery = 100 * time.Millisecond

// progress throttles a caller's progress callback: a call when 100 ms have
// passed or another whole percent of total is done, and always a final call.
// Calls are serialised.
type progress struct {
	fn    func(written, total int64)
	total int64
	now   func() time.Time // the clock; tests set a fixed one

	mu      sync.Mutex
	last    time.Time
	lastPct int64
	lastN   int64
}

func newProgress(fn func(written, total int64), total int64) *progress {
	return &progress{fn: fn, total: total, lastPct: -1, lastN: -1, now: time.Now}
}

func (p *progress) setTotal(total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.total = total
	p.mu.Unlock()
}

// report is called with the running byte count.
func (p *progress) report(written int64) {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	pct := int64(-1)
	if p.total > 0 {
		pct = written * 100 / p.total
	}
	if now.Sub(p.last) < progressEvery && (pct < 0 || pct <= p.lastPct) {
		return
	}
	p.last, p.lastPct, p.lastN = now, pct, written
	p.fn(written, p.total)
}

// final reports the finished count, once, unless it was just reported.
func (p *progress) final(written int64) {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastN == written && p.lastPct == 100 {
		return
	}
	p.lastN = written
	p.lastPct = 100
	p.fn(written, p.total)
}
