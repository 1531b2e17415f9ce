package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pack/sign"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/pull"
	"github.com/spf13/cobra"
)

// inspectOptions are the arguments of 'epack inspect'.
type inspectOptions struct {
	g    *Globals
	Path string
}

// newCmdInspect builds 'epack inspect'; runF runs the parsed options (nil: runInspect).
func newCmdInspect(g *Globals, runF func(context.Context, *inspectOptions) error) *cobra.Command {
	o := &inspectOptions{g: g}
	if runF == nil {
		runF = runInspect
	}
	return &cobra.Command{
		Use:   "inspect <pack>",
		Short: "Show a pack's stream, digests, sources and artifacts",
		Long: `Inspect an evidence pack: stream, generation time, the pack, manifest and file
digests, sources and the artifact table. The pack is opened with every safety
rule but artifact digests are not re-checked; use 'epack verify' for that.

When a pull receipt of the project (.epack/receipts/pull/) names this file
(its output path and file digest), the retention the registry answered for
it is shown too (S3 with Object Lock: until when the release is kept).`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = args[0]
			return runF(cmd.Context(), o)
		},
	}
}

func shortDigest(d string, full bool) string {
	if full || len(d) < 19 {
		return d
	}
	return d[:19] + "…"
}

// runInspect shows the pack's manifest, digests and artifacts.
func runInspect(_ context.Context, o *inspectOptions) error {
	g, path := o.g, o.Path
	f, _, err := pack.OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := pack.OpenFile(f)
	if err != nil {
		return err
	}
	defer p.Close()
	sums, err := pack.SumFile(io.NewSectionReader(f, 0, p.Size()))
	if err != nil {
		return err
	}
	m := p.Manifest()
	sigs := []sign.Signature{}
	for _, name := range p.Attestations() {
		raw, err := p.ReadAttestation(name)
		if err != nil {
			return err
		}
		sigs = append(sigs, sign.Describe(name, raw))
	}
	ret, retFrom := pulledRetention(path, sums.SHA256)
	if g.JSON {
		out := map[string]any{
			// The existing tool's keys (COMPAT §10.4); its manifest_digest is bare hex.
			"spec_version": m.SpecVersion, "stream": m.Stream, "pack_digest": m.PackDigest,
			"manifest_digest": strings.TrimPrefix(p.ManifestDigest(), "sha256:"), "generated_at": m.GeneratedAt,
			"artifact_count": len(m.Artifacts), "attestation_count": len(sigs), "sources": nonNilSlice(m.Sources),
			"artifacts": nonNilSlice(m.Artifacts), "attestations": p.Attestations(),
			// Ours.
			"ok": true, "pack": path, "manifest_digest_sha256": p.ManifestDigest(),
			"file_digest": sums.SHA256, "checksum": sums.MD5Base64, "size_bytes": sums.Size,
			"signatures": sigs, "signatures_checked": false,
			"profiles": nonNilSlice(m.Profiles), "overlays": nonNilSlice(m.Overlays),
		}
		if m.Provenance != nil {
			out["provenance"] = m.Provenance
		}
		if ret != nil {
			out["retention"], out["retention_receipt"] = ret, retFrom
		}
		writeJSON(g.IO.Out, out)
		return nil
	}
	if g.Quiet {
		return nil
	}
	w := g.IO.Out
	fmt.Fprintf(w, "Pack:            %s (%s)\n", path, formatSize(sums.Size))
	fmt.Fprintf(w, "Stream:          %s\n", termSafe(m.Stream)) // manifest text is the pack author's
	fmt.Fprintf(w, "Generated at:    %s\n", m.GeneratedAt)
	fmt.Fprintf(w, "Pack digest:     %s\n", m.PackDigest)
	fmt.Fprintf(w, "Manifest digest: %s\n", p.ManifestDigest())
	fmt.Fprintf(w, "File digest:     %s\n", sums.SHA256)
	if ret != nil {
		fmt.Fprintf(w, "Retention:       %s (from the pull receipt %s)\n", termSafe(retentionText(ret)), termSafe(retFrom))
	}
	if g.Verbose {
		fmt.Fprintf(w, "File MD5:        %s\n", sums.MD5Base64)
	}
	if m.Provenance != nil {
		fmt.Fprintf(w, "Provenance:      %s\n", termSafe(m.Provenance.Type))
	}
	fmt.Fprintf(w, "Sources:         %d\n", len(m.Sources))
	for _, s := range m.Sources {
		v := s.Version
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(w, "  %s %s\n", termSafe(s.Name), termSafe(v))
	}
	fmt.Fprintf(w, "Artifacts:       %d\n", len(m.Artifacts))
	if len(m.Artifacts) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  PATH\tSIZE\tTYPE\tDIGEST")
		for _, a := range m.Artifacts {
			ct := a.ContentType
			if ct == "" {
				ct = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", termSafe(a.Path), formatSize(a.Size), termSafe(ct), shortDigest(a.Digest, g.Verbose))
		}
		tw.Flush()
	}
	if len(sigs) > 0 {
		fmt.Fprintf(w, "Signatures:      %d (not checked here: run 'epack verify' with --key or --issuer/--subject)\n", len(sigs))
		for _, s := range sigs {
			who := s.Subject
			if s.Issuer != "" {
				who += " (issuer " + s.Issuer + ")"
			}
			if s.Kind == "key" {
				who = "public key (identified when verified with --key)"
			}
			if s.Error != "" {
				who = "unreadable: " + s.Error
			}
			fmt.Fprintf(w, "  %s  %-8s %s\n", s.Entry, s.Kind, termSafe(who))
		}
	}
	return nil
}

