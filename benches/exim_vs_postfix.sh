#!/usr/bin/env bash
# Exim ingest against Postfix ingest, run in alternation so that both see the same machine.
# The two rows of compare.sh are timed half a minute apart, and on a VM whose speed drifts
# that alone can move their ratio by 10%. Here each round times `bouncestat ingest --threads 2
# --out` on the generated Postfix log, then on the generated Exim log, each just after its
# file is read into the page cache, and prints the MB/s of both and their ratio; then the
# medians. A ratio of at least 1 means Exim is read at least as fast as Postfix.
#
#   benches/exim_vs_postfix.sh [ROUNDS]   default 11
#
# Both logs are the same size by default: EXIM_SIZE (default 300MiB, the Exim log of
# compare.sh) for Exim, SIZE (default EXIM_SIZE) for Postfix. A run has costs that do not
# grow with its input (start-up, the last blocks that leave a core idle, sorting and encoding
# the dataset, whose rows grow far slower than the log), and they weigh more on a smaller
# file: a 300 MiB log against a 1 GiB one compares sizes as much as formats. SIZE=1GiB times
# the pair compare.sh's table shows. Logs are generated when missing or written by another
# generator (seed 42, as compare.sh does): BENCH_DIR as there; BIN as there. Needs bash 5 (for $EPOCHREALTIME).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-11}
dir=${BENCH_DIR:-/tmp/bouncestat-bench}
exim_size=${EXIM_SIZE:-300MiB}
size=${SIZE:-$exim_size}
mkdir -p "$dir"
# shellcheck source=benches/common.sh
. benches/common.sh
bin=$(release_binary)
postfix=$dir/postfix-$size.log
exim=$dir/exim-$exim_size.log
generated_log postfix "$size" "$postfix"
generated_log exim "$exim_size" "$exim"

# Prints the MB/s of one warm run of ingest with the dataset written.
mbps() {
  local log=$1 out=$2 start end
  cat "$log" > /dev/null
  start=$EPOCHREALTIME
  "$bin" ingest "$log" --threads 2 --quiet --timezone UTC --out "$out" > /dev/null
  end=$EPOCHREALTIME
  awk -v b="$(stat -c %s "$log")" -v a="$start" -v e="$end" 'BEGIN {printf "%.0f", b/1e6/(e-a)}'
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for log in "$postfix" "$exim"; do
  awk -v f="$log" -v b="$(stat -c %s "$log")" 'BEGIN {printf "%s: %.1f MB\n", f, b/1e6}'
done
echo "round  postfix MB/s  exim MB/s  exim/postfix"
p_all=() e_all=() r_all=()
for round in $(seq "$rounds"); do
  p=$(mbps "$postfix" "$dir/out-pair-postfix")
  e=$(mbps "$exim" "$dir/out-pair-exim")
  r=$(awk -v p="$p" -v e="$e" 'BEGIN {printf "%.3f", e/p}')
  printf '%5d  %12s  %9s  %12s\n' "$round" "$p" "$e" "$r"
  p_all+=("$p") e_all+=("$e") r_all+=("$r")
done
printf 'median %11s  %9s  %12s\n' "$(printf '%s\n' "${p_all[@]}" | median)" \
  "$(printf '%s\n' "${e_all[@]}" | median)" "$(printf '%s\n' "${r_all[@]}" | median)"
