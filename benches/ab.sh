#!/usr/bin/env bash
# Two builds of bouncestat timed in alternation on one input: A, B, A, B... On a shared
# machine whose speed drifts within minutes, rows timed apart mostly measure the drift;
# alternating runs see the same machine. Prints the median wall and CPU (user + system) time
# of each, in milliseconds, and every run's wall time.
#
#   benches/ab.sh FILE RUNS BIN_A BIN_B [INGEST ARGS...]
#
# Each run is `BIN ingest FILE --out DIR [INGEST ARGS...]` (for example `--threads 1`,
# `--quiet`), just after FILE is read into the page cache. Outputs go to BENCH_DIR (default
# /tmp/bouncestat-bench). Needs GNU time (/usr/bin/time).
set -euo pipefail

if [ $# -lt 4 ]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
file=$1 runs=$2 bin_a=$3 bin_b=$4
shift 4
dir=${BENCH_DIR:-/tmp/bouncestat-bench}
mkdir -p "$dir"

walls_a=() walls_b=() cpus_a=() cpus_b=()
for _ in $(seq "$runs"); do
  for which in a b; do
    if [ $which = a ]; then bin=$bin_a; else bin=$bin_b; fi
    cat "$file" > /dev/null
    /usr/bin/time -o "$dir/.ab-time" -f "%e %U %S" \
      "$bin" ingest "$file" --out "$dir/out-ab-$which" "$@" > /dev/null 2>&1
    read -r wall cpu < <(tail -1 "$dir/.ab-time" |
      awk '{printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000}')
    if [ $which = a ]; then
      walls_a+=("$wall") cpus_a+=("$cpu")
    else
      walls_b+=("$wall") cpus_b+=("$cpu")
    fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "A wall $(median "${walls_a[@]}") ms, cpu $(median "${cpus_a[@]}") ms   [${walls_a[*]}]"
echo "B wall $(median "${walls_b[@]}") ms, cpu $(median "${cpus_b[@]}") ms   [${walls_b[*]}]"
