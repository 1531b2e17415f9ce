package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/evidencerelay/epack/internal/termtext"
	"github.com/evidencerelay/epack/remote"
)

// stepUI renders workflow steps and transfer progress on stderr: a spinner
// and a bar on a TTY, plain lines otherwise, nothing with --quiet or --json.
type stepUI struct {
	g        *Globals
	w        io.Writer
	tty      bool
	silent   bool
	barLabel string // "Uploading" / "Downloading"

	mu        sync.Mutex
	current   string
	stopSpin  chan struct{}
	spinDone  chan struct{}
	barActive bool
	lastPct   int
	lastPrint time.Time
}

func newStepUI(g *Globals, barLabel string) *stepUI {
	u := &stepUI{g: g, w: g.IO.ErrOut, barLabel: barLabel, lastPct: -1}
	u.silent = g.Quiet || g.JSON
	u.tty = !u.silent && !g.CI && g.IO.IsStderrTTY()
	return u
}

func (u *stepUI) prefix() string {
	if u.g.CI {
		return "[" + time.Now().Format("15:04:05") + "] "
	}
	return ""
}

// Step is the workflow's step callback.
func (u *stepUI) Step(name string, started bool) {
	if u.silent {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if started {
		u.stopSpinnerLocked()
		u.current = name
		if u.tty {
			u.startSpinnerLocked(name)
		} else {
			fmt.Fprintf(u.w, "%s%s...\n", u.prefix(), name)
		}
		return
	}
	u.stopSpinnerLocked()
	if u.barActive {
		u.barActive = false
		if u.tty {
			fmt.Fprint(u.w, "\r\x1b[K")
		}
	}
	fmt.Fprintf(u.w, "%s%s  %s\n", u.prefix(), u.g.okMark(), name)
	u.current = ""
}

// Progress is the transfer progress callback.
func (u *stepUI) Progress(written, total int64) {
	if u.silent {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.barActive {
		u.stopSpinnerLocked()
		u.barActive = true
	}
	pct := 0
	if total > 0 {
		pct = int(written * 100 / total)
	}
	if u.tty {
		const cells = 30
		filled := pct * cells / 100
		fmt.Fprintf(u.w, "\r\x1b[K  %s %s%s %s / %s", u.barLabel, strings.Repeat("█", filled),
			strings.Repeat("░", cells-filled), formatSize(written), formatSize(total))
		return
	}
	now := time.Now()
	if u.lastPct == -1 || (pct != u.lastPct && pct%25 == 0) || now.Sub(u.lastPrint) >= 5*time.Second && pct != u.lastPct {
		fmt.Fprintf(u.w, "%s%s (%d%%)\n", u.prefix(), u.barLabel, pct)
		u.lastPct = pct
		u.lastPrint = now
	}
}

// Fail marks the running step as failed (the error and its hint are
// printed once, by the command's error report).
func (u *stepUI) Fail() {
	if u.silent {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stopSpinnerLocked()
	if u.barActive && u.tty {
		fmt.Fprint(u.w, "\r\x1b[K")
	}
	label := u.current
	if label == "" {
		return
	}
	fmt.Fprintf(u.w, "%s%s  %s\n", u.prefix(), u.g.failMark(), label)
	u.current = ""
}

// Close stops any animation.
func (u *stepUI) Close() {
	u.mu.Lock()
	u.stopSpinnerLocked()
	u.mu.Unlock()
}

func (u *stepUI) startSpinnerLocked(name string) {
	stop, done := make(chan struct{}), make(chan struct{})
	u.stopSpin, u.spinDone = stop, done
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			u.mu.Lock()
			if !u.barActive {
				fmt.Fprintf(u.w, "\r\x1b[K%s %s", frames[i%len(frames)], name)
			}
			u.mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
}

// stopSpinnerLocked must be called with u.mu held; it releases the lock
// while waiting for the spinner goroutine.
func (u *stepUI) stopSpinnerLocked() {
	if u.stopSpin == nil {
		return
	}
	close(u.stopSpin)
	done := u.spinDone
	u.stopSpin, u.spinDone = nil, nil
	u.mu.Unlock()
	<-done
	u.mu.Lock()
	fmt.Fprint(u.w, "\r\x1b[K")
}

// formatDuration renders d as "<n>ms", "%.1fs" or "<m>m%.1fs".
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	m := int(d / time.Minute)
	return fmt.Sprintf("%dm%.1fs", m, (d - time.Duration(m)*time.Minute).Seconds())
}

// termSafe makes text that comes from adapters or registries safe to print
// on a terminal, keeping newlines and tabs (termtext.Block). Our own output
// (colours) never goes through it.
func termSafe(s string) string { return termtext.Block(s) }

// adapterText is how every piece of adapter-supplied text (release fields,
// identities, reasons, errors that quote the adapter) reaches the terminal:
// on one line with every control character escaped (termtext.Line), so an
// adapter can never start a line of its own and pass it off as epack's.
func adapterText(s string) string { return termtext.Line(s) }

// adapterSays marks free text as the adapter's words: `adapter says: "…"`,
// quoted and on one line (adapterText).
func adapterSays(s string) string {
	return `adapter says: "` + strings.ReplaceAll(adapterText(s), `"`, `\"`) + `"`
}

// adapterLink shows a link an adapter supplied only when it is a plain
// https URL (remote.HTTPSLink); anything else (javascript:, http:, file:,
// user info that disguises the host) is replaced by a note.
func adapterLink(s string) string {
	if l, ok := remote.HTTPSLink(s); ok {
		return adapterText(l)
	}
	return "(non-https link omitted)"
}
