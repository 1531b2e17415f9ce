// Command genpacks writes the benchmark packs used by bench/verify.sh:
//
//	genpacks <out-dir>
//
// big.epack:  11 artifacts of random data, 93 MiB each (about 1 GiB)
// many.epack: 5,000 JSON artifacts of about 2 KB
// tiny.epack: one small JSON artifact
//
// Data is pseudo-random from a fixed seed, so runs are repeatable. Existing
// packs are kept; delete them to regenerate.
package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/pack"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genpacks <out-dir>")
		os.Exit(2)
	}
	out := os.Args[1]
	if err := os.MkdirAll(out, 0o755); err != nil {
		fail(err)
	}
	gen(filepath.Join(out, "tiny.epack"), func(b *pack.Builder, write func() error) error { return then(tiny(b), write) })
	gen(filepath.Join(out, "many.epack"), func(b *pack.Builder, write func() error) error { return then(many(b), write) })
	gen(filepath.Join(out, "big.epack"), func(b *pack.Builder, write func() error) error { return big(b, out, write) })
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "genpacks:", err)
	os.Exit(1)
}

// gen builds one pack unless it exists; fill adds artifacts and calls write.
func gen(path string, fill func(b *pack.Builder, write func() error) error) {
	if _, err := os.Stat(path); err == nil {
		fmt.Println("exists:", path)
		return
	}
	b := pack.NewBuilder("bench/" + strings.TrimSuffix(filepath.Base(path), ".epack"))
	b.AddSource("genpacks", "1")
	write := func() error {
		res, err := b.WriteFile(context.Background(), path)
		if err != nil {
			return err
		}
		fmt.Printf("wrote %s: %d artifacts, %d bytes\n", path, len(res.Manifest.Artifacts), res.Size)
		return nil
	}
	if err := fill(b, write); err != nil {
		fail(err)
	}
}

func then(err error, next func() error) error {
	if err != nil {
		return err
	}
	return next()
}

func tiny(b *pack.Builder) error {
	return b.AddBytes("hello.json", []byte(`{"hello":"world"}`+"\n"), pack.ArtifactOptions{ContentType: "application/json"})
}

func many(b *pack.Builder) error {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		var sb strings.Builder
		sb.WriteString(`{"id":` + fmt.Sprint(i) + `,"items":[`)
		for sb.Len() < 2000 {
			fmt.Fprintf(&sb, `{"k":"%x","v":%d},`, r.Uint64(), r.IntN(1000000))
		}
		s := strings.TrimSuffix(sb.String(), ",") + "]}"
		if err := b.AddBytes(fmt.Sprintf("items/%04d.json", i), []byte(s)); err != nil {
			return err
		}
	}
	return nil
}

// big writes the random artifacts to a temp folder (AddFile streams them
// at write time, so they must exist until the pack is written).
func big(b *pack.Builder, dir string, write func() error) error {
	tmp, err := os.MkdirTemp(dir, "genpacks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r := rand.NewChaCha8([32]byte{1})
	const size = 93 << 20
	buf := make([]byte, 1<<20)
	for i := 0; i < 11; i++ {
		p := filepath.Join(tmp, fmt.Sprintf("blob-%02d.bin", i))
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for n := 0; n < size; n += len(buf) {
			r.Read(buf)
			w.Write(buf)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		f.Close()
		if err := b.AddFile(filepath.Base(p), p, pack.ArtifactOptions{ContentType: "application/octet-stream"}); err != nil {
			return err
		}
	}
	return write()
}
