# shellcheck shell=bash
# Shell functions shared by the benchmark scripts. Source it after setting $dir (where a
# command's output goes); generated_log also needs $bin (see release_binary).

# The binary to time: $BIN when set (for example the PGO build of scripts/build-pgo.sh),
# otherwise the release build, built first.
release_binary() {
  if [ -n "${BIN:-}" ]; then
    echo "$BIN"
  else
    cargo build --release --quiet >&2
    echo "${CARGO_TARGET_DIR:-$PWD/target}/release/bouncestat"
  fi
}

# The median of its arguments (numbers; the lower middle one of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Reads a command's input files (its arguments that are files, and $also_warm) into the page
# cache. Reading them once at the start is not enough: on a VM whose host reclaims memory, the
# pages of a file not read for a minute are dropped, and a row timed late would read its
# input from disk.
warm() {
  local arg
  for arg in "$@" ${also_warm:-}; do
    if [ -f "$arg" ]; then cat "$arg" > /dev/null; fi
  done
}

# Runs a command once, untimed, sampling its resident anonymous memory (RSS without the
# pages of mapped files) every 10 ms; prints the peak in kB. This is the memory figure of the
# benchmark issue: a mapped input's pages are page cache, whatever the RSS column counts.
peak_anon() {
  warm "$@"
  "$@" > "${dir:?}/.out" 2> /dev/null &
  local pid=$! peak=0 key value _
  while kill -0 "$pid" 2> /dev/null; do
    while read -r key value _; do
      [ "$key" = RssAnon: ] && [ "$value" -gt "$peak" ] && peak=$value
    done < "/proc/$pid/status" 2> /dev/null || true
    sleep 0.01
  done
  wait "$pid" || true
  echo "$peak"
}


# Makes LOG with `$bin generate --format FORMAT --size SIZE --seed 42 [GENERATE ARGS...]`,
# unless it is there already and was written by a generator that writes what $bin's does. A
# log left by an older generator (another mix of outcomes, say) would time another log than
# the one the docs describe. The generator's fingerprint, a checksum of a small log it writes
# with the same format and seed, is kept in LOG.fingerprint; when it differs, LOG is written
# again, and the copies compare.sh makes of it (LOG.gz, LOG.zst, and the halves NAME.half1.log.gz
# and NAME.half2.log.gz of LOG = NAME.log) are removed, to be made again from the new one.
#
#   generated_log FORMAT SIZE LOG [GENERATE ARGS...]
generated_log() {
  local format=$1 size=$2 log=$3 print
  shift 3
  print=$("${bin:?}" generate --format "$format" --lines 50000 --seed 42 2> /dev/null | cksum)
  if [ -s "$log" ] && [ "$(cat "$log.fingerprint" 2> /dev/null)" = "$print" ]; then
    return
  fi
  [ -e "$log" ] && echo "$log: written by another generator; writing it again" >&2
  rm -f "$log" "$log.fingerprint" "$log.gz" "$log.zst" "${log%.log}".half[12].log.gz
  "$bin" generate --format "$format" --size "$size" --seed 42 -o "$log" "$@" 2> /dev/null
  echo "$print" > "$log.fingerprint"
}
