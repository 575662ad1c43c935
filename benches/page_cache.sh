#!/usr/bin/env bash
# How the page cache holds a plain log changes what a mapped ingest costs. `ingest` maps a
# plain file and has each block's pages mapped in one call before it is parsed (and dropped
# after): the kernel's cost of that is per page table entry, so a file cached in small pages
# (a log appended to line by line, as syslog writes it) costs more to map than the same bytes
# cached in large folios (written in large, aligned writes, as `dd bs=2M` writes them; on
# kernels whose file system caches in large folios, such as ext4 on Linux 6.18).
#
# This writes the first SIZE MiB of a log twice, in 4 KiB writes and in 2 MiB writes, checks
# the two copies are the same bytes, and times the same build on each in alternation with
# benches/ab.sh (A: the 4 KiB copy, B: the 2 MiB copy).
#
#   benches/page_cache.sh [LOG [SIZE_MIB [ROUNDS]]]
#
# LOG defaults to the benchmark's 1 GiB Postfix log in BENCH_DIR (default
# /tmp/bouncestat-bench; run benches/compare.sh first), SIZE_MIB to 512, ROUNDS to 10. Extra
# `ingest` arguments go in INGEST_ARGS (default `--threads 2`). BIN as in compare.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/common.sh
. benches/common.sh

dir=${BENCH_DIR:-/tmp/bouncestat-bench}
log=${1:-$dir/postfix-1GiB.log}
size=${2:-512}
rounds=${3:-10}
bin=$(release_binary)
[ -s "$log" ] || {
  echo "page_cache.sh: no $log (benches/compare.sh writes it)" >&2
  exit 2
}

small=$dir/page-cache-4k.log large=$dir/page-cache-2m.log
rm -f "$small" "$large"
dd if="$log" of="$small" bs=4k count=$((size * 256)) status=none
dd if="$log" of="$large" bs=2M count=$((size / 2)) status=none
cmp "$small" "$large"
echo "$size MiB of $log, written in 4 KiB writes (A) and in 2 MiB writes (B):"
# shellcheck disable=SC2086
FILE_B=$large benches/ab.sh "$small" "$rounds" "$bin" "$bin" ${INGEST_ARGS:---threads 2}
rm -f "$small" "$large"
