// Command epack builds, verifies, pushes and pulls evidence packs.
package main

import (
	"context"
	"os"

	"github.com/evidencerelay/epack/internal/cli"
)

// main runs the CLI; cli.Main handles SIGINT and SIGTERM (the command is
// cancelled and cleans up, the exit status is 130 or 143).
func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:]))
}
