#!/usr/bin/env bash
# The main job on the embedded default registry (a local folder), from a clean
# clone: build the binaries, create a demo project, build a sample pack from
# examples/evidence, verify and inspect it, pin the bundled filesystem
# adapter, push the pack to the local registry, pull it back, compare bytes,
# and print the receipt paths.
#
#   ./scripts/demo.sh [demo-folder]     (default: ./demo, recreated each run)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
demo="${1:-$repo/demo}"

echo "==> building epack and the adapters into $repo/bin"
(cd "$repo" && go build -o "$repo/bin/" ./cmd/...)
epack="$repo/bin/epack"

rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"

echo "==> epack init"
"$epack" init --stream acme/demo
echo "==> epack build"
"$epack" build dist/acme-demo.epack "$repo"/examples/evidence/* --stream acme/demo --source demo-collector:1.0.0
echo "==> epack verify"
"$epack" verify dist/acme-demo.epack
echo "==> epack inspect"
"$epack" inspect dist/acme-demo.epack
echo "==> epack lock (pin the bundled filesystem adapter)"
"$epack" lock local
echo "==> epack push"
"$epack" push local dist/acme-demo.epack --label demo --label v1.0.0
echo "==> epack pull"
"$epack" pull local -o pulled.epack
cmp dist/acme-demo.epack pulled.epack
echo "==> pulled pack is byte-identical to the pushed pack"
echo "==> receipts"
find "$demo/.epack/receipts" -type f -name '*.json' | sort
