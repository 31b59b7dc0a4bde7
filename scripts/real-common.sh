# Shared by scripts/real-eval.sh and scripts/real-calib-cv.sh (sourced from the repository root):
#   real_args OUTNAME "$@"
# parses `DIR [OUT] [-- palmsig flags]`, and sets `dir` (absolute), `out` (absolute, default
# DIR/../OUTNAME, refused inside the repository: nothing derived from real palms is committed),
# `bin` (PALMSIG, default target/release/palmsig, built if missing) and `flags` (the rest).
real_args() {
  local name=$1
  shift
  if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 DIR [OUT] [-- palmsig flags]" >&2
    exit 2
  fi
  dir=$(cd "$1" && pwd)
  shift
  out="$(dirname "$dir")/$name"
  if [ $# -gt 0 ] && [ "$1" != "--" ]; then out=$1; shift; fi
  [ $# -gt 0 ] && [ "$1" = "--" ] && shift
  flags=("$@")
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  case "$out/" in
    "$(pwd)/"*) echo "refusing: $out is inside the repository; real-data outputs stay outside" >&2; exit 2 ;;
  esac
  bin=${PALMSIG:-target/release/palmsig}
  [ -x "$bin" ] || cargo build --release -p palmsig
}
