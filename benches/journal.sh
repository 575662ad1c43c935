#!/usr/bin/env bash
# A journal export against the syslog log it holds, timed in alternation. Each round times
# `bouncestat ingest --threads 2 --out` on a generated Postfix log written as the entries
# `journalctl -o json` exports (`generate --journal`, about 1.2 kB an entry), then on the same
# log with RFC 3339 stamps (the same seed and number of lines: the same events), each just
# after its file is read into the page cache. Prints per round the seconds, MB/s and
# thousands of lines a second of both; then the medians, and whether the two datasets are
# byte-identical (they must be).
#
#   benches/journal.sh [ROUNDS]   default 5
#
# SIZE (default 1GiB) is the export's size; the syslog log holding its lines is about a
# seventh of it. BENCH_DIR and BIN as in compare.sh. Needs bash 5 (for $EPOCHREALTIME).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-5}
dir=${BENCH_DIR:-/tmp/bouncestat-bench}
size=${SIZE:-1GiB}
mkdir -p "$dir"
# shellcheck source=benches/common.sh
. benches/common.sh
bin=$(release_binary)
journal=$dir/postfix-$size.json
generated_log postfix "$size" "$journal" --journal
lines=$(wc -l < "$journal")
plain=$dir/postfix-$size.json-lines.log
if [ ! -s "$plain" ] || [ "$plain" -ot "$journal" ]; then
  "$bin" generate --lines "$lines" --seed 42 --timestamps rfc3339 -o "$plain" 2> /dev/null
fi

# Prints the seconds of one warm run of ingest with the dataset written into $2.
seconds() {
  local log=$1 out=$2 start end
  warm "$log"
  start=$EPOCHREALTIME
  "$bin" ingest "$log" --threads 2 --quiet --timezone UTC --out "$out" > /dev/null
  end=$EPOCHREALTIME
  awk -v a="$start" -v e="$end" 'BEGIN {printf "%.3f", e-a}'
}

rate() { # SECONDS FILE: MB/s and thousands of lines a second
  awk -v s="$1" -v b="$(stat -c %s "$2")" -v n="$lines" \
    'BEGIN {printf "%6.0f MB/s %6.0f klines/s", b/1e6/s, n/1e3/s}'
}

for log in "$journal" "$plain"; do
  awk -v f="$log" -v b="$(stat -c %s "$log")" -v n="$lines" \
    'BEGIN {printf "%s: %.1f MB, %d lines\n", f, b/1e6, n}'
done
echo "round  journal export                        syslog lines"
j_all=() p_all=()
for round in $(seq "$rounds"); do
  j=$(seconds "$journal" "$dir/out-journal")
  p=$(seconds "$plain" "$dir/out-journal-lines")
  printf '%5d  %6s s %s  %6s s %s\n' "$round" "$j" "$(rate "$j" "$journal")" "$p" "$(rate "$p" "$plain")"
  j_all+=("$j") p_all+=("$p")
done
j=$(median "${j_all[@]}")
p=$(median "${p_all[@]}")
printf 'median %6s s %s  %6s s %s\n' "$j" "$(rate "$j" "$journal")" "$p" "$(rate "$p" "$plain")"
if diff <(cd "$dir/out-journal" && find . -name '*.parquet' | sort | xargs cksum) \
  <(cd "$dir/out-journal-lines" && find . -name '*.parquet' | sort | xargs cksum) > /dev/null; then
  echo "datasets byte-identical: yes"
else
  echo "datasets byte-identical: NO"
  exit 1
fi
