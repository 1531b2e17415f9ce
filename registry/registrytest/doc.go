// Package registrytest is the shared test suite of epack's registries: the
// same protocol flows, hostile inputs and concurrency checks run against the
// registry in process and against the real adapter binaries, for the
// filesystem store and the S3 store alike. It also has the helpers those
// tests share (test packs, uploads the way the host does them).
package registrytest
