# Shared helpers for the benchmark scripts (sourced, not run).

# run CMD...: prints "<wall µs> <peak RSS KiB> <user+sys CPU s>" for one run.
run() {
  local t0 t1 rss=0 cpu=0 u s
  t0=$(date +%s%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M %U %S" -o "$OUT/rss.txt" "$@" >/dev/null 2>"$OUT/err.txt" || { echo "failed: $* ($(cat "$OUT/err.txt"))" >&2; exit 1; }
    read -r rss u s < <(tail -1 "$OUT/rss.txt")
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')
  else
    "$@" >/dev/null 2>"$OUT/err.txt" || { echo "failed: $*" >&2; exit 1; }
  fi
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000 )) $rss $cpu"
}

# best CMD...: best wall time (µs) over RUNS, the largest RSS seen and the
# CPU time of the best run. Set BEFORE to a command run before every attempt.
best() {
  local bt=999999999999 br=0 bc=0 t r c
  for _ in $(seq "$RUNS"); do
    if [ -n "${BEFORE:-}" ]; then eval "$BEFORE"; fi
    read -r t r c < <(run "$@")
    if (( t < bt )); then bt=$t; bc=$c; fi
    (( r > br )) && br=$r
  done
  echo "$bt $br $bc"
}
