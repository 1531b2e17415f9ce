// Package adapter is the SDK for writing remote adapters (epack-remote-<name>
// programs speaking Remote Adapter Protocol v1). Serve handles
// --capabilities and --version, decodes and checks each request, calls the
// Handler and writes one well-formed answer: the result, or an error answer
// for anything that went wrong (bad request, unknown or unsupported
// command, failing or panicking handler). It exits 0 whenever it wrote an
// answer, success or error — both hosts read error answers whatever the exit
// status, and the existing epack tool's adapter checker requires 0 — and
// non-zero only when it could not answer at all (see Run). A handler picks
// the error answer by returning a *protocol.Error (protocol.Errorf); any
// other error becomes server_error. It speaks through package protocol's
// message types, as the epack host does, so the two cannot disagree on the
// wire (COMPAT W25), and an adapter built on it links nothing of the host.
// Besides the commands of the existing protocol it dispatches releases.list,
// our addition (Handler.ReleasesList, announced as features.releases_list).
package adapter
