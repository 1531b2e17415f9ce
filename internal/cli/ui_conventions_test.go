package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func mib(n int64) int64 { return n << 20 }

func ttyUI(t *testing.T, width int) (*stepUI, *bytes.Buffer, *fakeClock) { return uiOn(t, true, width) }

// uiOn is a stepUI on test streams whose stderr is (tty) a terminal of the
// given width, on a fake clock.
func uiOn(t *testing.T, tty bool, width int) (*stepUI, *bytes.Buffer, *fakeClock) {
	t.Helper()
	t.Setenv("TERM", "xterm-256color")
	ios, _, _, errOut := NewTestIOStreams()
	ios.SetTTY(false, false, tty)
	ios.SetTerminalWidth(width)
	u := newStepUI(&Globals{IO: ios}, "Downloading")
	c := newFakeClock()
	u.now = c.now
	return u, errOut, c
}

// screenSegments splits terminal output into what each redraw leaves on
// its line: every "\r"-separated piece of every line, without the
// erase-line code.
func screenSegments(out string) []string {
	var segs []string
	for _, line := range strings.Split(out, "\n") {
		for _, seg := range strings.Split(line, "\r") {
			segs = append(segs, strings.ReplaceAll(seg, "\x1b[K", ""))
		}
	}
	return segs
}

// transfer reports a 200 MiB transfer at 100 MiB/s, ten calls.
func transfer(u *stepUI, c *fakeClock) {
	total := mib(200)
	for i := int64(0); i <= 10; i++ {
		u.Progress(total*i/10, total)
		c.add(200 * time.Millisecond)
	}
}

// TestProgressLineFitsEveryWidth draws the progress line at every width
// from 1 to 200 columns: it never reaches the last column (so it never
// wraps), and the bytes done and total survive down to narrow panes.
func TestProgressLineFitsEveryWidth(t *testing.T) {
	cases := []struct {
		label          string
		written, total int64
		rate           float64
	}{
		{"Downloading", mib(45), mib(200), 112.3 * (1 << 20)},
		{"Uploading", mib(1023), 3 << 30, 1 << 30},
		{"Downloading", 0, mib(300), -1},
		{"Uploading", mib(7), 0, 1 << 20},
		{"Downloading", mib(300), mib(300), 1 << 20},
	}
	for _, c := range cases {
		for w := 1; w <= 200; w++ {
			line := progressLine(c.label, c.written, c.total, c.rate, w)
			if n := utf8.RuneCountInString(line); n > max(w-1, 1) {
				t.Fatalf("width %d: %d columns: %q", w, n, line)
			}
			if strings.ContainsAny(line, "\r\n\x1b") {
				t.Fatalf("width %d: control characters in %q", w, line)
			}
			if w >= 50 && c.total > 0 && !strings.Contains(line, "/") {
				t.Errorf("width %d: no bytes done/total in %q", w, line)
			}
		}
	}
	wide := progressLine("Downloading", mib(45), mib(200), 112.3*(1<<20), 120)
	for _, want := range []string{"Downloading", "█", "░", "22%", "45.0 MB / 200.0 MB", "112.3 MB/s", "ETA 0:02"} {
		if !strings.Contains(wide, want) {
			t.Errorf("wide line lacks %q: %q", want, wide)
		}
	}
	narrow := progressLine("Downloading", mib(45), mib(200), 112.3*(1<<20), 50)
	for _, want := range []string{"Downloading", "45.0/200.0 MB", "MB/s", "ETA 0:02"} {
		if !strings.Contains(narrow, want) {
			t.Errorf("50-column line lacks %q: %q", want, narrow)
		}
	}
	if l := progressLine("Uploading", mib(7), 0, -1, 80); !strings.Contains(l, "7.0 MB") || strings.Contains(l, "ETA") {
		t.Errorf("unknown total: %q", l)
	}
}

// TestStepUIRedrawsInPlaceOnTTY checks a transfer drawn on a 50- and an
// 80-column terminal: every redraw fits the width, only the finished step
// ends a line (no stale progress line is left), the progress line shows
// bytes, rate and ETA, and the step's line says how much moved how fast.
func TestStepUIRedrawsInPlaceOnTTY(t *testing.T) {
	for _, tc := range []struct {
		width int
		done  string
	}{
		{50, "[OK]  Downloading pack  200.0 MB in 2.2s\n"},
		{80, "[OK]  Downloading pack  200.0 MB in 2.2s (90.9 MB/s)\n"},
	} {
		u, errOut, c := ttyUI(t, tc.width)
		u.Step("Downloading pack", true)
		transfer(u, c)
		u.Step("Downloading pack", false)
		u.Close()
		out := errOut.String()
		for _, seg := range screenSegments(out) {
			if n := utf8.RuneCountInString(seg); n >= tc.width {
				t.Errorf("width %d: a redraw of %d columns would wrap: %q", tc.width, n, seg)
			}
		}
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\r\x1b[K"+tc.done) {
			t.Errorf("width %d: the transfer must end in a cleared line and one finished line %q:\n%q", tc.width, tc.done, out)
		}
		var sawRate bool
		for _, seg := range screenSegments(out) {
			if strings.Contains(seg, "200.0 MB") && strings.Contains(seg, "MB/s") && strings.Contains(seg, "ETA ") {
				sawRate = true
			}
		}
		if !sawRate {
			t.Errorf("width %d: no redraw showed bytes done/total, rate and ETA:\n%q", tc.width, out)
		}
	}
}

