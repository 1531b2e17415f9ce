#!/usr/bin/env bash
# Runs the whole epack test suite on a fresh machine: builds (once, cached
# outside the clone) and starts a real S3 server (versitygw) on 127.0.0.1,
# runs gofmt, go vet, every test under the race detector (listing skipped
# tests) and each fuzz target for a few seconds, then stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

export EPACK_TEST_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/epack-test"
mkdir -p "$EPACK_TEST_CACHE"

echo "==> gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
echo "==> go vet"
go vet ./...

echo "==> S3 test server (versitygw)"
./scripts/versitygw.sh install
export EPACK_VGW_STATE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/epack-vgw.XXXXXX")"
export EPACK_VGW_ENV_FILE="$EPACK_VGW_STATE_DIR/env"
./scripts/versitygw.sh start >/dev/null
trap './scripts/versitygw.sh stop || true; rm -rf "$EPACK_VGW_STATE_DIR"' EXIT
set -a; . "$EPACK_VGW_ENV_FILE"; set +a
export EPACK_TEST_REQUIRE_S3=1

# In CI (and in this script) a test that lacks a machine feature fails instead
# of skipping: everything the suite needs is installed above.
export CI="${CI:-true}"

echo "==> go test -race (every package; skipped tests are listed at the end)"
go build -o "$EPACK_VGW_STATE_DIR/testsummary" ./internal/tools/testsummary
set +e
go test -race -count=1 -timeout 20m -json ./... | "$EPACK_VGW_STATE_DIR/testsummary"
status=("${PIPESTATUS[@]}")
set -e
if [ "${status[0]}" -ne 0 ] || [ "${status[1]}" -ne 0 ]; then
  echo "==> go test failed"; exit 1
fi

# Each fuzz target runs a few seconds' worth of inputs on top of its committed
# corpus (testdata/fuzz/<target>); a crasher it finds is written there:
# commit it as a regression seed. The budget is a count of inputs, not a
# duration: a duration can end while a worker is inside a slow input, which
# go test reports as a spurious "context deadline exceeded" failure.
FUZZTIME="${EPACK_FUZZTIME:-20000x}"
echo "==> fuzz (${FUZZTIME} per target)"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
  for target in $targets; do
    echo "    $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" >"$EPACK_VGW_STATE_DIR/fuzz.log" 2>&1 || {
      cat "$EPACK_VGW_STATE_DIR/fuzz.log"; echo "==> fuzz target $target in $pkg failed"; exit 1; }
  done
done
echo "==> all tests passed"
