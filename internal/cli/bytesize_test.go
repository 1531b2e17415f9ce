package cli

import "testing"

func TestByteSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{
		"16MiB": 16 << 20, "8M": 8 << 20, "5242880": 5242880, " 1 GiB ": 1 << 30, "2T": 2 << 40, "512KiB": 512 << 10, "100B": 100,
	} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5MiB", "5 MB", "x", "1.5GiB", "99999999999TiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("Set(%q) accepted (%d)", in, b)
		}
	}
	for v, want := range map[int64]string{16 << 20: "16MiB", 5242881: "5242881", 1 << 30: "1GiB", 3 << 10: "3KiB"} {
		b := byteSize(v)
		if got := b.String(); got != want {
			t.Errorf("String(%d) = %q, want %q", v, got, want)
		}
		var back byteSize
		if err := back.Set(b.String()); err != nil || back != b {
			t.Errorf("round trip of %d: %d, %v", v, back, err)
		}
	}
}
