# Shell functions shared by the benchmark scripts. Source it after setting $dir (where a
# command's output goes).

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
  "$@" > "$dir/.out" 2> /dev/null &
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

