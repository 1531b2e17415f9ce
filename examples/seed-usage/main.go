// Command seed-usage is the usage example from the push package documentation,
// unchanged, wrapped in a main function. Run it in a project whose epack.yaml
// has a remote named "locktivity" (pinned in epack.lock.yaml) and a pack at
// packs/acme-prod.epack.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/evidencerelay/epack/push"
)

func main() {
	ctx := context.Background()

	result, err := push.Push(ctx, push.Options{
		Remote:   "locktivity",
		PackPath: "packs/acme-prod.epack",
		Labels:   []string{"monthly", "soc2"},
	})

	if err != nil {
		fmt.Fprintln(os.Stderr, "push failed:", err)
		os.Exit(1)
	}
	fmt.Printf("release %s, receipt %s\n", result.Release.ReleaseID, result.ReceiptPath)
}
