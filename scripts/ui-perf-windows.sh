#!/usr/bin/env bash
# The Windows customer client's twin of scripts/ui-perf.sh, under Wine on Xvfb: the size of the
# exe, start-up to a drawn terms dialog (median of N runs) and the CPU the idle terms window uses.
#
#   scripts/ui-perf-windows.sh [PROFILE] [RUNS]   (PROFILE: dist (the download, default) or dev;
#                                                  RUNS 10)
#
# The Wine server is started once before the runs and kept (wineserver -p), so each run measures
# the program's own start (window, WGL context on llvmpipe, egui fonts, first frame), not Wine's.
# The first run after the server came up is printed separately ("cold"). Needs: the Windows
# toolchain (scripts/build-windows), wine, Xvfb, openbox, jq. Prints; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-dist}
RUNS=${2:-10}
EXE=$(scripts/build-windows "$PROFILE" --test-shim | tail -n 1)
WORK=$(mktemp -d)
PIDS=()
export HOME=$WORK/home WINEPREFIX=$WORK/prefix WINEDEBUG=-all
export WINEDLLOVERRIDES="winemenubuilder.exe=d;mscoree=d;mshtml=d"
mkdir -p "$HOME"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wineserver -k 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
D=240
while [ -e /tmp/.X11-unix/X$D ] || [ -e /tmp/.X$D-lock ]; do D=$((D + 1)); done
export DISPLAY=:$D
Xvfb "$DISPLAY" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
openbox --sm-disable >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 100); do xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id' && break; sleep 0.1; done
# The server first (it stays, -p), then the prefix made through it.
mkdir -p "$WINEPREFIX"
wineserver -p
wineboot --init >/dev/null 2>&1

PIN=sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
now_ms() { date +%s%3N; }
first_line() {
  for _ in $(seq 3000); do
    [ -s "$1" ] && { head -n 1 "$1"; return; }
    sleep 0.005
  done
  echo "no trace line" >&2
  exit 1
}
# The Windows path of a file here: Wine's Z: drive is /.
win() { echo "Z:${1//\//\\}"; }
# run TRACE: starts the client with its trace in TRACE, prints its pid.
run() {
  LOTSE_UI_TRACE=$(win "$1") wine "$EXE" --relay 127.0.0.1:9 --pin "$PIN" --lang en >/dev/null 2>&1 &
  echo $!
}

size=$(stat -c %s "$EXE")
echo "exe: $EXE ($((size / 1024)) KiB = $(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }') MiB)"
times=()
for i in $(seq 0 "$RUNS"); do
  T=$WORK/t$i.jsonl
  start=$(now_ms)
  P=$(run "$T")
  line=$(first_line "$T")
  drawn=$(jq -r .unix_ms <<<"$line")
  kill "$P"; wait "$P" 2>/dev/null || true
  if [ "$i" = 0 ]; then
    echo "cold (first start after the Wine server came up): $((drawn - start)) ms"
  else
    times+=($((drawn - start)))
  fi
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(sed -n "$(((RUNS + 1) / 2))p" <<<"$sorted")
echo "start-up to drawn terms under Wine, $RUNS runs (ms): $(tr '\n' ' ' <<<"$sorted")"
echo "median: $median ms"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
T=$WORK/idle.jsonl
P=$(run "$T")
PIDS+=($P)
first_line "$T" >/dev/null
sleep 2
hz=$(getconf CLK_TCK)
a=$(cpu_ticks "$P"); sleep 20; b=$(cpu_ticks "$P")
awk -v t=$((b - a)) -v hz="$hz" 'BEGIN { printf "idle, terms screen: %.2f %% of one core (%d ticks in 20 s)\n", 100 * t / hz / 20, t }'
