#!/usr/bin/env bash
# Builds bouncestat with profile-guided optimisation (PGO): an instrumented build runs a
# training workload, and the counts it records steer the optimised build's inlining, branch
# layout and code placement. Same source, same outputs; only the machine code differs.
#
#   scripts/build-pgo.sh        builds $PGO_DIR/bouncestat and prints its path
#
# The training workload is generated here, deterministically (seeds differ from the
# benchmarks'), and covers each input path: a Postfix log (plain and gzip), an Exim mainlog,
# SES and SendGrid exports, the bundled fixtures, and `eval` of the labelled replies (the
# classifier's cache misses). It takes a few minutes on top of two release builds.
#
# Needs `llvm-profdata` from an LLVM that reads the raw profiles of this rustc's LLVM:
#   rustup component add llvm-tools    (matches the toolchain; preferred), or
#   a distribution's LLVM package, e.g. Debian's `apt-get install llvm-19` (its llvm-profdata
#   merged the profiles of rustc 1.95, LLVM 22, here).
# Environment: PGO_DIR (default target/pgo) holds the builds, training data and profiles;
# LLVM_PROFDATA names the tool when it is not found on its own.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${PGO_DIR:-$PWD/target/pgo}
host=$(rustc -vV | sed -n 's/^host: //p')

# The llvm-profdata tools to try, best first: $LLVM_PROFDATA, the toolchain's own (llvm-tools),
# then the newest versioned LLVM, then whatever `llvm-profdata` is on the PATH (often an old
# default, too old for the raw profiles of a recent rustc).
profdata_candidates() {
  if [ -n "${LLVM_PROFDATA:-}" ]; then
    echo "$LLVM_PROFDATA"
    return
  fi
  ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-profdata 2>/dev/null || true
  ls -d /usr/lib/llvm-*/bin/llvm-profdata 2>/dev/null | sort -t- -k2 -n -r || true
  command -v llvm-profdata || true
}

# Merges the raw profiles with the first tool that can read them.
merge_profiles() {
  local tool
  for tool in $(profdata_candidates); do
    if [ -x "$tool" ] && "$tool" merge -o "$out/merged.profdata" "$out/raw" 2>/dev/null; then
      echo "merged the profiles with $tool" >&2
      return
    fi
  done
  echo "build-pgo.sh: no llvm-profdata here reads this rustc's profiles; run" \
    "'rustup component add llvm-tools', install a newer LLVM, or set LLVM_PROFDATA" >&2
  exit 2
}

# `--target` keeps RUSTFLAGS off build scripts and proc macros: only bouncestat and its
# dependencies are instrumented, and only their runs write profiles.
build() {
  local dir=$1 flags=$2
  RUSTFLAGS="${RUSTFLAGS:-} $flags" cargo build --release --quiet --target "$host" \
    --target-dir "$dir"
  echo "$dir/$host/release/bouncestat"
}

echo "== instrumented build" >&2
rm -rf "$out/raw" "$out/train"
instrumented=$(build "$out/instrumented" "-Cprofile-generate=$out/raw")

echo "== training" >&2
mkdir -p "$out/train"
t=$out/train
"$instrumented" generate --format postfix --size 256MiB --seed 7 -o "$t/postfix.log" --truth "$t/truth.json"
"$instrumented" generate --format postfix --size 64MiB --seed 8 --compress gzip -o "$t/postfix.log.gz" --truth "$t/truth.json"
"$instrumented" generate --format exim --size 96MiB --seed 9 -o "$t/exim.log" --truth "$t/truth.json"
"$instrumented" generate --format ses --size 16MiB --seed 10 -o "$t/ses.jsonl" --truth "$t/truth.json"
"$instrumented" generate --format sendgrid --size 16MiB --seed 11 -o "$t/sendgrid.jsonl" --truth "$t/truth.json"
# Only the runs below are the workload: the generator's own counts are dropped.
rm -rf "$out/raw"
# A step that fails would leave its path out of the profile without a word: stop instead.
run() {
  if ! "$instrumented" "$@" > /dev/null 2>&1; then
    echo "build-pgo.sh: training step failed: bouncestat $*" >&2
    exit 1
  fi
}
run ingest "$t/postfix.log" --out "$t/out-postfix"
run ingest "$t/postfix.log" --out "$t/out-postfix-1" --threads 1
run ingest "$t/postfix.log.gz" --out "$t/out-gz"
run ingest "$t/exim.log" --out "$t/out-exim"
run ingest "$t/ses.jsonl" "$t/sendgrid.jsonl" --out "$t/out-esp"
run ingest fixtures/postfix fixtures/exim fixtures/malformed fixtures/esp --out "$t/out-fixtures" --max-reject-rate 1
run ingest "$t/postfix.log" "$t/exim.log" --out "$t/out-spill" --spill-cells 5000
run decode "$t/postfix.log.gz"
run eval fixtures/classify
merge_profiles

echo "== optimised build" >&2
# Cargo does not see a new profile behind the same flag: build every crate again with it.
rm -rf "$out/optimised"
optimised=$(build "$out/optimised" "-Cprofile-use=$out/merged.profdata")
cp "$optimised" "$out/bouncestat"
rm -rf "$t"
echo "$out/bouncestat"
