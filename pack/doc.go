// Package pack owns the evidence pack format: opening a pack with every
// ZIP-safety and structure rule, strict manifest decoding, streaming
// integrity verification, the pack, manifest and file digests, and building
// packs that the reader always accepts. It knows nothing of remotes.
package pack
