#!/usr/bin/env bash
# Times `epack push` / `epack pull` of the 1 GiB benchmark pack through
# epack-remote-oci against a local OCI registry (Debian's docker-registry,
# distribution 2.8, on 127.0.0.1 with TLS and htpasswd auth, started by
# internal/testenv/ociserver) and prints them beside `oras push` / `oras pull`
# of the same file to the same registry, and the ratios.
#
# Every push goes to a fresh namespace, so neither tool can skip the upload.
# With credentials the adapter uploads the pack itself (the host never gets
# them): epack verifies the pack (SHA-256 + MD5 while reading it), the
# adapter reads it again while sending; oras hashes the file, then sends it.
#
#   bench/oci.sh              # packs in $BENCH_DIR (default /tmp/epack-bench)
#   RUNS=5 bench/oci.sh       # best of 5 (default 3)
# Needs docker-registry (apt-get install docker-registry) and oras
# (go install oras.land/oras/cmd/oras@v1.3.6; scripts/test.sh caches it).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BENCH_DIR:-/tmp/epack-bench}
RUNS=${RUNS:-3}
CACHE="${EPACK_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/epack-test}"
ORAS=${ORAS:-$CACHE/bin-oras-v1.3.6/oras}
[ -x "$ORAS" ] || ORAS=$(command -v oras) || { echo "oras not found (scripts/test.sh installs it)" >&2; exit 1; }
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/" ./cmd/epack ./cmd/epack-remote-oci
go build -o "$OUT/bin/genpacks" ./bench/cmd/genpacks
go build -o "$OUT/bin/ociserver" ./internal/testenv/ociserver
"$OUT/bin/genpacks" "$OUT" >&2
. bench/lib.sh
EPACK="$OUT/bin/epack"

ENVF="$OUT/oci.env"
rm -f "$ENVF"
"$OUT/bin/ociserver" -env-file "$ENVF" >"$OUT/ociserver.log" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null || true; wait $SRV 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do [ -f "$ENVF" ] && break; kill -0 $SRV || { cat "$OUT/ociserver.log" >&2; exit 1; }; sleep 0.1; done
. "$ENVF"
export OCI_USERNAME=$EPACK_TEST_OCI_USERNAME OCI_PASSWORD=$EPACK_TEST_OCI_PASSWORD
REG=$EPACK_TEST_OCI_HOST

PROJ="$OUT/ociproj"
rm -rf "$PROJ"
mkdir -p "$PROJ"
yaml() { # namespace
  cat >"$PROJ/epack.yaml" <<EOF
stream: bench/big
remotes:
  oci:
    adapter: oci
    transport:
      file_root: .epack/oci
    secrets: [OCI_USERNAME, OCI_PASSWORD]
    timeout: 30m
    extensions:
      registry: $REG
      namespace: $1
      ca_file: $EPACK_TEST_OCI_CA_FILE
EOF
}
yaml n0
(cd "$PROJ" && "$EPACK" lock oci -q)
fresh() { # a new namespace for epack.yaml and for oras (in $OUT/ns)
  local ns
  ns="n$(date +%s%N)"
  yaml "$ns"
  echo "$REG/$ns/bench/big" >"$OUT/ns"
}
ORASFLAGS=(--ca-file "$EPACK_TEST_OCI_CA_FILE" -u "$OCI_USERNAME" -p "$OCI_PASSWORD")
export HOME="$OUT/orashome" # no Docker config of the user's
mkdir -p "$HOME"

uptime >&2
printf '%-40s %9s %9s %8s\n' what wall_s cpu_s rss_MiB
line() { # label "wall rss cpu"
  read -r t r c <<<"$2"
  awk -v n="$1" -v t="$t" -v r="$r" -v c="$c" 'BEGIN { printf "%-40s %9.3f %9.2f %8.1f\n", n, t/1e6, c, r/1024 }'
}
big="$OUT/big.epack"
cp "$big" "$OUT/big-oras.epack" # the same bytes under the name oras uploads
cat "$big" >/dev/null
line "epack verify big (part of every push)" "$(best "$EPACK" verify "$big" -q)"
cd "$PROJ"
e=$(BEFORE=fresh best "$EPACK" push oci "$big" -q)
line "epack push oci big (1 GiB)" "$e"
cp "$PROJ/epack.yaml" "$OUT/epack-pushed.yaml"
o=$(BEFORE=fresh best sh -c "cd '$OUT' && '$ORAS' push \"\$(cat '$OUT/ns'):v1\" --artifact-type application/vnd.evidencepack.pack.v1 big-oras.epack:application/vnd.evidencepack.pack.v1+zip ${ORASFLAGS[*]}")
line "oras push big (1 GiB)" "$o"
# Pulls read the last namespace each tool pushed to.
cp "$OUT/epack-pushed.yaml" "$PROJ/epack.yaml"
ep=$(BEFORE="rm -f '$PROJ/pulled.epack'" best "$EPACK" pull oci -o "$PROJ/pulled.epack" -q)
line "epack pull oci big (verified)" "$ep"
op=$(BEFORE="rm -rf '$OUT/orasout'" best "$ORAS" pull "$(cat "$OUT/ns"):v1" -o "$OUT/orasout" "${ORASFLAGS[@]}")
line "oras pull big" "$op"
rm -rf "$OUT/orasout" "$PROJ/pulled.epack" "$OUT/big-oras.epack"
ratio() { awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { printf "%.2f", a/b }'; }
echo "push: epack/oras = $(ratio "$e" "$o")×   pull: epack/oras = $(ratio "$ep" "$op")×"
