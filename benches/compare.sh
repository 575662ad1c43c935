#!/usr/bin/env bash
# End-to-end throughput of the release binary on a generated Postfix log and a generated Exim
# mainlog, next to the floors of the machine (a line count and a substring count over the
# Postfix log). "vs ingest" compares times with the first row (different sizes for Exim rows).
# The Postfix log is also compressed once with gzip -6 and zstd -3: `bouncestat ingest` on each
# compressed file is timed next to `bouncestat decode` on it (our own reader decoding and
# discarding the blocks, the ceiling for ingest), and the ratio of the two is printed at the end.
# The end also says what two busy cores give this machine: a 1-thread ingest and `zstd -dc`
# alone against two copies at once. MB/s is always of uncompressed log text. Last, the
# targets' ratios (2 threads against 1; ingest against decode-only for gzip and zstd; two
# .gz files on 2 cores against 1) are
# measured again with their two commands in alternation, which this machine's drift cannot
# bias the way it biases two rows timed minutes apart.
#
#   benches/compare.sh [SIZE]        SIZE as `generate --size` takes it; default 1GiB
#
# Environment: EXIM_SIZE (default 300MiB) sizes the Exim log; BENCH_DIR (default /tmp/bouncestat-bench) holds the generated log and outputs;
# RUNS (default 5) timed runs per command, of which the median is shown. The page cache is
# warm: the input files of a command are read just before each of its runs. Needs GNU time
# (/usr/bin/time) and bash 5 (for $EPOCHREALTIME).
# The binary is the release build in $CARGO_TARGET_DIR (default target/), built first, or $BIN
# when set (for example the PGO build of scripts/build-pgo.sh).
#
# Other tools are timed when installed and skipped otherwise:
#   pflogsumm   apt-get install pflogsumm
#   duckdb      pip install duckdb
#   zstd        apt-get install zstd (without it the .zst file is written by `bouncestat generate`)
#   eximstats   a Perl script that needs only core modules. `apt-get install exim4-base` also
#               installs exim4-config (no daemon); to get the script alone, without an MTA:
#                 apt-get download exim4-base && dpkg-deb -x exim4-base_*.deb /tmp/exim4-base
#                 install -m 0755 /tmp/exim4-base/usr/sbin/eximstats /usr/local/bin/
set -euo pipefail
cd "$(dirname "$0")/.."

size=${1:-1GiB}
dir=${BENCH_DIR:-/tmp/bouncestat-bench}
runs=${RUNS:-5}
mkdir -p "$dir"
# shellcheck source=benches/common.sh
. benches/common.sh
bin=$(release_binary)
log=$dir/postfix-$size.log
half1=$dir/postfix-$size.half1.log.gz
half2=$dir/postfix-$size.half2.log.gz
generated_log postfix "$size" "$log" --truth "$dir/postfix-$size.truth.json"
bytes=$(stat -c %s "$log")
# The same log compressed, for the decode and compressed-ingest rows and the decoder floors.
[ -s "$log.gz" ] || gzip -c -6 "$log" > "$log.gz"
if [ ! -s "$log.zst" ]; then
  if command -v zstd > /dev/null; then
    zstd -q -3 -T0 -f "$log" -o "$log.zst"
  else
    # Same seed and size, so the same text.
    "$bin" generate --format postfix --size "$size" --seed 42 --compress zstd -o "$log.zst" 2>/dev/null
  fi
fi
# The same log as two gzip files (its halves, cut at a line), for the several-files rows.
if [ ! -s "$half1" ] || [ ! -s "$half2" ]; then
  split -n l/2 -d "$log" "$dir/.half"
  gzip -c -6 "$dir/.half00" > "$half1"
  gzip -c -6 "$dir/.half01" > "$half2"
  rm -f "$dir/.half00" "$dir/.half01"
fi
exim_log=$dir/exim-${EXIM_SIZE:-300MiB}.log
generated_log exim "${EXIM_SIZE:-300MiB}" "$exim_log"
exim_bytes=$(stat -c %s "$exim_log")
cat "$log" "$log.gz" "$log.zst" "$half1" "$half2" "$exim_log" > /dev/null   # warm the page cache

