#!/usr/bin/env bash
# Where a build of bouncestat loses its time, per line of a log, under callgrind's simulation
# of the processor (which, unlike a timer on this shared machine, does not drift). Runs
#
#   BIN ingest FILE --threads 1 --out DIR [INGEST ARGS...]
#
# under `valgrind --tool=callgrind --branch-sim=yes --cache-sim=yes`, and once more on the
# first line of FILE alone, whose counts (start-up, the classifier's patterns compiled, one
# tiny dataset written) are taken off. Prints, per line of FILE: instructions; conditional and
# indirect branches and how many of them were mispredicted; first-level instruction and data
# cache misses; last-level data misses. Then the functions with the most mispredictions and
# the most first-level misses of each kind.
#
#   benches/profile.sh FILE [BIN] [INGEST ARGS...]      BIN defaults to target/release/bouncestat
#
# Read the figures as shares and as changes between two builds, not as cycles. Callgrind's
# predictor is a table of two-bit counters with the last target for indirect branches, far
# simpler than a current processor's, so its mispredictions are an upper bound; its caches
# are two levels with the machine's first-level and last-level sizes (no second level). On
# this project's machine a build with 5% fewer instructions, and one with 12% fewer simulated
# mispredictions, ran no faster (docs/performance.md): time a change with benches/ab.sh.
# A run takes 10-15 seconds per 100 k lines: profile a slice (`head -n 400000`), and put the
# slice, not the whole log, in the page cache. Needs valgrind (apt-get install valgrind).
set -euo pipefail

if [ $# -lt 1 ]; then
  sed -n '2,23p' "$0" >&2
  exit 2
fi
file=$1
bin=${2:-target/release/bouncestat}
shift $(($# >= 2 ? 2 : 1))
command -v valgrind >/dev/null || { echo "profile.sh: needs valgrind" >&2; exit 1; }
[ -x "$bin" ] || { echo "profile.sh: no binary at $bin (cargo build --release)" >&2; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
head -n 1 "$file" >"$dir/one.log"
lines=$(wc -l <"$file")
[ "$lines" -gt 1 ] || { echo "profile.sh: $file has no second line" >&2; exit 1; }

run() {
  valgrind --tool=callgrind --branch-sim=yes --cache-sim=yes \
    --callgrind-out-file="$dir/$2.out" \
    "$bin" ingest "$1" --threads 1 --out "$dir/out-$2" --quiet "${@:3}" >/dev/null 2>"$dir/$2.err" ||
    { cat "$dir/$2.err" >&2; exit 1; }
}
run "$dir/one.log" one "$@"
run "$file" all "$@"

# The counts of a run by event name, from its `events:` and `totals:` lines.
totals() {
  awk '/^events:/ { n = split($0, names, " ") }
       /^totals:/ { for (i = 2; i <= n; i++) printf "%s %s\n", names[i], $i }' "$dir/$1.out"
}
totals one >"$dir/one.tot"
totals all >"$dir/all.tot"
awk -v lines="$((lines - 1))" -v file="$file" -v bin="$bin" '
  FNR == NR { base[$1] = $2; next }
  { n[$1] = $2 - base[$1] }
  END {
    printf "%s: %d lines after the first, %s\n", file, lines, bin
    printf "per line:\n"
    printf "  instructions             %8.1f\n", n["Ir"] / lines
    printf "  conditional branches     %8.1f   mispredicted %6.2f (%.1f%%)\n",
      n["Bc"] / lines, n["Bcm"] / lines, 100 * n["Bcm"] / n["Bc"]
    printf "  indirect branches        %8.1f   mispredicted %6.2f (%.1f%%)\n",
      n["Bi"] / lines, n["Bim"] / lines, 100 * n["Bim"] / n["Bi"]
    printf "  L1 instruction misses    %8.2f\n", n["I1mr"] / lines
    printf "  L1 data misses           %8.2f   (reads %.2f, writes %.2f)\n",
      (n["D1mr"] + n["D1mw"]) / lines, n["D1mr"] / lines, n["D1mw"] / lines
    printf "  last-level data misses   %8.2f\n", (n["DLmr"] + n["DLmw"]) / lines
  }' "$dir/one.tot" "$dir/all.tot"

top() {
  echo
  echo "most $2 (whole run, share of the total):"
  callgrind_annotate --sort="$1" --show="$1" "$dir/all.out" 2>/dev/null |
    awk '/^-+$/ { rule++; next } rule >= 4 && NF >= 3 && $1 ~ /^[0-9,]+$/' |
    sed -E 's/ \[[^]]*\]$//; s#/[^ ]*/(src|library)/#\1/#' | head -n "${TOP:-12}" || true
}
top Bcm "conditional mispredictions"
top Bim "indirect mispredictions"
top I1mr "L1 instruction misses"
top D1mr "L1 data read misses"
