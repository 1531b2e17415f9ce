package cli

import (
	"bytes"
	"io"
	"os"
	"strconv"

	"golang.org/x/term"
)

// IOStreams are the command's standard streams with the terminal decisions
// made about them once: which streams are terminals, and whether colour is
// used. Commands write through it and never look at os.Stdout themselves,
// so a test runs any command on buffers (NewTestIOStreams).
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY, outTTY, errTTY bool
	color                 bool
	// dumb is TERM=dumb: a terminal that cannot move the cursor or show
	// colour, so nothing is redrawn and no escape code is written.
	dumb bool
	// width, when positive, replaces the measured terminal width (tests).
	width int
}

// NewIOStreams wraps the given streams, detecting which are terminals.
// Colour starts on when both output streams are terminals and TERM is not
// "dumb"; the root command turns it off for --no-color, NO_COLOR and CI mode.
func NewIOStreams(in io.Reader, out, errOut io.Writer) *IOStreams {
	s := &IOStreams{In: in, Out: out, ErrOut: errOut, inTTY: isTTY(in), outTTY: isTTY(out), errTTY: isTTY(errOut)}
	s.dumb = os.Getenv("TERM") == "dumb"
	s.color = s.outTTY && s.errTTY && !s.dumb
	return s
}

// SystemIOStreams is the process's stdin, stdout and stderr.
func SystemIOStreams() *IOStreams { return NewIOStreams(os.Stdin, os.Stdout, os.Stderr) }

// NewTestIOStreams returns streams on buffers: no terminal, no colour.
func NewTestIOStreams() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsStdinTTY reports whether In is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// IsStdoutTTY reports whether Out is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether ErrOut is a terminal (progress bars and
// spinners are drawn only then).
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// SetTTY overrides the terminal detection (tests of TTY behaviour).
func (s *IOStreams) SetTTY(in, out, errOut bool) { s.inTTY, s.outTTY, s.errTTY = in, out, errOut }

// CanAnimate reports whether progress may be drawn in place on stderr
// (carriage returns, line clearing): stderr is a terminal and TERM is not
// "dumb". Otherwise progress is written as plain lines.
func (s *IOStreams) CanAnimate() bool { return s.errTTY && !s.dumb }

// TerminalWidth is the width in columns that a line redrawn on stderr must
// stay within: the size of the stderr terminal, else $COLUMNS, else 80. It
// is measured on every call, so a resized window is followed.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	if f, ok := s.ErrOut.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

// SetTerminalWidth fixes the width TerminalWidth reports (tests of
// terminal output); 0 measures again.
func (s *IOStreams) SetTerminalWidth(columns int) { s.width = columns }

// ColorEnabled reports whether output may carry ANSI colours.
func (s *IOStreams) ColorEnabled() bool { return s.color }

// SetColorEnabled turns colour on or off. It stays off for TERM=dumb.
func (s *IOStreams) SetColorEnabled(on bool) { s.color = on && !s.dumb }

// CanPrompt reports whether a question can be asked and answered: both
// stdin and stderr are terminals.
func (s *IOStreams) CanPrompt() bool { return s.inTTY && s.errTTY }

// isTTY reports whether v is a terminal file.
func isTTY(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
