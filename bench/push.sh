#!/usr/bin/env bash
# Times `epack push` and `epack pull` of the benchmark packs against the
# embedded default registry (a local folder, file:// transfers) and prints
# them beside the floor commands on the same file: cp, cp + sync, and
# openssl dgst -md5 / -sha256 (push must compute both digests of the file).
# The S3 adapter is measured by the Go benchmarks in registry/s3store.
#
#   bench/push.sh              # packs in $BENCH_DIR (default /tmp/epack-bench)
#   RUNS=5 bench/push.sh       # best of 5 (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BENCH_DIR:-/tmp/epack-bench}
RUNS=${RUNS:-3}
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/" ./cmd/epack ./cmd/epack-remote-filesystem ./cmd/epack-remote-s3
go build -o "$OUT/bin/genpacks" ./bench/cmd/genpacks
"$OUT/bin/genpacks" "$OUT" >&2
. bench/lib.sh
EPACK="$OUT/bin/epack"

# A throw-away project with the filesystem remote, pinned.
PROJ="$OUT/proj"
rm -rf "$PROJ"
mkdir -p "$PROJ"
(cd "$PROJ" && "$EPACK" init --stream bench/packs -q && "$EPACK" lock local -q)

uptime >&2
printf '%-34s %9s %9s %8s\n' what wall_s cpu_s rss_MiB
line() { # label "wall rss cpu"
  read -r t r c <<<"$2"
  awk -v n="$1" -v t="$t" -v r="$r" -v c="$c" 'BEGIN { printf "%-34s %9.3f %9.2f %8.1f\n", n, t/1e6, c, r/1024 }'
}

big="$OUT/big.epack"
cat "$big" >/dev/null
line "cp big → registry folder" "$(BEFORE="rm -f '$PROJ/copy.bin'" best cp "$big" "$PROJ/copy.bin")"
line "cp + sync" "$(BEFORE="rm -f '$PROJ/copy.bin'" best sh -c "cp '$big' '$PROJ/copy.bin' && sync '$PROJ/copy.bin'")"
rm -f "$PROJ/copy.bin"
line "openssl dgst -md5" "$(best openssl dgst -md5 "$big")"
line "openssl dgst -sha256" "$(best openssl dgst -sha256 "$big")"
# Each push starts from an empty registry so the upload is never skipped.
cd "$PROJ"
line "epack push local big (1 GiB)" "$(BEFORE="rm -rf '$PROJ/.epack/registry' && mkdir -p '$PROJ/.epack/registry'" best "$EPACK" push local "$big" -q)"
line "epack pull local big (1 GiB)" "$(BEFORE="rm -f '$PROJ/pulled.epack'" best "$EPACK" pull local --all-streams -o "$PROJ/pulled.epack" -q)"
line "cp registry blob → pulled" "$(BEFORE="rm -f '$PROJ/pulled.epack'" best cp "$big" "$PROJ/pulled.epack")"
rm -f "$PROJ/pulled.epack"
line "epack push local tiny (4 calls)" "$(BEFORE="rm -rf '$PROJ/.epack/registry' && mkdir -p '$PROJ/.epack/registry'" RUNS=$(( RUNS * 5 )) best "$EPACK" push local "$OUT/tiny.epack" -q)"
line "epack push local many (5,000)" "$(BEFORE="rm -rf '$PROJ/.epack/registry' && mkdir -p '$PROJ/.epack/registry'" best "$EPACK" push local "$OUT/many.epack" -q)"

