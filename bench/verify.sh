#!/usr/bin/env bash
# Times `epack verify` against `openssl dgst -sha256` on the same pack files
# and prints wall time, ratio and epack's peak RSS.
#
#   bench/verify.sh            # packs in $BENCH_DIR (default /tmp/epack-bench)
#   RUNS=5 bench/verify.sh     # best of 5 runs per command (default 3)
#
# Packs are generated once by bench/cmd/genpacks (about 2 GiB of disk while
# the 1 GiB pack is built); delete $BENCH_DIR to regenerate.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BENCH_DIR:-/tmp/epack-bench}
RUNS=${RUNS:-3}
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/epack" ./cmd/epack
go build -o "$OUT/bin/genpacks" ./bench/cmd/genpacks
go build -o "$OUT/bin/verifyfile" ./bench/cmd/verifyfile
"$OUT/bin/genpacks" "$OUT" >&2

. bench/lib.sh

uptime >&2
printf '%-22s %9s %9s %9s %9s %9s %7s %8s\n' pack size_MiB epack_s epack_cpu openssl_s ossl_cpu ratio rss_MiB
row() { # label file cmd...
  local label=$1 f=$2; shift 2
  cat "$f" >/dev/null # warm the page cache for both commands
  read -r vt vr vc < <(best "$@")
  read -r ot _ oc < <(best openssl dgst -sha256 "$f")
  awk -v n="$label" -v s="$(stat -c %s "$f")" -v vt="$vt" -v ot="$ot" -v vr="$vr" -v vc="$vc" -v oc="$oc" 'BEGIN {
    printf "%-22s %9.1f %9.3f %9.2f %9.3f %9.2f %7.2f %8.1f\n", n, s/1048576, vt/1e6, vc, ot/1e6, oc, (ot > 0 ? vt/ot : 0), vr/1024 }'
}
for name in tiny many big; do
  row "$name: verify" "$OUT/$name.epack" "$OUT/bin/epack" verify -q "$OUT/$name.epack"
done
# What push uses: verify + file SHA-256 + MD5 over one descriptor.
row "big: VerifyFile" "$OUT/big.epack" "$OUT/bin/verifyfile" "$OUT/big.epack"
