package config

import (
	"context"
	"errors"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

func TestLockForUpdate(t *testing.T) {
	root := t.TempDir()
	release, err := LockForUpdate(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}

	// A second holder (another open file description, as another process
	// has) cannot take the lock; an ended context gives up with Canceled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LockForUpdate(ctx, root); !errcode.Has(err, errcode.Canceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("second lock while held: %v, want code %s", err, errcode.Canceled)
	}

	// A waiter gets the lock once the holder releases it.
	got := make(chan error, 1)
	go func() {
		r, err := LockForUpdate(context.Background(), root)
		if err == nil {
			r()
		}
		got <- err
	}()
	release()
	release() // releasing twice is harmless
	if err := <-got; err != nil {
		t.Fatalf("waiter: %v", err)
	}
}

func TestLockForUpdateErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		root string
		code errcode.Code
	}{
		{"missing folder", t.TempDir() + "/nope", errcode.IOError},
		{"not a folder", writeTempFile(t), errcode.IOError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LockForUpdate(context.Background(), tc.root); !errcode.Has(err, tc.code) {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
		})
	}
}

func writeTempFile(t *testing.T) string {
	t.Helper()
	p := t.TempDir() + "/file"
	if err := writeFileAtomic(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