# Runs a command $runs times, each time just after warming its inputs; prints
# "median_seconds peak_rss_kb".
measure() {
  local times=() peak=0
  for _ in $(seq "$runs"); do
    local start end rss
    warm "$@"
    # Output goes to a file, not /dev/null: GNU grep stops at the first match when it sees
    # its output is /dev/null. The time is taken here, to the microsecond (GNU time's %e has
    # 10 ms steps, 3% of a 0.3 s row); it includes starting GNU time, about a millisecond.
    start=$EPOCHREALTIME
    /usr/bin/time -o "$dir/.time" -f "%M" "$@" > "$dir/.out" 2> /dev/null || true
    end=$EPOCHREALTIME
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}')")
    rss=$(tail -n 1 "$dir/.time")
    [ "$rss" -gt "$peak" ] && peak=$rss
  done
  echo "$(median "${times[@]}") $peak"
}

# One row per command: its name, the uncompressed bytes it reads ($row_bytes when added), its
# measurement and, for bouncestat's own rows, its peak anonymous memory ("-" for the others).
declare -a names sizes results anon
row_bytes=$bytes
add() {
  names+=("$1")
  sizes+=("$row_bytes")
  shift
  results+=("$(measure "$@")")
  if [ "$1" = "$bin" ]; then anon+=("$(peak_anon "$@")"); else anon+=(-); fi
}

