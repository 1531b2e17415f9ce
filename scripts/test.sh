#!/usr/bin/env bash
# Runs the whole epack test suite on a fresh machine: builds (once, cached
# outside the clone) and starts a real S3 server (versitygw) on 127.0.0.1,
# installs and starts a real OCI registry (docker-registry, TLS, htpasswd)
# on 127.0.0.1 and the oras CLI,
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
# Lockfiles pin darwin builds of the adapters too: the code must keep
# building there (its Linux-only pieces have build tags and fallbacks).
echo "==> cross-build (darwin/arm64)"
GOOS=darwin GOARCH=arm64 go build ./...

echo "==> S3 test server (versitygw)"
./scripts/versitygw.sh install
export EPACK_VGW_STATE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/epack-vgw.XXXXXX")"
export EPACK_VGW_ENV_FILE="$EPACK_VGW_STATE_DIR/env"
OCI_PID=""
cleanup() {
  ./scripts/versitygw.sh stop || true
  if [ -n "$OCI_PID" ]; then kill "$OCI_PID" 2>/dev/null || true; wait "$OCI_PID" 2>/dev/null || true; fi
  rm -rf "$EPACK_VGW_STATE_DIR"
}
trap cleanup EXIT
./scripts/versitygw.sh start >/dev/null
set -a; . "$EPACK_VGW_ENV_FILE"; set +a
export EPACK_TEST_REQUIRE_S3=1

# The OCI registry tests run against Debian's docker-registry (distribution
# 2.8.2; installed with apt-get when missing — the package's own service is
# disabled, the tests start theirs on 127.0.0.1) and read packs back with the
# oras CLI (built once into the cache folder, like versitygw).
echo "==> OCI test registry (docker-registry) and oras"
ORAS_VERSION=v1.3.6
ORAS_BIN="$EPACK_TEST_CACHE/bin-oras-$ORAS_VERSION/oras"
if ! command -v docker-registry >/dev/null 2>&1 && ! command -v registry >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
  if command -v apt-get >/dev/null 2>&1; then
    echo "    installing docker-registry with apt-get"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry >/dev/null \
      || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry >/dev/null; } \
      || echo "    apt-get could not install docker-registry: the OCI tests will fail"
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now docker-registry.service >/dev/null 2>&1 || true; fi
  else
    echo "    no apt-get: install a distribution registry (docker-registry) yourself; the OCI tests will fail"
  fi
fi
if [ ! -x "$ORAS_BIN" ]; then
  echo "    building oras $ORAS_VERSION into $(dirname "$ORAS_BIN") (once)"
  GOBIN="$(dirname "$ORAS_BIN")" GOFLAGS=-buildvcs=false go install "oras.land/oras/cmd/oras@$ORAS_VERSION" \
    || echo "    go install oras failed: the oras interop tests will fail"
fi
go build -o "$EPACK_VGW_STATE_DIR/ociserver" ./internal/testenv/ociserver
OCI_ENV_FILE="$EPACK_VGW_STATE_DIR/oci.env"
"$EPACK_VGW_STATE_DIR/ociserver" -env-file "$OCI_ENV_FILE" >"$EPACK_VGW_STATE_DIR/ociserver.log" 2>&1 &
OCI_PID=$!
for _ in $(seq 1 300); do
  [ -f "$OCI_ENV_FILE" ] && break
  kill -0 "$OCI_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -f "$OCI_ENV_FILE" ]; then
  set -a; . "$OCI_ENV_FILE"; set +a
  echo "    registry at https://$EPACK_TEST_OCI_HOST"
else
  cat "$EPACK_VGW_STATE_DIR/ociserver.log"; echo "    the OCI test registry did not start: the OCI tests will fail"
  OCI_PID=""
fi
export EPACK_TEST_REQUIRE_OCI=1

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
