#!/usr/bin/env bash
# Checks the progress display in a real, narrow terminal: it starts a
# detached 50x20 tmux session, runs `epack push` and `epack pull` of a
# 300 MiB pack to a filesystem registry in a temporary project there, and
# checks what the terminal shows:
#
#   * every in-place redraw (spinner, progress line) fits in 49 columns, so
#     nothing wraps (read from the raw pane output, tmux pipe-pane);
#   * the progress line showed bytes done/total, a rate and an ETA;
#   * once done, no progress line is left on screen, wrapped or stale, and
#     the download's step ends in one clean finished line (tmux capture-pane
#     -p, whole history, wrapped lines joined).
#
# Not part of CI. Run it from anywhere in the checkout:
#
#   apt-get install -y tmux        # if tmux is missing (also needs perl)
#   bench/tmux-progress.sh         # prints PASS or FAIL and the pane
#   KEEP=1 bench/tmux-progress.sh  # keep the temp folder (raw.log, pane.txt)
#
# WIDTH=80 bench/tmux-progress.sh runs the same checks at another width.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v tmux >/dev/null || { echo "tmux not found: apt-get install -y tmux" >&2; exit 2; }
command -v perl >/dev/null || { echo "perl not found" >&2; exit 2; }
WIDTH=${WIDTH:-50}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/epack-tmux.XXXXXX")
SESSION="epack-progress-$$"
CHANNEL="epack-progress-done-$$"
cleanup() {
  tmux kill-session -t "$SESSION" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "==> building epack" >&2
go build -o "$WORK/bin/" ./cmd/epack ./cmd/epack-remote-filesystem
EPACK="$WORK/bin/epack"

echo "==> a project with a filesystem registry and a 300 MiB pack" >&2
PROJ="$WORK/proj"
mkdir -p "$PROJ/data" "$PROJ/.epack/registry"
cat >"$PROJ/epack.yaml" <<'EOF'
stream: bench/progress
remotes:
  reg:
    adapter: filesystem
    target: {workspace: bench, environment: tmux}
    transport:
      file_root: .epack/registry
EOF
for i in 1 2 3 4; do head -c $((75 << 20)) /dev/urandom >"$PROJ/data/part$i.bin"; done
(cd "$PROJ" && CI= "$EPACK" lock reg -q && CI= "$EPACK" build big.epack data -q)
rm -rf "$PROJ/data"

# What the pane runs: push, pull, then tell this script it is done.
cat >"$WORK/run.sh" <<EOF
unset CI GITHUB_ACTIONS NO_COLOR EPACK_INSECURE_ALLOW_UNPINNED
cd "$PROJ"
"$EPACK" push reg big.epack --no-runs; echo "push exit \$?"
"$EPACK" pull reg -o pulled.epack; echo "pull exit \$?"
tmux wait-for -S "$CHANNEL"
EOF

echo "==> push and pull in a ${WIDTH}x20 tmux pane" >&2
tmux new-session -d -s "$SESSION" -x "$WIDTH" -y 20 sh
tmux pipe-pane -t "$SESSION" -o "cat >>'$WORK/raw.log'"
tmux send-keys -t "$SESSION" "sh '$WORK/run.sh'" Enter
tmux wait-for "$CHANNEL"
tmux capture-pane -t "$SESSION" -p -J -S - >"$WORK/pane.txt"
tmux pipe-pane -t "$SESSION"

fail=0
problem() { echo "FAIL: $*"; fail=1; }

grep -q '^push exit 0$' "$WORK/pane.txt" || problem "push did not succeed"
grep -q '^pull exit 0$' "$WORK/pane.txt" || problem "pull did not succeed"

# Raw output: each segment between \r and \n is one draw; escape sequences
# take no room. A draw that is followed by \r (redrawn) must fit in WIDTH-1.
perl -CSD -e '
  my $max = $ARGV[0] - 1; my ($bad, $seen) = (0, 0);
  local $/; my $raw = <STDIN>;
  $raw =~ s/\e\[[0-9;?]*[A-Za-z]//g;       # CSI sequences (colour, erase line)
  $raw =~ s/\e\][^\a]*\a//g;              # OSC (titles), should there be any
  $raw =~ s/\r+\n/\n/g;                    # the terminal turns each \n into \r\n
  for my $line (split /\n/, $raw) {
    my @draws = split /\r/, $line, -1;
    pop @draws;                           # the text the line ends with is checked on the captured screen
    for my $d (@draws) {
      next if $d eq "";
      $seen++ if $d =~ m{/s} && $d =~ /ETA [0-9]/ && $d =~ m{\d/\d| / \d};
      if (length($d) > $max) { print "FAIL: a redraw of ", length($d), " columns: [$d]\n"; $bad = 1 }
    }
  }
  print "FAIL: no progress line with bytes done/total, rate and ETA was drawn\n" unless $seen;
  exit($bad || !$seen);
' "$WIDTH" <"$WORK/raw.log" || fail=1

# The screen once everything finished: no progress line left, wrapped or
# not; the download step ends in exactly one finished line that fits.
if grep -nE 'ETA|█|░|--/s|(Uploading|Downloading) +[0-9 ]*[0-9.]+/' "$WORK/pane.txt"; then
  problem "progress lines left on screen (above)"
fi
done_lines=$(grep -cE '(✓|\[OK\]) +Downloading pack' "$WORK/pane.txt" || true)
[ "$done_lines" = 1 ] || problem "$done_lines finished 'Downloading pack' lines, want 1"
if grep -E '(✓|\[OK\]|✗|\[FAIL\]) +(Uploading|Downloading) pack' "$WORK/pane.txt" | perl -CSD -ne "chomp; exit 1 if length > $WIDTH - 1"; then :; else
  problem "a finished transfer line is wider than $((WIDTH - 1)) columns"
fi

echo "---- pane (${WIDTH} columns, wrapped lines joined) ----"
cat "$WORK/pane.txt"
echo "----"
if [ "$fail" = 0 ]; then echo "PASS: progress redraws within $((WIDTH - 1)) columns and finishes cleanly"; fi
exit "$fail"
