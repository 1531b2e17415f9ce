// Package testkit is the one home of helpers shared by the tests of many
// packages: WantCode, the error-code assertion, and Binaries, which builds
// the module's programs (epack, the adapters, test adapters) once per test
// process. It imports only errcode and the standard library, so the
// internal tests of any package above errcode can use it without an import
// cycle.
package testkit
