package pull

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/protocol"
)

// A pull only keeps the pack that was asked for. The adapter's pull.prepare
// answer must say so (the release id or version asked for, a stream name
// the registries accept), and the downloaded pack's manifest must carry the
// stream the answer named. Any disagreement is a digest_mismatch (exit 11):
// the bytes are not the pack the user asked for, so nothing is written,
// pull.finalize is not called, and no receipt is made.

// answerHint is the fix every identity refusal points at.
const answerHint = "nothing was written; the remote adapter answered with another pack than the one asked for — report it to the adapter's maintainer, or pull by --digest"

func notAsked(format string, args ...any) error {
	return errcode.New(errcode.DigestMismatch, format, args...).WithHint(answerHint)
}

// checkAnswer compares what pull.prepare says it will send with the ref. A
// release id or version that the answer states and that differs from the
// request is refused. The protocol lets an adapter leave those fields out
// (COMPAT §5.4, §7: "left out when empty"), and adapters built on the
// existing SDK often do: such an answer is accepted on the strength of the
// file digest and the manifest checks, and the returned note says what the
// answer did not confirm. The digest is compared by checkAnnounced.
func checkAnswer(p protocol.PulledPack, ref protocol.PullRef) (note string, err error) {
	if p.Stream != "" {
		if err := names.Check(names.Stream, p.Stream); err != nil {
			return "", errcode.Wrap(errcode.DigestMismatch, err, "pull.prepare answered a stream no registry accepts").WithHint(answerHint)
		}
	}
	switch {
	case ref.ReleaseID != "":
		if p.ReleaseID == "" {
			return fmt.Sprintf("the remote's answer does not say which release it is (asked for %q)", ref.ReleaseID), nil
		}
		if p.ReleaseID != ref.ReleaseID {
			return "", notAsked("asked for release %q but the remote answered release %q", ref.ReleaseID, p.ReleaseID)
		}
	case ref.Version != "":
		if p.Version != "" {
			if !sameVersion(p.Version, ref.Version) {
				return "", notAsked("asked for version %q but the remote answered version %q (release %q)", ref.Version, p.Version, p.ReleaseID)
			}
			return "", nil
		}
		var other []string
		for _, l := range p.Labels {
			if v, ok := labelVersion(l); ok {
				if sameVersion(v, ref.Version) {
					return "", nil
				}
				other = append(other, v)
			}
		}
		if len(other) > 0 {
			return "", notAsked("asked for version %q but the remote's answer does not say it is that version: its labels name %q (release %q)", ref.Version, other, p.ReleaseID)
		}
		return fmt.Sprintf("the remote's answer does not say which version it is (asked for %q)", ref.Version), nil
	}
	return "", nil
}

// sameVersion treats "1.2" and "v1.2" as one version, as our registries do
// when they look a version up.
func sameVersion(a, b string) bool {
	return a == b || trimV(a) == trimV(b)
}

func trimV(s string) string {
	if len(s) >= 2 && s[0] == 'v' && s[1] >= '0' && s[1] <= '9' {
		return s[1:]
	}
	return s
}

// labelVersion reads a release label the way our registries index versions:
// "v<digit>…", "version:<v>" or "version=<v>".
func labelVersion(l string) (string, bool) {
	switch {
	case len(l) >= 2 && l[0] == 'v' && l[1] >= '0' && l[1] <= '9':
		return l, true
	case strings.HasPrefix(l, "version:"):
		return l[len("version:"):], len(l) > len("version:")
	case strings.HasPrefix(l, "version="):
		return l[len("version="):], len(l) > len("version=")
	}
	return "", false
}

// readStream opens the downloaded pack (the private temp file), runs the
// integrity verification when verify is set, and returns the manifest's
// stream. The file digest was computed while downloading, so only the
// pack's own digests remain to be checked.
func readStream(ctx context.Context, f *os.File, verify bool) (*pulledPack, error) {
	what := "reading the pack's manifest"
	if verify {
		what = "pack verification failed"
	}
	p, err := pack.OpenFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer p.Close()
	if verify {
		if err := p.VerifyIntegrity(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	out := &pulledPack{stream: p.Manifest().Stream, packDigest: p.Manifest().PackDigest, manifestDigest: p.ManifestDigest(), bundles: map[string][]byte{}}
	for _, name := range p.Attestations() {
		b, err := p.ReadAttestation(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out.bundles[name] = b
	}
	return out, nil
}

// pulledPack is what the verify step read from the download.
type pulledPack struct {
	stream         string
	packDigest     string
	manifestDigest string
	bundles        map[string][]byte
}

// checkManifestStream refuses a pack whose stream no registry accepts, or
// whose stream is not the one the remote answered (when it answered one).
func checkManifestStream(stream, answered string) error {
	if err := names.Check(names.Stream, stream); err != nil {
		return fmt.Errorf("the pulled pack's stream cannot be used: %w", err)
	}
	if answered != "" && stream != answered {
		return notAsked("the remote answered stream %q but the pack's manifest says %q", answered, stream)
	}
	return nil
}
