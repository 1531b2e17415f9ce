package push_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/lockfile"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/push"
)

// exampleProject creates a throw-away project whose remote "local" is the
// filesystem adapter with its registry in ./registry, pins the adapter the
// way 'epack lock' does, and builds a pack in dist/. It returns the project
// folder and the pack path; remove the folder when done.
func exampleProject() (string, string) {
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
	packPath := filepath.Join(dir, "dist", "acme-prod.epack")
	if err := os.Mkdir(filepath.Dir(packPath), 0o755); err != nil {
		log.Fatal(err)
	}
	if _, err := b.WriteFile(context.Background(), packPath); err != nil {
		log.Fatal(err)
	}
	return dir, packPath
}

// Push a pack to a remote of a project that is not the working directory:
// ProjectDir names it, and a relative PackPath is taken relative to it.
// Frozen refuses any adapter that epack.lock.yaml does not pin.
func ExamplePush() {
	dir, _ := exampleProject()
	defer os.RemoveAll(dir)

	opts := push.Options{
		ProjectDir: dir,
		Remote:     "local",
		PackPath:   filepath.Join("dist", "acme-prod.epack"),
		Labels:     []string{"monthly", "soc2"},
		Stderr:     io.Discard,
	}
	opts.Secure.Frozen = true
	res, err := push.Push(context.Background(), opts)
	if err != nil {
		log.Fatal(err)
	}
	rel, _ := filepath.Rel(dir, res.ReceiptPath)
	fmt.Println("stream:", res.Target.Stream)
	fmt.Println("release created:", res.Release != nil && res.Release.ReleaseID != "")
	fmt.Println("receipt under:", filepath.Dir(rel))

	// The same bytes again: the registry has them, so nothing is uploaded.
	res, err = push.Push(context.Background(), opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("second upload skipped:", res.UploadSkipped)
	// Output:
	// stream: acme/prod
	// release created: true
	// receipt under: .epack/receipts/push/local
	// second upload skipped: true
}
