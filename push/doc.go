// Package push implements the push workflow: it uploads a verified evidence
// pack to a remote registry through a remote adapter and records an audit
// receipt.
//
// Remote adapters are external programs (epack-remote-<name>) that speak the
// Remote Adapter Protocol over stdin/stdout; see package remote.
//
// # Workflow
//
// A push:
//   - verifies the pack locally (opened once; the bytes that are hashed are
//     the bytes that are uploaded),
//   - loads the remote from epack.yaml (environment overrides applied),
//   - resolves and verifies the adapter binary,
//   - calls push.prepare to get an upload target,
//   - uploads the pack (unless the registry already has it),
//   - calls push.finalize to create the release,
//   - syncs run results (unless disabled),
//   - writes a receipt file for the audit trail.
//
// # Usage
//
//	result, err := push.Push(ctx, push.Options{
//		Remote:   "locktivity",
//		PackPath: "packs/acme-prod.epack",
//		Labels:   []string{"monthly", "soc2"},
//	})
//
// # Receipt files
//
// Each push writes .epack/receipts/push/<remote>/<timestamp>_<digest>.json
// under the project root. Receipts are never overwritten and are written even
// when run syncing fails after the release was created.
//
// # Security
//
// Adapters pinned in epack.lock.yaml run from a sealed, verified copy of the
// binary. Unpinned adapters (for example found on PATH) run only with
// Options.Unsafe.AllowUnpinned. Credentials are the adapter's business.
package push
