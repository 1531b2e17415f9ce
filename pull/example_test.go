package pull_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/lockfile"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pull"
	"github.com/evidencerelay/epack/push"
)

// examplePushed creates a throw-away project whose remote "local" is the
// filesystem adapter with its registry in ./registry, pins the adapter the
// way 'epack lock' does, and pushes one pack. It returns the project folder
// and the pushed pack's path; remove the folder when done.
func examplePushed() (string, string) {
	bin, err := e2e.Build(binDir)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "epack-example-")
	if err != nil {
		log.Fatal(err)
	}
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		log.Fatal(err)
	}
	yaml := fmt.Sprintf("stream: acme/prod\nremotes:\n  local:\n    binary: %s\n    transport:\n      file_root: %s\n",
		filepath.Join(bin, "epack-remote-filesystem"), filepath.Join(dir, "registry"))
	if err := os.WriteFile(filepath.Join(dir, "epack.yaml"), []byte(yaml), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "registry"), 0o755); err != nil {
		log.Fatal(err)
	}
	if _, err := lockfile.Lock(context.Background(), lockfile.LockOptions{ProjectDir: dir}); err != nil {
		log.Fatal(err)
	}
	b := pack.NewBuilder("acme/prod")
	if err := b.AddBytes("iam/users.json", []byte(`{"users":3}`)); err != nil {
		log.Fatal(err)
	}
	packPath := filepath.Join(dir, "acme-prod-built.epack")
	if _, err := b.WriteFile(context.Background(), packPath); err != nil {
		log.Fatal(err)
	}
	po := push.Options{ProjectDir: dir, Remote: "local", PackPath: packPath, Stderr: io.Discard}
	po.Secure.Frozen = true
	if _, err := push.Push(context.Background(), po); err != nil {
		log.Fatal(err)
	}
	return dir, packPath
}

// Pull the latest pack of the project's stream into a project that is not
// the working directory. The pack is downloaded beside the output, checked
// against the digest the registry announced, verified, and only then moved
// into place; with no Output it would be named after the stream.
func ExamplePull() {
	dir, pushed := examplePushed()
	defer os.RemoveAll(dir)

	opts := pull.Options{ProjectDir: dir, Remote: "local", Stderr: io.Discard}
	opts.Secure.Frozen = true
	res, err := pull.Pull(context.Background(), opts)
	if err != nil {
		log.Fatal(err)
	}
	got, _ := os.ReadFile(res.OutputPath)
	want, _ := os.ReadFile(pushed)
	rel, _ := filepath.Rel(dir, res.ReceiptPath)
	fmt.Println("output:", filepath.Base(res.OutputPath))
	fmt.Println("stream:", res.Stream, "verified:", res.Verified)
	fmt.Println("same bytes as pushed:", bytes.Equal(got, want))
	fmt.Println("receipt under:", filepath.Dir(rel))
	// Output:
	// output: acme-prod.epack
	// stream: acme/prod verified: true
	// same bytes as pushed: true
	// receipt under: .epack/receipts/pull/local
}
