// Package adaptercheck plays the part of the existing epack tool's adapter
// conformance checker for our adapters: it runs a real adapter binary once
// per command, including well-formed requests about packs the registry has
// never seen (all-zero digests, made-up finalize tokens and release ids),
// unknown commands and malformed input, and checks that every protocol
// command gets exit status 0 and exactly one well-formed JSON answer with the
// right type and request_id (error answers with ok:false, a known code and a
// message). UpstreamEnv builds the environment that tool's host gives an
// adapter (COMPAT §4.4), so the adapters can also be run the way it runs them.
package adaptercheck
