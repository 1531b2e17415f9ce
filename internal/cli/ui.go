package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/evidencerelay/epack/internal/termtext"
	"github.com/evidencerelay/epack/remote"
)

// stepUI renders workflow steps and transfer progress on stderr: a spinner
// and a progress line redrawn in place when stderr can animate (a terminal,
// TERM not dumb, not CI), plain lines otherwise, nothing with --quiet or
// --json.
//
// A redrawn line never reaches the terminal's last column (it is cut to
// IOStreams.TerminalWidth, measured at every draw), so it cannot wrap and
// leave a stale copy of itself behind, and it is cleared before any other
// line is written.
type stepUI struct {
	g        *Globals
	w        io.Writer
	tty      bool // draw in place: spinner and progress line
	silent   bool
	barLabel string // "Uploading" / "Downloading"
	now      func() time.Time
	width    func() int

	mu        sync.Mutex
	current   string
	stopSpin  chan struct{}
	spinDone  chan struct{}
	barActive bool
	barStart  time.Time // first progress call of the current transfer
	barFrom   int64     // bytes already done at that call
	written   int64     // last reported bytes done
	total     int64     // last reported total (0: unknown)
	lastPct   int
	lastPrint time.Time
}

func newStepUI(g *Globals, barLabel string) *stepUI {
	u := &stepUI{g: g, w: g.IO.ErrOut, barLabel: barLabel, lastPct: -1, now: time.Now, width: g.IO.TerminalWidth}
	u.silent = g.Quiet || g.JSON
	u.tty = !u.silent && !g.CI && g.IO.CanAnimate()
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
		u.endBarLocked()
		u.current = name
		if u.tty {
			u.startSpinnerLocked(name)
		} else {
			fmt.Fprintf(u.w, "%s%s...\n", u.prefix(), name)
		}
		return
	}
	u.stopSpinnerLocked()
	summary := ""
	if u.barActive && u.tty {
		summary = u.summaryLocked(name)
	}
	u.endBarLocked()
	fmt.Fprintf(u.w, "%s%s  %s%s\n", u.prefix(), u.g.okMark(), name, summary)
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
		u.barStart, u.barFrom, u.lastPct = u.now(), written, -1
	}
	u.written, u.total = written, total
	pct := 0
	if total > 0 {
		pct = int(written * 100 / total)
	}
	if u.tty {
		rate := -1.0
		if el := u.now().Sub(u.barStart); el >= 250*time.Millisecond && written > u.barFrom {
			rate = float64(written-u.barFrom) / el.Seconds()
		}
		fmt.Fprint(u.w, "\r"+progressLine(u.barLabel, written, total, rate, u.width())+"\x1b[K")
		return
	}
	now := u.now()
	if u.lastPct == -1 || (pct != u.lastPct && pct%25 == 0) || now.Sub(u.lastPrint) >= 5*time.Second && pct != u.lastPct {
		fmt.Fprintf(u.w, "%s%s (%d%%)\n", u.prefix(), u.barLabel, pct)
		u.lastPct = pct
		u.lastPrint = now
	}
}

// summaryLocked is what the finished step's line adds after a transfer
// drawn in place: "  <size> in <time> (<rate>)", shortened or left out so
// the line fits the terminal. Nothing when no byte moved (an upload the
// registry already had).
func (u *stepUI) summaryLocked(name string) string {
	moved := u.written - u.barFrom
	el := u.now().Sub(u.barStart)
	if moved <= 0 || el <= 0 {
		return ""
	}
	mark := "[OK]"
	if u.g.IO.ColorEnabled() {
		mark = "✓"
	}
	room := u.width() - 1 - utf8.RuneCountInString(mark+"  "+name)
	long := fmt.Sprintf("  %s in %s (%s)", formatSize(u.written), formatDuration(el), formatRate(float64(moved)/el.Seconds()))
	short := fmt.Sprintf("  %s in %s", formatSize(u.written), formatDuration(el))
	switch {
	case utf8.RuneCountInString(long) <= room:
		return long
	case utf8.RuneCountInString(short) <= room:
		return short
	}
	return ""
}