// TestStepUIFailClearsTheProgressLine: a transfer that fails leaves no
// half-drawn progress line before the failed step's line.
func TestStepUIFailClearsTheProgressLine(t *testing.T) {
	u, errOut, c := ttyUI(t, 60)
	u.Step("Downloading pack", true)
	u.Progress(mib(10), mib(200))
	c.add(time.Second)
	u.Progress(mib(20), mib(200))
	u.Fail()
	u.Close()
	if out := errOut.String(); !strings.HasSuffix(out, "\r\x1b[K[FAIL]  Downloading pack\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("fail after progress:\n%q", out)
	}
	// Close alone (an error returned without Fail) clears the line too.
	u, errOut, _ = ttyUI(t, 60)
	u.Progress(mib(10), mib(200))
	u.Close()
	if out := errOut.String(); !strings.HasSuffix(out, "\r\x1b[K") {
		t.Fatalf("close after progress leaves the line drawn:\n%q", out)
	}
}

// TestStepUIPlainOffTerminal: with stderr not a terminal, progress is
// plain lines with no carriage return or escape code.
func TestStepUIPlainOffTerminal(t *testing.T) {
	u, errOut, c := uiOn(t, false, 50)
	u.Step("Downloading pack", true)
	transfer(u, c)
	u.Step("Downloading pack", false)
	u.Close()
	out := errOut.String()
	if strings.ContainsAny(out, "\r\x1b") {
		t.Fatalf("control characters off a terminal:\n%q", out)
	}
	want := "Downloading pack...\nDownloading (0%)\nDownloading (50%)\nDownloading (100%)\n[OK]  Downloading pack\n"
	if out != want {
		t.Fatalf("plain output:\n%q\nwant\n%q", out, want)
	}
}

// TestStepUIPlainForDumbTerminal: TERM=dumb turns redrawing and colour
// off even on a terminal.
func TestStepUIPlainForDumbTerminal(t *testing.T) {
	t.Setenv("TERM", "dumb")
	var errOut bytes.Buffer
	ios := NewIOStreams(strings.NewReader(""), &bytes.Buffer{}, &errOut)
	ios.SetTTY(true, true, true)
	ios.SetColorEnabled(true)
	if ios.CanAnimate() || ios.ColorEnabled() {
		t.Fatalf("TERM=dumb: CanAnimate %v, ColorEnabled %v", ios.CanAnimate(), ios.ColorEnabled())
	}
	g := &Globals{IO: ios}
	u := newStepUI(g, "Uploading")
	u.Step("Uploading pack", true)
	u.Progress(0, mib(1))
	u.Progress(mib(1), mib(1))
	u.Step("Uploading pack", false)
	u.Close()
	if out := errOut.String(); strings.ContainsAny(out, "\r\x1b") || !strings.Contains(out, "Uploading (100%)\n[OK]  Uploading pack\n") {
		t.Fatalf("TERM=dumb output:\n%q", out)
	}
	t.Setenv("TERM", "xterm")
	ios = NewIOStreams(strings.NewReader(""), &bytes.Buffer{}, &errOut)
	ios.SetTTY(true, true, true)
	if !ios.CanAnimate() {
		t.Fatal("a terminal with TERM=xterm should animate")
	}
}

// TestTerminalWidth: a fake width wins; a stream that is not a terminal
// falls back to $COLUMNS, then to 80.
func TestTerminalWidth(t *testing.T) {
	ios, _, _, _ := NewTestIOStreams()
	for _, tc := range []struct {
		columns string
		want    int
	}{{"37", 37}, {"", 80}, {"wide", 80}, {"-3", 80}} {
		t.Setenv("COLUMNS", tc.columns)
		if got := ios.TerminalWidth(); got != tc.want {
			t.Errorf("COLUMNS=%q: width %d, want %d", tc.columns, got, tc.want)
		}
	}
	ios.SetTerminalWidth(50)
	if got := ios.TerminalWidth(); got != 50 {
		t.Errorf("fake width: %d", got)
	}
}

func TestFormatETA(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0:00", 1500 * time.Millisecond: "0:02", 59 * time.Second: "0:59", 61 * time.Second: "1:01",
		time.Hour + 2*time.Minute + 3*time.Second: "1:02:03",
	} {
		if got := formatETA(d); got != want {
			t.Errorf("formatETA(%v) = %q, want %q", d, got, want)
		}
	}
}
