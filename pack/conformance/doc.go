// Package conformance runs the Evidence Pack conformance vectors
// (conformance/test-vectors, v1.0) against package pack and internal/jcs.
// Every vector case becomes one Line (vector, expected validity, result);
// a case passes when the implementation accepts exactly what the vector
// calls valid and computes the values it states. Cases for optional
// features this implementation does not have, or that cannot be expressed
// (a ZIP has no hard-link entry), are reported as skipped with a reason.
package conformance
