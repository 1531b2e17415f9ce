#!/usr/bin/env bash
# mutation.sh — how many deliberate breakages of the safety packages the test
# suite notices (mutation testing with gremlins v0.6.0, built once into the
# test cache outside the clone).
#
#   scripts/mutation.sh                 every safety package
#   scripts/mutation.sh transfer pull   just these (paths relative to the module)
#
# Prints, per package, killed / lived / timed-out mutants and the efficacy
# (killed / (killed + lived)). Mutants that cannot change behaviour are listed,
# each with its reason, in scripts/mutation-equivalent.txt (file:line:column
# and mutator); they are subtracted from "lived" and shown separately, never
# silently dropped. Slow (every mutant runs the package's tests): not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

GREMLINS_VERSION=v0.6.0
CACHE="${EPACK_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/epack-test}"
BIN="$CACHE/gremlins-$GREMLINS_VERSION/gremlins"
if [ ! -x "$BIN" ]; then
  echo "building gremlins $GREMLINS_VERSION into $(dirname "$BIN")" >&2
  mkdir -p "$(dirname "$BIN")"
  GOBIN="$(dirname "$BIN")" go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
fi

pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
  pkgs=(pack transfer internal/retry remote push pull registry internal/safefile internal/sealedexec)
fi
EQUIV="$PWD/scripts/mutation-equivalent.txt"
out=$(mktemp -d "${TMPDIR:-/tmp}/epack-mutation.XXXXXX")
trap 'rm -rf "$out"' EXIT

printf '%-22s %7s %6s %8s %6s %9s\n' package killed lived equiv timeout efficacy
for p in "${pkgs[@]}"; do
  p="${p#./}"
  name=$(echo "$p" | tr / _)
  # Only this package's own files are mutated (-E /: not those of its
  # subpackages, which have their own line); its own tests judge them.
  "$BIN" unleash --workers "${EPACK_MUTATION_WORKERS:-2}" --timeout-coefficient 5 -E / \
      --output "$out/$name.json" "./$p" >"$out/$name.log" 2>&1 || true
  if [ ! -s "$out/$name.json" ]; then
    echo "$p: gremlins produced no result:"; tail -20 "$out/$name.log"; continue
  fi
  go run ./internal/tools/mutationreport -pkg "$p" -equivalent "$EQUIV" "$out/$name.json"
done
