package registrytest

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/evidencerelay/epack/protocol"
)

// Pack is a test pack file and the digests a host would send for it.
type Pack struct {
	Path       string
	Data       []byte
	FileDigest string // sha256:<hex> of the file
	FileHex    string
	Checksum   string // base64 MD5
	PackDigest string // stands in for the manifest pack_digest
}

// MakePack writes a small ZIP (distinct per seed) into dir as name.
func MakePack(t testing.TB, dir, name, seed string) Pack {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, `{"spec_version":"1.0","stream":"test","seed":%q}`, seed)
	w, _ = zw.Create("artifacts/data.json")
	fmt.Fprintf(w, `{"seed":%q}`, seed)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return WritePack(t, filepath.Join(dir, name), buf.Bytes())
}

// WritePack writes data to p and returns its digests.
func WritePack(t testing.TB, p string, data []byte) Pack {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	m := md5.Sum(data)
	ps := sha256.Sum256(append([]byte("pack:"), data...))
	return Pack{
		Path:       p,
		Data:       data,
		FileDigest: "sha256:" + hex.EncodeToString(s[:]),
		FileHex:    hex.EncodeToString(s[:]),
		Checksum:   base64.StdEncoding.EncodeToString(m[:]),
		PackDigest: "sha256:" + hex.EncodeToString(ps[:]),
	}
}

// Info returns the push.prepare pack object for p.
func (p Pack) Info() protocol.PackInfo {
	return protocol.PackInfo{
		Path:           p.Path,
		Digest:         p.PackDigest,
		ManifestDigest: p.PackDigest[len("sha256:"):],
		FileDigest:     p.FileDigest,
		SizeBytes:      int64(len(p.Data)),
		Checksum:       p.Checksum,
	}
}

// Upload performs an upload target the way the epack host does: a file://
// path is written (temp file beside it, then rename); an http(s) URL gets a
// request with the target's method and the adapter's headers — except over
// plain http, where the host never sends them.
func Upload(t testing.TB, tgt protocol.TransferTarget, data []byte) error {
	return UploadRaw(t, tgt, data, false)
}

// UploadRaw is Upload; headersOverHTTP sends the adapter's headers over
// plain http too.
func UploadRaw(t testing.TB, tgt protocol.TransferTarget, data []byte, headersOverHTTP bool) error {
	t.Helper()
	u, err := url.Parse(tgt.URL)
	if err != nil {
		return err
	}
	if u.Scheme == "file" {
		if err := os.MkdirAll(filepath.Dir(u.Path), 0o755); err != nil {
			return err
		}
		tmp := u.Path + ".uploading"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, u.Path)
	}
	req, err := http.NewRequest(tgt.Method, tgt.URL, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(data))
	if u.Scheme == "https" || headersOverHTTP {
		for k, v := range tgt.Headers {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("upload failed with status %d: %s", resp.StatusCode, body)
	}
	return nil
}

// Download fetches a download target (file:// or http(s)).
func Download(t testing.TB, tgt protocol.TransferTarget) []byte {
	t.Helper()
	u, err := url.Parse(tgt.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme == "file" {
		data, err := os.ReadFile(u.Path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	req, _ := http.NewRequest(tgt.Method, tgt.URL, nil)
	for k, v := range tgt.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("download: status %d, err %v", resp.StatusCode, err)
	}
	return data
}

// WriteRun writes <sidecar>/tools/x/<runID>/result.json and returns the run item.
func WriteRun(t testing.TB, sidecar, runID, body string) protocol.RunItem {
	t.Helper()
	d := filepath.Join(sidecar, "tools", "x", runID)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(d, "result.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256([]byte(body))
	return protocol.RunItem{RunID: runID, ResultPath: p, ResultDigest: "sha256:" + hex.EncodeToString(s[:])}
}

func digestOf(data []byte) string {
	s := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(s[:])
}

func mkfifo(p string) { _ = syscall.Mkfifo(p, 0o644) }
