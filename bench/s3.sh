#!/usr/bin/env bash
# Times `epack push` and `epack pull` of a 1 GiB pack through the S3 adapter
# against versitygw over https (started by the benchmark), beside a plain
# presigned PUT and GET of the same file to the same server in the same
# round: push in one PUT, in parts with Content-MD5 and
# x-amz-checksum-sha256, and in parts with x-amz-checksum-sha256 alone; pull
# in parallel ranges. Prints wall seconds, CPU seconds (epack and its
# adapters plus the server) and the ratios to the plain PUT/GET.
#
#   bench/s3.sh                 # 1 GiB, 1 round
#   ROUNDS=3 BYTES=268435456 bench/s3.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EPACK_BENCH_S3_BYTES=${BYTES:-1073741824} go test -run '^$' -bench S3PushPull -benchtime "${ROUNDS:-1}x" -timeout 60m ./internal/e2e |
  grep Benchmark | tr '\t' '\n' | sed -n 's/^ *\([0-9.]*\) \(.*\)$/\2 \1/p' | sort
uptime
