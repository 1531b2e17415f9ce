#!/usr/bin/env bash
# versitygw.sh — the real S3 server epack's tests run against.
#
#   scripts/versitygw.sh install   build versitygw v1.8.0 once into the cache folder
#   scripts/versitygw.sh start     start it on 127.0.0.1:<free port> (posix backend, temp dir)
#                                  and write the test environment to $EPACK_VGW_ENV_FILE
#   scripts/versitygw.sh stop      stop the server started by `start` and remove its data
#   scripts/versitygw.sh env       print the env file (source it: `. "$(scripts/versitygw.sh envfile)"`)
#   scripts/versitygw.sh envfile   print the env file path
#
# Cache folder: ${EPACK_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/epack-test}; the binary is
# <cache>/bin-v1.8.0/versitygw, outside the clone so a fresh CI clone reuses it.
# Root credentials: $ROOT_ACCESS_KEY / $ROOT_SECRET_KEY when set, otherwise random ones.
# The env file sets EPACK_TEST_S3_ENDPOINT, EPACK_TEST_S3_ACCESS_KEY, EPACK_TEST_S3_SECRET_KEY
# (read by internal/testenv) and EPACK_TEST_S3_PID / EPACK_TEST_S3_DIR (used by `stop`).
set -euo pipefail

VGW_VERSION=v1.8.0
CACHE="${EPACK_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/epack-test}"
BIN_DIR="$CACHE/bin-$VGW_VERSION"
BIN="$BIN_DIR/versitygw"
STATE_DIR="${EPACK_VGW_STATE_DIR:-${TMPDIR:-/tmp}/epack-versitygw-$(id -u)}"
ENV_FILE="${EPACK_VGW_ENV_FILE:-$STATE_DIR/env}"

die() { echo "versitygw.sh: $*" >&2; exit 1; }

install_vgw() {
	if [ -x "$BIN" ]; then
		echo "versitygw $VGW_VERSION present: $BIN" >&2
		return 0
	fi
	command -v go >/dev/null 2>&1 || die "go is needed to build versitygw"
	mkdir -p "$BIN_DIR"
	echo "building versitygw $VGW_VERSION into $BIN_DIR (takes a few minutes, once)" >&2
	GOBIN="$BIN_DIR" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VGW_VERSION" \
		|| die "go install versitygw failed"
	[ -x "$BIN" ] || die "versitygw not found at $BIN after install"
}

free_port() {
	# Ask the kernel for a free loopback port.
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
	else
		# Fallback: pick random high ports until one is not listening.
		local p
		for _ in $(seq 1 50); do
			p=$(( (RANDOM % 20000) + 30000 ))
			if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
		done
		die "no free port found"
	fi
}

rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

start_vgw() {
	[ -x "$BIN" ] || install_vgw
	if [ -f "$ENV_FILE" ]; then
		# shellcheck disable=SC1090
		. "$ENV_FILE"
		if [ -n "${EPACK_TEST_S3_PID:-}" ] && kill -0 "$EPACK_TEST_S3_PID" 2>/dev/null; then
			echo "versitygw already running (pid $EPACK_TEST_S3_PID) at $EPACK_TEST_S3_ENDPOINT" >&2
			echo "$ENV_FILE"
			return 0
		fi
	fi
	mkdir -p "$STATE_DIR"
	chmod 700 "$STATE_DIR"
	local data port access secret pid
	data=$(mktemp -d "$STATE_DIR/data.XXXXXX")
	mkdir -p "$data/gw"
	access="${ROOT_ACCESS_KEY:-epack$(rand_hex 6)}"
	secret="${ROOT_SECRET_KEY:-$(rand_hex 20)}"
	local tries=0
	while :; do
		port=$(free_port)
		ROOT_ACCESS_KEY="$access" ROOT_SECRET_KEY="$secret" \
			nohup "$BIN" --port "127.0.0.1:$port" --quiet posix "$data/gw" \
			>"$data/versitygw.log" 2>&1 </dev/null &
		pid=$!
		# Ready when the port answers HTTP.
		local ok=0
		for _ in $(seq 1 100); do
			if ! kill -0 "$pid" 2>/dev/null; then break; fi
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok=1; break; fi
			sleep 0.1
		done
		if [ "$ok" = 1 ]; then break; fi
		kill "$pid" 2>/dev/null || true
		tries=$((tries + 1))
		[ "$tries" -lt 3 ] || { cat "$data/versitygw.log" >&2; die "versitygw did not start"; }
	done
	umask 077
	cat >"$ENV_FILE" <<EOF
export EPACK_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export EPACK_TEST_S3_ACCESS_KEY=$access
export EPACK_TEST_S3_SECRET_KEY=$secret
export EPACK_TEST_S3_PID=$pid
export EPACK_TEST_S3_DIR=$data
EOF
	echo "versitygw $VGW_VERSION started (pid $pid) at http://127.0.0.1:$port; env: $ENV_FILE" >&2
	echo "$ENV_FILE"
}

stop_vgw() {
	[ -f "$ENV_FILE" ] || { echo "versitygw not running (no $ENV_FILE)" >&2; return 0; }
	# shellcheck disable=SC1090
	. "$ENV_FILE"
	if [ -n "${EPACK_TEST_S3_PID:-}" ] && kill -0 "$EPACK_TEST_S3_PID" 2>/dev/null; then
		kill "$EPACK_TEST_S3_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$EPACK_TEST_S3_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$EPACK_TEST_S3_PID" 2>/dev/null || true
	fi
	case "${EPACK_TEST_S3_DIR:-}" in
	"$STATE_DIR"/data.*) rm -rf "$EPACK_TEST_S3_DIR" ;;
	esac
	rm -f "$ENV_FILE"
	echo "versitygw stopped" >&2
}

case "${1:-}" in
install) install_vgw ;;
start) start_vgw ;;
stop) stop_vgw ;;
env) cat "$ENV_FILE" ;;
envfile) echo "$ENV_FILE" ;;
*) echo "usage: $0 install|start|stop|env|envfile" >&2; exit 2 ;;
esac