rm -rf "$dir/out" "$dir/out-gz" "$dir/out-zst" "$dir/out-gz2" "$dir/out-exim"
# The commands whose ratios are the targets, kept whole so that the alternated timings at the
# end run exactly what the rows run.
ingest_2=("$bin" ingest "$log" --threads 2 --quiet --timezone UTC --out "$dir/out")
ingest_gz=("$bin" ingest "$log.gz" --threads 2 --quiet --timezone UTC --out "$dir/out-gz")
decode_gz=("$bin" decode "$log.gz")
ingest_zst=("$bin" ingest "$log.zst" --threads 2 --quiet --timezone UTC --out "$dir/out-zst")
decode_zst=("$bin" decode "$log.zst")
ingest_gz2=("$bin" ingest "$half1" "$half2" --threads 2 --quiet --timezone UTC --out "$dir/out-gz2")
add "bouncestat ingest, 2 threads" "${ingest_2[@]}"
add "bouncestat ingest, 1 thread" "$bin" ingest "$log" --threads 1 --quiet --timezone UTC --out "$dir/out"
add "bouncestat ingest, 2 threads, no --out" "$bin" ingest "$log" --threads 2 --quiet --timezone UTC
# Compressed input: ingest against our own decoder's decode-only speed on the same file.
gz_ingest=${#names[@]}
add "bouncestat ingest .gz, 2 threads" "${ingest_gz[@]}"
gz_decode=${#names[@]}
add "bouncestat decode .gz (decode only)" "${decode_gz[@]}"
zst_ingest=${#names[@]}
add "bouncestat ingest .zst, 2 threads" "${ingest_zst[@]}"
zst_decode=${#names[@]}
add "bouncestat decode .zst (decode only)" "${decode_zst[@]}"
# Several compressed files: each is decoded on its own thread, so more cores help.
gz2_one=${#names[@]}
add "bouncestat ingest 2 .gz files, 1 thread" "$bin" ingest "$half1" "$half2" --threads 1 --quiet --timezone UTC --out "$dir/out-gz2"
gz2_two=${#names[@]}
add "bouncestat ingest 2 .gz files, 2 threads" "${ingest_gz2[@]}"
# The same on one core. With 1 thread the decoder and the parser already take a core each, so
# "2 threads vs 1" cannot show what more cores give compressed files; pinning the process to
# one core (the first this script may use; its default thread count follows) can.
gz2_core=
if command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ]; then
  core=$(taskset -pc $$ | sed 's/.*: //; s/[,-].*//')
  gz2_core=${#names[@]}
  ingest_gz2_core=(taskset -c "$core" "$bin" ingest "$half1" "$half2" --quiet --timezone UTC --out "$dir/out-gz2")
  add "bouncestat ingest 2 .gz files, 1 core" "${ingest_gz2_core[@]}"
fi
row_bytes=$exim_bytes
add "exim: bouncestat ingest, 2 threads" "$bin" ingest "$exim_log" --threads 2 --quiet --timezone UTC --out "$dir/out-exim"
add "exim: bouncestat ingest, 2 threads, no --out" "$bin" ingest "$exim_log" --threads 2 --quiet --timezone UTC
if command -v eximstats > /dev/null; then
  add "exim: eximstats" eximstats "$exim_log"
fi
row_bytes=$bytes
# The incumbents and an analyst's query, when installed; skipped otherwise.
if command -v pflogsumm > /dev/null; then
  add "pflogsumm" pflogsumm "$log"
fi
if python3 -c 'import duckdb' 2> /dev/null; then
  query="COPY (SELECT regexp_extract(line, 'status=([a-z]+)', 1) AS status,
      regexp_extract(line, 'dsn=([0-9.]+)', 1) AS dsn,
      regexp_extract(line, 'to=<[^@>]*@([^>]*)>', 1) AS domain, count(*) AS n
    FROM read_csv('$log', columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', escape = '',
                  header = false, strict_mode = false)
    WHERE line LIKE '%status=%' GROUP BY ALL) TO '$dir/duckdb.parquet' (FORMAT parquet)"
  also_warm=$log add "duckdb regexp_extract + group to Parquet" python3 -c "import duckdb, sys; duckdb.sql(sys.argv[1])" "$query"
fi
# Decompression floors of the reference tools over the same compressed files.
if command -v zstd > /dev/null; then
  add "floor: zstd -dc" zstd -dc "$log.zst"
fi
add "floor: gzip -dc" gzip -dc "$log.gz"
add "floor: wc -l" wc -l "$log"
if command -v rg > /dev/null; then
  add "floor: rg -c status=" rg -c status= "$log"
else
  add "floor: grep -c status=" grep -c status= "$log"
fi
# What two busy cores give on this machine: a single-threaded job alone, and two copies of it
# at once, in alternation (rows timed minutes apart would mostly measure the drift of a shared
# host). Their ratio bounds what 2 threads can gain over 1: a shared or throttled host makes
# each job slower when both cores work. A 1-thread ingest keeps a little more than one core
# busy (its merger and the dataset's encoding threads), so its pair also crowds the cores a
# little; two zstd -dc do not. Prints "median_alone median_both".
measure_pair() {
  local job=$1 alone=() both=() start
  for _ in $(seq "$runs"); do
    warm "$log" "$log.zst"
    start=$EPOCHREALTIME
    "$job" a
    alone+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}')")
    warm "$log" "$log.zst"
    start=$EPOCHREALTIME
    "$job" a & "$job" b
    wait
    both+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}')")
  done
  echo "$(median "${alone[@]}") $(median "${both[@]}")"
}
ingest_1_thread() {
  "$bin" ingest "$log" --threads 1 --quiet --timezone UTC --out "$dir/out-pair-${1:-alt}" > /dev/null 2>&1 || true
}
zstd_decode() { zstd -dc "$log.zst" > /dev/null 2>&1 || true; }
pairs=("ingest with 1 thread|$(measure_pair ingest_1_thread)")
if command -v zstd > /dev/null; then
  pairs+=("zstd -dc|$(measure_pair zstd_decode)")
fi

# The targets' ratios once more, each from its two commands timed in alternation: rounds of
# A, B, B, A (as benches/ab.sh), each round giving the ratio of its two sums. The rows above
# are timed one after the other, minutes apart, and this machine's speed drifts by more than
# the targets' margins within minutes; a ratio of two rows then measures the drift too.
# Prints "median_ratio median_a median_b" (ratio = B's time over A's).
seconds_of() {
  local start=$EPOCHREALTIME
  "$@" > /dev/null 2>&1 || true
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}'
}
alternate() {
  local a=$1 b=$2 ratios=() ta=() tb=() a1 b1 b2 a2
  for _ in $(seq "$runs"); do
    warm "$log" "$log.gz" "$log.zst" "$half1" "$half2"
    a1=$(seconds_of "$a"); b1=$(seconds_of "$b"); b2=$(seconds_of "$b"); a2=$(seconds_of "$a")
    ta+=("$a1" "$a2")
    tb+=("$b1" "$b2")
    ratios+=("$(awk -v a1="$a1" -v a2="$a2" -v b1="$b1" -v b2="$b2" 'BEGIN {printf "%.4f", (b1 + b2) / (a1 + a2)}')")
  done
  echo "$(median "${ratios[@]}") $(median "${ta[@]}") $(median "${tb[@]}")"
}
# Each command is a function, so that `alternate` can run it by name.
run_ingest_2() { "${ingest_2[@]}"; }
run_ingest_gz() { "${ingest_gz[@]}"; }
run_decode_gz() { "${decode_gz[@]}"; }
run_ingest_zst() { "${ingest_zst[@]}"; }
run_decode_zst() { "${decode_zst[@]}"; }
alternated=(
  "2 threads vs 1, plain file (2 threads A, 1 thread B)|$(alternate run_ingest_2 ingest_1_thread)"
  "ingest/decode, gzip (ingest A, decode only B)|$(alternate run_ingest_gz run_decode_gz)"
  "ingest/decode, zstd (ingest A, decode only B)|$(alternate run_ingest_zst run_decode_zst)"
)
if [ -n "$gz2_core" ]; then
  run_ingest_gz2() { "${ingest_gz2[@]}"; }
  run_ingest_gz2_core() { "${ingest_gz2_core[@]}"; }
  alternated+=("2 cores vs 1, two .gz files (2 cores A, 1 core B)|$(alternate run_ingest_gz2 run_ingest_gz2_core)")
fi

echo
echo "input: $log ($(awk -v b="$bytes" 'BEGIN {printf "%.1f", b/1e6}') MB) and $exim_log ($(awk -v b="$exim_bytes" 'BEGIN {printf "%.1f", b/1e6}') MB, exim rows), median of $runs runs, warm cache"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "binary: $bin"
base=${results[0]%% *}
printf '| %-46s | %9s | %9s | %12s | %13s | %10s |\n' command seconds MB/s "peak RSS MiB" "peak anon MiB" "vs ingest"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..48})" ----------- ----------- -------------- --------------- ------------
for i in "${!names[@]}"; do
  read -r secs rss <<< "${results[$i]}"
  awk -v n="${names[$i]}" -v s="$secs" -v r="$rss" -v a="${anon[$i]}" -v b="${sizes[$i]}" -v base="$base" 'BEGIN {
    printf "| %-46s | %9.3f | %9.0f | %12.0f | %13s | %9.2fx |\n", n, s, (s > 0 ? b/1e6/s : 0), r/1024,
      (a == "-" ? "-" : sprintf("%.0f", a/1024)), (s > 0 ? base/s : 0)
  }'
