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
"$OUT/bin/genpacks" "$OUT" >&2

# run CMD...: prints "<wall seconds> <peak RSS KiB>" for one run.
run() {
  local t0 t1 rss=n/a
  t0=$(date +%s%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o "$OUT/rss.txt" "$@" >/dev/null 2>"$OUT/err.txt" || { echo "failed: $* ($(cat "$OUT/err.txt"))" >&2; exit 1; }
    rss=$(tail -1 "$OUT/rss.txt")
  else
    "$@" >/dev/null 2>"$OUT/err.txt" || { echo "failed: $*" >&2; exit 1; }
  fi
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000 )) $rss"
}

# best CMD...: best wall time (µs) over RUNS and the largest RSS seen.
best() {
  local bt=999999999999 br=0 t r
  for _ in $(seq "$RUNS"); do
    read -r t r < <(run "$@")
    (( t < bt )) && bt=$t
    [ "$r" != n/a ] && (( r > br )) && br=$r
  done
  echo "$bt $br"
}

printf '%-12s %10s %10s %14s %8s %14s\n' pack size_MiB verify_s openssl_sha256_s ratio verify_rss_MiB
for name in tiny many big; do
  f="$OUT/$name.epack"
  cat "$f" >/dev/null # warm the page cache for both commands
  read -r vt vr < <(best "$OUT/bin/epack" verify -q "$f")
  read -r ot _ < <(best openssl dgst -sha256 "$f")
  size=$(stat -c %s "$f")
  awk -v n="$name" -v s="$size" -v vt="$vt" -v ot="$ot" -v vr="$vr" 'BEGIN {
    printf "%-12s %10.1f %10.3f %14.3f %8.2f %14.1f\n", n, s/1048576, vt/1e6, ot/1e6, (ot > 0 ? vt/ot : 0), vr/1024 }'
done
