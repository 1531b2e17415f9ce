package workflow

import "github.com/evidencerelay/epack/errcode"

// ReceiptFailed is the error for a receipt that could not be written after
// the operation's effect exists (a release was created, a pack was saved):
// outcome says what exists, so the user knows not to redo it. hintDir, when
// set, is the receipts folder the hint points at; a precise hint from the
// write (a symbolic link, say) is kept instead.
func ReceiptFailed(err error, hintDir, outcome string) error {
	e := errcode.Wrap(errcode.IOError, err, "%s but its receipt could not be written", outcome)
	if hintDir != "" && errcode.HintOf(err) == "" {
		e = e.WithHint("check permissions and free space under %s", hintDir)
	}
	return e
}
