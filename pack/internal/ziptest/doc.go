// Package ziptest writes ZIP archives byte by byte with any header values,
// so tests and the conformance runner can build hostile packs (bombs,
// symlinks, devices, duplicate names, lying sizes) that archive/zip refuses
// to write.
package ziptest
