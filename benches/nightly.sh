#!/usr/bin/env bash
# The nightly job with a suppression list: night after night, `bouncestat ingest --out DIR
# --suppressions FILE` reads one day's Postfix log into the same dataset, so the per-address
# record (DIR/_recipients.parquet) holds more days each night and every run reads it back and
# writes it again. Prints, per night, the run's wall time; its peak anonymous memory (the
# benchmark issue's figure, see peak_anon in common.sh), sampled in a second, untimed run of
# the same night, which reads the record the first one wrote and writes it again the same;
# the rows of earlier days read back from the record; the record's size; and the addresses
# listed.
#
#   benches/nightly.sh
#
# Environment: NIGHTS (default 20) nights, NIGHT_SIZE (default 100MB) each night's log as
# `generate --size` takes it; each night is its own seed and day (from 2025-06-01 on), at a
# rate that spreads its log over most of the day. START (default 00:00:01) is the time of day
# each night's log begins: with 22:00:00 a 100 MB log runs past midnight, as a log rotated in
# the evening does, so every day but the first is read in two stretches, by two nights, and
# kept as two shares (the run prints `added to 1 day(s)...`). KEEP_DAYS, when set, runs each
# night with `--keep-days KEEP_DAYS`: the dataset keeps that many days, and the record forgets
# the rows before them that deliveries cleared. BENCH_DIR (default /tmp/bouncestat-bench)
# holds the logs and the dataset; BIN as in compare.sh. Needs GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${BENCH_DIR:-/tmp/bouncestat-bench}/nightly
nights=${NIGHTS:-20}
size=${NIGHT_SIZE:-100MB}
start=${START:-00:00:01}
mkdir -p "$dir"
# shellcheck source=benches/common.sh
. benches/common.sh
bin=$(release_binary)
out=$dir/dataset
rm -rf "$out" "$dir/suppressions.csv"
keep=()
[ -z "${KEEP_DAYS:-}" ] || keep=(--keep-days "$KEEP_DAYS")

printf '| %5s | %-10s | %7s | %13s | %14s | %9s | %8s |\n' night day "wall s" "peak anon MiB" "rows read back" "record kB" listed
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------- ------------ --------- --------------- ---------------- ----------- ----------
for night in $(seq "$nights"); do
  day=$(date -u -d "2025-06-01 + $((night - 1)) days" +%F)
  log=$dir/night-$night-$size.log
  [ "$start" = 00:00:01 ] || log=$dir/night-$night-$size-${start//:/}.log
  if [ ! -s "$log" ]; then
    "$bin" generate --size "$size" --seed "$night" --rate 6 --start "${day}T${start}Z" \
      -o "$log" 2> /dev/null
  fi
  warm "$log"
  /usr/bin/time -f '%e %M' -o "$dir/time" "$bin" ingest "$log" --quiet --timezone UTC \
    --out "$out" --suppressions "$dir/suppressions.csv" "${keep[@]}" > "$dir/stdout" 2> "$dir/stderr" || {
    cat "$dir/stderr" >&2
    exit 1
  }
  read -r wall _ < "$dir/time"
  rss=$(peak_anon "$bin" ingest "$log" --quiet --timezone UTC --out "$out" \
    --suppressions "$dir/suppressions.csv" "${keep[@]}")
  rows=$(grep -o "and [0-9]* strike(s) and deliveries of other days" "$dir/stdout" | grep -o '[0-9]*' || echo 0)
  listed=$(($(wc -l < "$dir/suppressions.csv") - 1))
  kb=$(($(stat -c %s "$out/_recipients.parquet") / 1000))
  awk -v n="$night" -v d="$day" -v w="$wall" -v m="$rss" -v r="$rows" -v k="$kb" -v l="$listed" \
    'BEGIN { printf "| %5s | %-10s | %7s | %13.1f | %14s | %9s | %8s |\n", n, d, w, m / 1024, r, k, l }'
done
