// Package testenv helps tests find (or start) the real S3 server they run
// against: EPACK_TEST_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY from
// scripts/versitygw.sh, skipping when unset unless EPACK_TEST_REQUIRE_S3=1,
// and MainWithS3, which starts the cached versitygw binary for a package's
// TestMain when nothing is configured. Fresh bucket per test: S3.NewBucket.
//
// Likewise for the OCI registry (oci.go): RequireOCI returns the one
// scripts/test.sh started (EPACK_TEST_OCI_*), or starts Debian's
// docker-registry for the test with TLS and htpasswd auth; fresh namespace
// per test: OCINamespace. RequireOras finds the oras CLI. Without them tests
// skip, or fail under EPACK_TEST_REQUIRE_OCI=1 or CI=true.
package testenv
