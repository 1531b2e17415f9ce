package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/internal/testenv"
)

// BenchmarkS3PushPull times `epack push` and `epack pull` of one pack
// through the S3 adapter against versitygw over https, beside a plain
// presigned PUT and GET of the same bytes to the same server, in the same
// round. Each round pushes the pack three ways: in one PUT (multipart
// threshold above the pack's size), in parts with Content-MD5 and
// x-amz-checksum-sha256 (the default), and in parts with
// x-amz-checksum-sha256 alone (multipart_part_md5: false); pull fetches it
// in parallel ranges. Metrics: seconds of each, and each against the plain
// PUT (GET) of its round. The pack is 256 MiB; EPACK_BENCH_S3_BYTES sets
// another size, e.g. the 1 GiB run:
//
//	EPACK_BENCH_S3_BYTES=1073741824 go test -run '^$' -bench S3PushPull -benchtime 1x -timeout 30m ./internal/e2e
//
// serverPid finds the versitygw process serving endpoint (0: not found).
func serverPid(endpoint string) int {
	addr := strings.TrimPrefix(strings.TrimPrefix(endpoint, "https://"), "http://")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), "versitygw") && strings.Contains(string(b), addr) {
			return pid
		}
	}
	return 0
}

// procCPU is the user+system CPU time of process pid (0 when unknown).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if pid == 0 || err != nil {
		return 0
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ = 100
}

