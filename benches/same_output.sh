#!/usr/bin/env bash
# Whether two builds of bouncestat write the same dataset: both ingest the same inputs, and
# every Parquet file they write is compared byte for byte (`cmp`), as is the run summary
# (without its timing lines). A speed change must pass this on the benchmark logs and the
# fixtures before it is kept.
#
#   benches/same_output.sh BIN_A BIN_B INPUT... [-- INGEST ARGS...]
#
# For example, with the logs of benches/compare.sh:
#   benches/same_output.sh target/release/bouncestat target/pgo/bouncestat \
#     /tmp/bouncestat-bench/postfix-1GiB.log -- --threads 1
#   benches/same_output.sh OLD NEW fixtures/postfix fixtures/exim fixtures/malformed \
#     -- --spill-cells 1 --max-reject-rate 1
# Outputs go to BENCH_DIR (default /tmp/bouncestat-bench). Exits 1 when anything differs.
set -euo pipefail

if [ $# -lt 3 ]; then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
bin_a=$1 bin_b=$2
shift 2
inputs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  inputs+=("$1")
  shift
done
[ $# -gt 0 ] && shift
dir=${BENCH_DIR:-/tmp/bouncestat-bench}
a=$dir/same-a b=$dir/same-b
rm -rf "$a" "$b"
mkdir -p "$dir"
# The summary's timing lines ("... in 1.59s") differ from run to run; everything else must not.
"$bin_a" ingest "${inputs[@]}" --out "$a" "$@" 2>&1 | grep -v ' in [0-9.]*s' > "$a.txt" || true
"$bin_b" ingest "${inputs[@]}" --out "$b" "$@" 2>&1 | grep -v ' in [0-9.]*s' > "$b.txt" || true

same=1
if ! cmp -s "$a.txt" "$b.txt"; then
  echo "the summaries differ:"
  diff "$a.txt" "$b.txt" | head -20
  same=0
fi
list_a=$(cd "$a" 2> /dev/null && find . -type f -name '*.parquet' | sort)
list_b=$(cd "$b" 2> /dev/null && find . -type f -name '*.parquet' | sort)
if [ "$list_a" != "$list_b" ]; then
  echo "the datasets hold different files"
  same=0
fi
files=0
while read -r file; do
  [ -n "$file" ] || continue
  files=$((files + 1))
  if ! cmp -s "$a/$file" "$b/$file"; then
    echo "differs: $file"
    same=0
  fi
done <<< "$list_a"
if [ $same = 1 ]; then
  echo "identical: $files Parquet files and the summary"
else
  exit 1
fi
