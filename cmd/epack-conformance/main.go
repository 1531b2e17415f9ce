// Command epack-conformance runs the Evidence Pack conformance vectors:
//
//	epack-conformance <vectors-dir>
//
// It prints one JSON object per vector case (vector, valid, result, pass)
// and a last line "N passed, M failed". Skipped cases (optional features,
// inexpressible inputs) carry a "skipped" reason and are counted on stderr.
// The exit status is 0 only when every case behaved as its vector states.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/evidencerelay/epack/pack/conformance"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: epack-conformance <vectors-dir>")
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	sum, err := conformance.Run(os.Args[1], func(l conformance.Line) { enc.Encode(l) })
	if err != nil {
		w.Flush()
		fmt.Fprintln(os.Stderr, "epack-conformance:", err)
		os.Exit(2)
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", sum.Passed, sum.Failed)
	w.Flush()
	if sum.Skipped > 0 {
		fmt.Fprintf(os.Stderr, "%d optional or inexpressible cases skipped (see lines with \"skipped\")\n", sum.Skipped)
	}
	if sum.Failed > 0 {
		os.Exit(1)
	}
}