// endBarLocked forgets the transfer, clearing its line from a terminal.
func (u *stepUI) endBarLocked() {
	if !u.barActive {
		return
	}
	u.barActive = false
	if u.tty {
		fmt.Fprint(u.w, "\r\x1b[K")
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
	u.endBarLocked()
	label := u.current
	if label == "" {
		return
	}
	fmt.Fprintf(u.w, "%s%s  %s\n", u.prefix(), u.g.failMark(), label)
	u.current = ""
}

// Close stops any animation and clears its line.
func (u *stepUI) Close() {
	u.mu.Lock()
	u.stopSpinnerLocked()
	u.endBarLocked()
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
				fmt.Fprint(u.w, "\r"+fitColumns(frames[i%len(frames)]+" "+name, u.width()-1)+"\x1b[K")
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

// progressLine is the transfer line drawn in place, at most width-1
// columns (the last column is left free: writing there makes some
// terminals wrap). Wide:
//
//	"  Uploading  ██████░░░░  45%   90.0 MB / 200.0 MB   112.3 MB/s  ETA 0:01"
//
// and, as the width shrinks, without the bar, then tighter, then without
// the percentage, the rate, the ETA and the label, the bytes done and total
// last of all. Numbers are padded to the width they will reach, so the
// layout chosen for a width stays the same for the whole transfer. rate is
// in bytes per second, negative while unknown; total 0 is unknown (only the
// bytes done and the rate are shown then).
func progressLine(label string, written, total int64, rate float64, width int) string {
	room := max(width-1, 1)
	pct, eta := "", ""
	rateText := fmt.Sprintf("%11s", "--/s")
	if rate > 0 {
		rateText = fmt.Sprintf("%11s", formatRate(rate))
	}
	if total > 0 {
		pct = fmt.Sprintf("%3d%%", min(written, total)*100/total)
		eta = "ETA --:--"
		if rate > 0 {
			eta = "ETA " + formatETA(time.Duration(float64(max(total-written, 0))/rate*float64(time.Second)))
		}
	}
	type layout struct {
		indent, sep                        string
		label, bar, pct, rate, eta, narrow bool
	}
	layouts := []layout{
		{"  ", "  ", true, true, true, true, true, false},
		{"  ", "  ", true, false, true, true, true, false},
		{"", " ", true, false, true, true, true, true},
		{"", " ", true, false, false, true, true, true},
		{"", " ", true, false, false, false, true, true},
		{"", " ", true, false, false, false, false, true},
		{"", " ", false, false, false, false, false, true},
	}
	var line string
	for _, l := range layouts {
		var parts []string
		add := func(on bool, s string) {
			if on && s != "" {
				parts = append(parts, s)
			}
		}
		add(l.label, label)
		barAt := len(parts)
		add(l.pct, pct)
		add(true, bytesDone(written, total, l.narrow))
		add(l.rate, rateText)
		add(l.eta, eta)
		line = l.indent + strings.Join(parts, l.sep)
		if l.bar {
			if total <= 0 {
				continue
			}
			cells := min(30, room-utf8.RuneCountInString(line)-len(l.sep))
			if cells < 10 {
				continue
			}
			filled := int(min(written, total) * int64(cells) / total)
			bar := strings.Repeat("█", filled) + strings.Repeat("░", cells-filled)
			parts = append(parts[:barAt], append([]string{bar}, parts[barAt:]...)...)
			line = l.indent + strings.Join(parts, l.sep)
		}
		if utf8.RuneCountInString(line) <= room {
			return line
		}
	}
	return fitColumns(strings.TrimLeft(line, " "), room)
}

// bytesDone is " 90.0 MB / 200.0 MB", or narrow " 90.0/200.0 MB" (the
// bytes done in the total's unit), the bytes done padded to the total's
// width; just the bytes done when the total is unknown.
func bytesDone(written, total int64, narrow bool) string {
	if total <= 0 {
		return formatSize(written)
	}
	t := formatSize(total)
	pad := func(s, like string) string {
		return strings.Repeat(" ", max(len(like)-len(s), 0)) + s
	}
	if narrow {
		tn, unit, _ := strings.Cut(t, " ")
		wn := strconv.FormatInt(written, 10)
		if unit != "B" {
			div := map[string]float64{"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[unit]
			wn = fmt.Sprintf("%.1f", float64(written)/div)
		}
		return pad(wn, tn) + "/" + tn + " " + unit
	}
	return pad(formatSize(written), t) + " / " + t
}

// formatRate renders bytes per second as "112.3 MB/s".
func formatRate(bps float64) string { return formatSize(int64(bps)) + "/s" }

// formatETA renders d, rounded up to a second, as "m:ss" or "h:mm:ss".
func formatETA(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// fitColumns cuts s to at most n characters (every character epack draws
// in place takes one column).
func fitColumns(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
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