done
# Scaling with cores (the target is at least 1.8 on a plain file), what two busy cores give
# this machine at all, and throughput of ingest as a share of our own decode-only throughput
# on the same file (the target is at least 0.85).
echo
for pair in "0 1 plain file" "$gz2_two $gz2_one two .gz files"; do
  read -r two one kind <<< "$pair"
  awk -v k="$kind" -v t="${results[$two]%% *}" -v o="${results[$one]%% *}" 'BEGIN {
    printf "2 threads vs 1, %s: %.2fx (%.3f s vs %.3f s)\n", k, (t > 0 ? o/t : 0), t, o
  }'
done
if [ -n "$gz2_core" ]; then
  awk -v c="$core" -v t="${results[$gz2_two]%% *}" -v o="${results[$gz2_core]%% *}" 'BEGIN {
    printf "2 cores vs 1 (taskset -c %s), two .gz files: %.2fx (%.3f s vs %.3f s)\n", c, (t > 0 ? o/t : 0), t, o
  }'
fi
for pair in "${pairs[@]}"; do
  read -r alone both <<< "${pair#*|}"
  awk -v k="${pair%%|*}" -v b="$both" -v o="$alone" 'BEGIN {
    printf "two jobs at once, %s: %.3f s against %.3f s alone, so 2 cores give at most %.2fx 1", k, b, o, (b > 0 ? 2*o/b : 0)
    # Two jobs cannot finish sooner than one alone: the machine sped up between the runs.
    if (b > 0 && b < o) printf " (not a measure: the pair took less than one job alone, so the machine'"'"'s speed drifted)"
    printf "\n"
  }'
done
for pair in "gzip $gz_ingest $gz_decode" "zstd $zst_ingest $zst_decode"; do
  read -r kind ingest decode <<< "$pair"
  awk -v k="$kind" -v i="${results[$ingest]%% *}" -v d="${results[$decode]%% *}" 'BEGIN {
    printf "ingest/decode, %s: %.2f (ingest %.3f s, decode only %.3f s)\n", k, (i > 0 ? d/i : 0), i, d
  }'
done
echo
echo "in alternation ($runs rounds of A, B, B, A; median of the rounds' ratios B/A, and of each command's times):"
for pair in "${alternated[@]}"; do
  read -r ratio a b <<< "${pair#*|}"
  awk -v k="${pair%%|*}" -v r="$ratio" -v a="$a" -v b="$b" 'BEGIN {
    printf "%s: %.2f (A %.3f s, B %.3f s)\n", k, r, a, b
  }'
done
