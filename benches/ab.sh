#!/usr/bin/env bash
# Two builds of bouncestat timed in alternation on one input. On a shared machine whose speed
# drifts within minutes, rows timed apart mostly measure the drift; alternating runs see the
# same machine. Each round runs A, B, B, A (so that neither build always runs first after
# the other) and gives one ratio B/A of the round's summed times. Prints the median wall and
# CPU (user + system) time of each build in milliseconds, every run's wall time, and the
# median of the per-round ratios with a 95% bootstrap interval: a change is real when the
# interval excludes 1.
#
#   benches/ab.sh FILE ROUNDS BIN_A BIN_B [INGEST ARGS...]
#
# Each run is `BIN ingest FILE --out DIR [INGEST ARGS...]` (for example `--threads 1`,
# `--quiet`), just after FILE is read into the page cache. With FILE_B set, B's runs read
# that file instead (the same build on two inputs: BIN_A and BIN_B may then be the same).
# Outputs go to BENCH_DIR (default /tmp/bouncestat-bench). This machine needs 40-50 rounds on
# a 100 MB log to tell a 3% change from its noise. Needs GNU time (/usr/bin/time).
set -euo pipefail

if [ $# -lt 4 ]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
file=$1 rounds=$2 bin_a=$3 bin_b=$4
shift 4
dir=${BENCH_DIR:-/tmp/bouncestat-bench}
mkdir -p "$dir"

walls_a=() walls_b=() cpus_a=() cpus_b=()
time_one() {
  local which=$1 bin input=$file
  shift
  if [ "$which" = a ]; then bin=$bin_a; else bin=$bin_b input=${FILE_B:-$file}; fi
  cat "$input" > /dev/null
  /usr/bin/time -o "$dir/.ab-time" -f "%e %U %S" \
    "$bin" ingest "$input" --out "$dir/out-ab-$which" "$@" > /dev/null 2>&1
  read -r wall cpu < <(tail -1 "$dir/.ab-time" |
    awk '{printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000}')
  if [ "$which" = a ]; then
    walls_a+=("$wall") cpus_a+=("$cpu")
  else
    walls_b+=("$wall") cpus_b+=("$cpu")
  fi
}
for _ in $(seq "$rounds"); do
  for which in a b b a; do
    time_one "$which" "$@"
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "A wall $(median "${walls_a[@]}") ms, cpu $(median "${cpus_a[@]}") ms   [${walls_a[*]}]"
echo "B wall $(median "${walls_b[@]}") ms, cpu $(median "${cpus_b[@]}") ms   [${walls_b[*]}]"

# Per round, (B + B) / (A + A); the median of the ratios, and the 2.5th and 97.5th
# percentiles of the medians of 2,000 resamples of the rounds.
ratios() {
  local -n a=$1 b=$2
  local i
  for ((i = 0; i < ${#a[@]}; i += 2)); do
    echo "${a[i]} ${a[i + 1]} ${b[i]} ${b[i + 1]}"
  done | awk -v what="$3" 'BEGIN { srand(42) }
    function med(x, n,   i, j, t) {
      for (i = 2; i <= n; i++) { t = x[i]; for (j = i - 1; j >= 1 && x[j] > t; j--) x[j + 1] = x[j]; x[j + 1] = t }
      return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
    }
    { r[NR] = ($1 + $2 > 0) ? ($3 + $4) / ($1 + $2) : 1; wins += r[NR] < 1 }
    END {
      n = NR; for (i = 1; i <= n; i++) c[i] = r[i]; m = med(c, n)
      for (k = 1; k <= 2000; k++) { for (i = 1; i <= n; i++) s[i] = r[int(rand() * n) + 1]; boot[k] = med(s, n) }
      med(boot, 2000)
      printf "B/A %s: median %.3f, 95%% interval %.3f-%.3f, B faster in %d of %d rounds\n", what, m, boot[50], boot[1951], wins, n
    }'
}
ratios walls_a walls_b wall
ratios cpus_a cpus_b cpu