// vmHWM is the peak resident set of process pid in KiB, read from
// /proc/<pid>/status (0 once it has exited).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// deleteBlobs removes the registry's pack blobs, so the next push uploads.
func deleteBlobs(b *testing.B, client *s3.Client, bucket string) {
	out, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("blobs/")})
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range out.Contents {
		if _, err := client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchServer starts versitygw over https for an S3 benchmark and returns
// it with the benchmark's size: EPACK_BENCH_S3_BYTES, else 256 MiB.
func benchServer(b *testing.B) (*testenv.Server, int64) {
	vgw, ok := testenv.VersityGWBinary()
	if !ok {
		b.Skip("versitygw not built; run scripts/versitygw.sh install")
	}
	srv, err := testenv.StartServer(vgw, true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	size := int64(256 << 20)
	if v := os.Getenv("EPACK_BENCH_S3_BYTES"); v != "" {
		if size, err = strconv.ParseInt(v, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	return srv, size
}

func BenchmarkS3PushPull(b *testing.B) {
	srv, size := benchServer(b)
	bin := e2e.BinDir(b, binDir)
	root := e2e.Project(b, bin, "")
	bucket := srv.NewBucket(b)
	yamlFor := func(extra, workspace string) string {
		return fmt.Sprintf("stream: bench/s3\nremotes:\n  s3:\n    adapter: s3\n    secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]\n    extensions: {bucket: %s, endpoint: %q, path_style: true, region: us-east-1%s}\n    target: {workspace: %s}\n", bucket, srv.Endpoint, extra, workspace)
	}
	modes := []struct{ name, extra string }{
		{"single", ", multipart_threshold: 8GiB"},
		{"mp", ""},
		{"mp-sha256", ", multipart_part_md5: false"},
	}
	// EPACK_BENCH_S3_MODES=mp,… runs only those (a 6 GiB pack cannot go
	// to AWS in one PUT anyway).
	if v := os.Getenv("EPACK_BENCH_S3_MODES"); v != "" {
		keep := modes[:0]
		for _, m := range modes {
			if slices.Contains(strings.Split(v, ","), m.name) {
				keep = append(keep, m)
			}
		}
		modes = keep
	}
	os.WriteFile(filepath.Join(root, "epack.yaml"), []byte(yamlFor("", "lock")), 0o644)
	env := append(os.Environ(), "SSL_CERT_FILE="+srv.CertFile, "AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey)
	vgwPid := serverPid(srv.Endpoint)
	var lastCPU time.Duration // CPU of the last run: epack and its adapters, plus the server
	var lastRSS int64         // peak RSS of the last run's epack process, in KiB
	maxRSS := map[string]int64{}
	run := func(args ...string) time.Duration {
		cmd := exec.Command(filepath.Join(bin, "epack"), args...)
		cmd.Dir, cmd.Env = root, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		s0 := procCPU(vgwPid)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		// The exit status's ru_maxrss would include this process's own
		// memory (the child shares it until exec), so the peak is read
		// from /proc while epack runs (VmHWM only grows).
		done := make(chan struct{})
		peak := make(chan int64, 1)
		go func() {
			var hwm int64
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				hwm = max(hwm, vmHWM(cmd.Process.Pid))
				select {
				case <-done:
					peak <- hwm
					return
				case <-t.C:
				}
			}
		}()
		err := cmd.Wait()
		close(done)
		lastRSS = <-peak
		if err != nil {
			b.Fatalf("epack %v: %v\n%s", args, err, out.String())
		}
		d := time.Since(start)
		lastCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime() + procCPU(vgwPid) - s0
		return d
	}
	run("lock", "s3", "-q")

	// A pack of incompressible artifacts (≤ 100 MiB each).
	var files []e2e.File
	for left, i := size, 0; left > 0; i++ {
		n := min(left, 90<<20)
		data := make([]byte, n)
		rand.Read(data)
		files = append(files, e2e.File{Name: fmt.Sprintf("blob%02d.bin", i), Data: data})
		left -= n
	}
	packPath := filepath.Join(root, "big.epack")
	e2e.WritePack(b, packPath, "bench/s3", files...)
	files = nil
	fi, _ := os.Stat(packPath)

	client := srv.Client()
	presign := s3.NewPresignClient(client)
	httpc := srv.HTTPClient()
	ctx := context.Background()
	var pull, put, get, putCPU time.Duration
	push, pushCPU := map[string]time.Duration{}, map[string]time.Duration{}
	plainPutGet := func(b *testing.B, i int) {
		key := fmt.Sprintf("plain/%d", i)
		req, _ := presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		f, _ := os.Open(packPath)
		hr, _ := http.NewRequest(http.MethodPut, req.URL, f)
		hr.ContentLength = fi.Size()
		s0, c0 := procCPU(vgwPid), selfCPU()
		start := time.Now()
		resp, err := httpc.Do(hr)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("plain PUT: %v %v", err, resp)
		}
		resp.Body.Close()
		put += time.Since(start)
		putCPU += procCPU(vgwPid) - s0 + selfCPU() - c0
		f.Close()
		greq, _ := presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		out, _ := os.Create(filepath.Join(root, "plain.bin"))
		start = time.Now()
		resp, err = httpc.Get(greq.URL)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(out, resp.Body)
		out.Sync()
		resp.Body.Close()
		get += time.Since(start)
		out.Close()
		os.Remove(filepath.Join(root, "plain.bin"))
	}
	for i := 0; i < b.N; i++ {
		// Plain PUT and GET of the same file to the same server (S3
		// takes at most 5 GiB in one PUT: beyond, epack runs alone).
		if fi.Size() <= 5<<30 {
			plainPutGet(b, i)
		}

		// epack through the adapter, each mode into its own workspace;
		// blobs are content-addressed across workspaces, so they are
		// removed first: the upload is never skipped.
		for _, m := range modes {
			os.WriteFile(filepath.Join(root, "epack.yaml"), []byte(yamlFor(m.extra, fmt.Sprintf("r%d-%s", i, m.name))), 0o644)
			deleteBlobs(b, client, bucket)
			push[m.name] += run("push", "s3", "big.epack", "-q", "--no-runs")
			pushCPU[m.name] += lastCPU
			maxRSS["push-"+m.name] = max(maxRSS["push-"+m.name], lastRSS)
		}
		os.Remove(filepath.Join(root, "pulled.epack"))
		pull += run("pull", "s3", "-o", "pulled.epack", "-q")
		maxRSS["pull"] = max(maxRSS["pull"], lastRSS)
	}
	// Peak RSS of the epack process (adapters are its children, not
	// counted): flat whatever the pack size.
	for k, v := range maxRSS {
		b.ReportMetric(float64(v)/1024, k+"-rss-MiB")
	}
	n := time.Duration(b.N)
	if put > 0 {
		b.ReportMetric((put / n).Seconds(), "plainPUT-s")
		b.ReportMetric((putCPU / n).Seconds(), "plainPUT-cpu-s")
		b.ReportMetric((get / n).Seconds(), "plainGET-s")
		b.ReportMetric(float64(pull)/float64(get), "pull/GET")
	}
	for _, m := range modes {
		b.ReportMetric((push[m.name] / n).Seconds(), "push-"+m.name+"-s")
		if put > 0 {
			b.ReportMetric(float64(push[m.name])/float64(put), "push-"+m.name+"/PUT")
		}
		b.ReportMetric((pushCPU[m.name] / n).Seconds(), "push-"+m.name+"-cpu-s")
	}
	b.ReportMetric((pull / n).Seconds(), "pull-s")
}
