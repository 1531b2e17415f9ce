#!/usr/bin/env bash
# Runs the whole epack test suite on a fresh machine: builds (once, cached
# outside the clone) and starts a real S3 server (versitygw) on 127.0.0.1,
# runs go vet, gofmt and every test, then stops the server.
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

echo "==> go test"
go test -count=1 -timeout 20m ./...
echo "==> all tests passed"
