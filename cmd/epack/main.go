// Command epack builds, verifies, pushes and pulls evidence packs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/evidencerelay/epack/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
