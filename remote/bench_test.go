package remote

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/evidencerelay/epack/internal/sealedexec"
)

// paddedAdapter writes the SDK test adapter padded to about 10 MB (bytes
// appended after the ELF image; it still runs) and pins it.
func paddedAdapter(b *testing.B, p *project) string {
	b.Helper()
	data, err := os.ReadFile(sdkAdapterPath)
	if err != nil {
		b.Fatal(err)
	}
	const size = 10 << 20
	if len(data) < size {
		pad := make([]byte, size-len(data))
		for i := range pad {
			pad[i] = byte(i * 7)
		}
		data = append(data, pad...)
	}
	bin := filepath.Join(b.TempDir(), "epack-remote-sdk")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		b.Fatal(err)
	}
	p.pin("origin", bin)
	return bin
}

// BenchmarkVerifiedCall is the fixed cost of one verified adapter call:
// open the 10 MB binary, copy it into a sealed memfd while hashing, compare
// the digest, exec it (--capabilities) and check the response.
func BenchmarkVerifiedCall(b *testing.B) {
	for _, memfd := range []bool{true, false} {
		b.Run(map[bool]string{true: "memfd", false: "tempcopy"}[memfd], func(b *testing.B) {
			was := sealedexec.SetMemfd(memfd)
			defer sealedexec.SetMemfd(was)
			p := &project{t: b, root: b.TempDir(), lock: newLock()}
			bin := paddedAdapter(b, p)
			r := p.remote("origin", bin)
			b.SetBytes(10 << 20)
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: r, Lock: p.lock})
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			reportCPU(b, cpu0)
		})
	}
}

// BenchmarkSessionCall is one protocol call on an already sealed session
// (exec + request + response checks), as push makes after Open.
func BenchmarkSessionCall(b *testing.B) {
	p := &project{t: b, root: b.TempDir(), lock: newLock()}
	bin := paddedAdapter(b, p)
	s, err := Open(context.Background(), SessionOptions{ProjectRoot: p.root, Remote: p.remote("origin", bin), Lock: p.lock})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := s.Whoami(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
}

// cpuTime is the user+system CPU time of this process and its reaped
// children. On a shared, loaded machine wall time per op is noisy; CPU time
// per op is close to what the call costs on an idle one (the work is
// sequential: copy, seal, hash, exec).
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
