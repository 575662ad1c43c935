#!/usr/bin/env bash
# Peak memory against input size: `bouncestat ingest --threads 2 --out` on generated Postfix
# logs of several sizes (same generator and seed: a larger log covers more hours of the same
# day at the same rate). The figure is the benchmark issue's: the peak resident anonymous
# memory (RSS without the pages of the mapped input), sampled every 10 ms, in MiB. Prints each
# run's peak, their median, and the median against the first size's.
#
#   benches/memory.sh                SIZES (default "1GiB 4GiB") as `generate --size` takes them
#
# Environment: BENCH_DIR (default /tmp/bouncestat-bench) holds the generated logs (a 4 GiB log
# needs 4.3 GB of disk, and about 20 s to generate); RUNS (default 3) runs per size; BIN as in
# compare.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${BENCH_DIR:-/tmp/bouncestat-bench}
runs=${RUNS:-3}
read -r -a sizes <<< "${SIZES:-1GiB 4GiB}"
mkdir -p "$dir"
# shellcheck source=benches/common.sh
. benches/common.sh
bin=$(release_binary)

printf '| %-6s | %8s | %-26s | %6s | %8s |\n' log MB "peak anon MiB, each run" median "vs first"
printf '|%s|%s|%s|%s|%s|\n' -------- ---------- ---------------------------- -------- ----------
first=
for size in "${sizes[@]}"; do
  log=$dir/postfix-$size.log
  generated_log postfix "$size" "$log"
  peaks=()
  for _ in $(seq "$runs"); do
    rm -rf "$dir/out-memory"
    peaks+=("$(peak_anon "$bin" ingest "$log" --threads 2 --quiet --timezone UTC --out "$dir/out-memory")")
  done
  median=$(printf '%s\n' "${peaks[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  first=${first:-$median}
  each=$(printf '%s\n' "${peaks[@]}" | awk '{printf "%s%.1f", (NR > 1 ? " " : ""), $1/1024}')
  awk -v s="$size" -v b="$(stat -c %s "$log")" -v e="$each" -v m="$median" -v f="$first" 'BEGIN {
    printf "| %-6s | %8.0f | %-26s | %6.1f | %7.2fx |\n", s, b/1e6, e, m/1024, m/f
  }'
done
rm -rf "$dir/out-memory"