// pulledRetention is the retention recorded by the newest pull receipt of
// the project (the working directory's) that names the pack at path with
// file digest digest, and that receipt's path; nil when there is none or
// it recorded none. Receipts are read without following symbolic links;
// what is unreadable is passed over.
func pulledRetention(path, digest string) (*protocol.Retention, string) {
	root, err := config.FindRoot("")
	if err != nil {
		return nil, ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, ""
	}
	want := map[string]bool{abs: true}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		want[real] = true
	}
	base, err := safefile.OpenDirBelow(root, root, pull.DefaultReceiptDir, false, 0)
	if err != nil {
		return nil, ""
	}
	defer base.Close()
	remotes, err := base.ReadDir()
	if err != nil {
		return nil, ""
	}
	var best *pull.Receipt
	var bestPath string
	for _, rd := range remotes {
		if !rd.IsDir() {
			continue
		}
		dir, err := base.OpenDir(rd.Name())
		if err != nil {
			continue
		}
		files, _ := dir.ReadDir()
		for _, fe := range files {
			if !fe.Type().IsRegular() || !strings.HasSuffix(fe.Name(), ".json") {
				continue
			}
			rc := readPullReceipt(dir, fe.Name())
			if rc == nil || rc.Pack.Digest != digest || !want[filepath.Clean(rc.Pack.OutputPath)] {
				continue
			}
			if best == nil || rc.CreatedAt.After(best.CreatedAt) {
				best, bestPath = rc, filepath.Join(base.Path(), rd.Name(), fe.Name())
			}
		}
		dir.Close()
	}
	if best == nil || best.Retention == nil || best.Retention.Check() != nil {
		return nil, ""
	}
	if rel, err := filepath.Rel(root, bestPath); err == nil {
		bestPath = rel
	}
	return best.Retention, bestPath
}

// readPullReceipt reads the pull receipt name in dir (nil when it is not
// one): a regular file, never through a link, at most maxReceiptSize.
func readPullReceipt(dir *safefile.Dir, name string) *pull.Receipt {
	data, err := dir.ReadFile(name, maxReceiptSize)
	if err != nil {
		return nil
	}
	var rc pull.Receipt
	if json.Unmarshal(data, &rc) != nil || rc.ReceiptVersion != pull.ReceiptVersion {
		return nil
	}
	return &rc
}

// retentionText is "until 2033-12-01 09:00:01 UTC (COMPLIANCE)", with
// ", legal hold" when held.
func retentionText(r *protocol.Retention) string {
	if u := r.Until(); !u.IsZero() {
		return fmt.Sprintf("until %s (%s)", u.Format("2006-01-02 15:04:05 UTC"), r.Terms())
	}
	return r.Terms()
}

// nonNilSlice makes a nil slice print as [] in JSON.
func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
