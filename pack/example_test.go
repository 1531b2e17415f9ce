package pack_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack"
)

// Build a pack from evidence in memory: every artifact gets its digest and
// size in the manifest, and the pack is written atomically.
func ExampleBuilder() {
	dir, err := os.MkdirTemp("", "epack-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	b := pack.NewBuilder("acme/prod").AddSource("aws-collector", "1.2.0")
	if err := b.AddBytes("iam/users.json", []byte(`{"users":3}`), pack.ArtifactOptions{ContentType: "application/json"}); err != nil {
		log.Fatal(err)
	}
	res, err := b.WriteFile(context.Background(), filepath.Join(dir, "acme.epack"))
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range res.Manifest.Artifacts {
		fmt.Println(a.Path, a.Size, a.Digest)
	}
	// Output: artifacts/iam/users.json 11 sha256:19ccf24d564b8bf92114ac4986c3369a4ca37e5e41714e1dd6ac37daaac30aff
}

// Open a pack (every ZIP-safety rule and the strict manifest checks run
// here), then verify every artifact's digest and the pack digest.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "epack-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "acme.epack")
	b := pack.NewBuilder("acme/prod")
	if err := b.AddBytes("report.txt", []byte("all controls pass\n")); err != nil {
		log.Fatal(err)
	}
	if _, err := b.WriteFile(context.Background(), path); err != nil {
		log.Fatal(err)
	}

	p, err := pack.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	if err := p.VerifyIntegrity(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Manifest().Stream, len(p.Artifacts()), "artifact(s) verified")
	// Output: acme/prod 1 artifact(s) verified
}

// A file that is not a pack is refused with a stable code, so a program can
// tell a hostile or broken pack from an I/O problem without reading text.
func ExampleOpen_errors() {
	dir, err := os.MkdirTemp("", "epack-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "not-a-pack.epack")
	if err := os.WriteFile(path, []byte("hello"), 0o644); err != nil {
		log.Fatal(err)
	}
	_, err = pack.Open(path)
	fmt.Println(errors.Is(err, errcode.Sentinel(errcode.NotAZip)), errcode.Of(err))
	// Output: true invalid_zip
}
