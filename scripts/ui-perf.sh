#!/usr/bin/env bash
# Measures the customer window: start-up to a drawn terms dialog (median of N runs) and the CPU
# an idle window uses (terms screen, and the waiting screen with its slow progress dots).
#
#   scripts/ui-perf.sh [PROFILE] [RUNS]      (PROFILE: debug, release or dist — the download —,
#                                             default release; RUNS 10)
#
# "Drawn" is the first LOTSE_UI_TRACE line, which the window writes after the first frame with
# the terms is swapped to the screen; the clock starts just before the process is spawned.
# Needs: Xvfb, openbox, jq. Prints; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-release}
RUNS=${2:-10}
TARGET=${CARGO_TARGET_DIR:-target}
if [ "$PROFILE" = release ]; then
  cargo build -q --release -p lotse --bin lotse
elif [ "$PROFILE" = dist ]; then
  cargo build -q --profile dist -p lotse --bin lotse
else
  cargo build -q -p lotse --bin lotse
fi
cargo build -q -p lotse-relay -p lotse-rep --bins
LOTSE=$TARGET/$PROFILE/lotse
RELAY_BIN=$TARGET/debug/lotse-relay
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
D=220
while [ -e /tmp/.X11-unix/X$D ] || [ -e /tmp/.X$D-lock ]; do D=$((D + 1)); done
export DISPLAY=:$D
Xvfb "$DISPLAY" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
openbox --sm-disable >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 100); do xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id' && break; sleep 0.1; done

PIN=sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
now_ms() { date +%s%3N; }
# first_line TRACE: waits for the first trace line and prints it.
first_line() {
  for _ in $(seq 600); do
    [ -s "$1" ] && { head -n 1 "$1"; return; }
    sleep 0.005
  done
  echo "no trace line" >&2
  exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "binary: $LOTSE ($(du -h "$LOTSE" | cut -f1))"
times=()
for i in $(seq "$RUNS"); do
  T=$WORK/t$i.jsonl
  start=$(now_ms)
  LOTSE_UI_TRACE=$T "$LOTSE" --relay 127.0.0.1:9 --pin "$PIN" --lang en 2>/dev/null & P=$!
  line=$(first_line "$T")
  drawn=$(jq -r .unix_ms <<<"$line")
  kill "$P"; wait "$P" 2>/dev/null || true
  times+=($((drawn - start)))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(sed -n "$(((RUNS + 1) / 2))p" <<<"$sorted")
echo "start-up to drawn terms, $RUNS runs (ms): $(tr '\n' ' ' <<<"$sorted")"
echo "median: $median ms"

# idle_cpu PID SECONDS: CPU share of PID over SECONDS.
idle_cpu() {
  local hz a b
  hz=$(getconf CLK_TCK)
  a=$(cpu_ticks "$1"); sleep "$2"; b=$(cpu_ticks "$1")
  awk -v t=$((b - a)) -v hz="$hz" -v s="$2" 'BEGIN { printf "%.2f %% of one core (%d ticks in %d s)\n", 100 * t / hz / s, t, s }'
}
T=$WORK/idle.jsonl
LOTSE_UI_TRACE=$T "$LOTSE" --relay 127.0.0.1:9 --pin "$PIN" --lang en 2>/dev/null & P=$!
PIDS+=($P)
first_line "$T" >/dev/null
sleep 2
echo "idle, terms screen: $(idle_cpu "$P" 20)"
kill "$P"

# The waiting screen: a real relay whose rep is offline, so the customer waits in the queue.
echo "pw-for-perf" | "$RELAY_BIN" rep add ann --data "$WORK/data" 2>/dev/null
"$RELAY_BIN" serve --listen 127.0.0.1:0 --data "$WORK/data" >"$WORK/relay.out" 2>/dev/null & PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/relay.out" ] && break; sleep 0.1; done
read -r _ _ RELAY _ RPIN <"$WORK/relay.out"
KEY=$(LOTSE_PASSWORD=pw-for-perf "$TARGET/debug/lotse-rep" --relay "$RELAY" --pin "$RPIN" --user ann key)
T=$WORK/wait.jsonl
LOTSE_UI_TRACE=$T "$LOTSE" --relay "$RELAY" --pin "$RPIN" --key "$KEY" --lang en 2>/dev/null & P=$!
PIDS+=($P)
first_line "$T" >/dev/null
read -r W X Y < <(tail -n 1 "$T" | jq -r '.window as $w | .widgets[] | select(.id == "terms.accept") | "\($w) \((.rect[0] + .rect[2]) / 2 | floor) \((.rect[1] + .rect[3]) / 2 | floor)"')
xdotool mousemove --sync --window "$W" "$X" "$Y" click 1
for _ in $(seq 300); do tail -n 1 "$T" | jq -e '.screen == "wait" and any(.widgets[]; .id == "wait.cancel")' >/dev/null && break; sleep 0.1; done
xdotool mousemove 0 0
sleep 2
echo "idle, waiting screen (progress dots, QUIC keep-alives): $(idle_cpu "$P" 20)"
