// Command verifyfile runs pack.VerifyFile (what push uses: open, verify
// every artifact and compute the file SHA-256 and MD5, concurrently over one
// file descriptor) on a pack and prints the wall time and digests:
//
//	verifyfile <pack>
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/evidencerelay/epack/pack"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: verifyfile <pack>")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	start := time.Now()
	v, err := pack.VerifyFile(context.Background(), f, pack.VerifyOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%.3fs %s md5=%s size=%d artifacts=%d\n", time.Since(start).Seconds(), v.File.SHA256, v.File.MD5Base64, v.File.Size, len(v.Manifest.Artifacts))
}
