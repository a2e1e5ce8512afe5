#!/usr/bin/env bash
# Screenshots of every screen of the customer window, in German and English, from the real
# window on a private Xvfb with openbox, against a real relay and the lotse-rep CLI; then the
# support portal's pages from the real browser test (portal-*.png) and the console's screens
# from its end-to-end tests (console-*.png).
#
#   scripts/screens.sh [OUT_DIR]        (default: docs/screens)
#
# Needs: Xvfb, openbox, xdotool, imagemagick (import), jq. Builds the binaries if needed
# (CARGO_TARGET_DIR is respected). Widgets are found through LOTSE_UI_TRACE and clicked with
# xdotool, exactly as the end-to-end tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs/screens}
mkdir -p "$OUT"
TARGET=${CARGO_TARGET_DIR:-target}
cargo build -q -p lotse -p lotse-relay -p lotse-rep --bins
BIN=$TARGET/debug
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free display number.
D=200
while [ -e /tmp/.X11-unix/X$D ] || [ -e /tmp/.X$D-lock ]; do D=$((D + 1)); done
export DISPLAY=:$D
Xvfb "$DISPLAY" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
openbox --sm-disable >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 100); do xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id' && break; sleep 0.1; done

PASSWORD="screens-password"
echo "$PASSWORD" | "$BIN/lotse-relay" rep add ann --display-name "Ann Weber" --data "$WORK/data" 2>/dev/null
"$BIN/lotse-relay" serve --listen 127.0.0.1:0 --data "$WORK/data" >"$WORK/relay.out" 2>/dev/null & PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/relay.out" ] && break; sleep 0.1; done
read -r _ _ RELAY _ PIN <"$WORK/relay.out"
export LOTSE_PASSWORD=$PASSWORD
rep() { "$BIN/lotse-rep" --relay "$RELAY" --pin "$PIN" --user ann "$@"; }

TRACE=$WORK/trace.jsonl
# wait_for SCREEN WIDGET: waits until the latest trace line shows SCREEN with WIDGET enabled.
wait_for() {
  for _ in $(seq 300); do
    if [ -s "$TRACE" ] && tail -n 1 "$TRACE" | jq -e --arg s "$1" --arg w "$2" \
      '.screen == $s and any(.widgets[]; .id == $w and .enabled)' >/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for $1/$2" >&2
  tail -n 1 "$TRACE" >&2 || true
  exit 1
}
# click SCREEN WIDGET
click() {
  wait_for "$1" "$2"
  read -r W X Y < <(tail -n 1 "$TRACE" | jq -r --arg w "$2" \
    '.window as $win | .widgets[] | select(.id == $w) | "\($win) \((.rect[0] + .rect[2]) / 2 | floor) \((.rect[1] + .rect[3]) / 2 | floor)"')
  xdotool mousemove --sync --window "$W" "$X" "$Y" click 1
}
# wait_prompt TIER: waits for the armed prompt for TIER.
wait_prompt() {
  for _ in $(seq 300); do
    if [ -s "$TRACE" ] && tail -n 1 "$TRACE" | jq -e --arg t "$1" \
      '.screen == "prompt" and .prompt.tier == $t and any(.widgets[]; .id == "prompt.allow" and .enabled)' >/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for the $1 prompt" >&2
  exit 1
}
# wait_file_prompt NAME: waits for the armed prompt offering the file NAME.
wait_file_prompt() {
  for _ in $(seq 300); do
    if [ -s "$TRACE" ] && tail -n 1 "$TRACE" | jq -e --arg n "$1" \
      '.screen == "prompt" and .prompt.file.name == $n and any(.widgets[]; .id == "prompt.save" and .enabled)' >/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for the offer of $1" >&2
  exit 1
}
# wait_transfer JQ: waits until the latest trace line's transfers satisfy the jq filter.
wait_transfer() {
  for _ in $(seq 300); do
    if [ -s "$TRACE" ] && tail -n 1 "$TRACE" | jq -e ".screen == \"session\" and ($1)" >/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for transfers: $1" >&2
  exit 1
}
window() { tail -n 1 "$TRACE" | jq -r .window; }
# shot NAME: the window's content, after the frame that the trace reported is surely shown.
shot() {
  xdotool mousemove 0 0
  sleep 0.4
  import -window "$(window)" "$OUT/$LANG_CODE-$1.png"
  echo "$OUT/$LANG_CODE-$1.png"
}

# Files the rep offers: a small one that is saved at once, a big one that is still on its way when
# the panel is shot. The customer's home is private, so nothing lands in this machine's Downloads.
mkdir -p "$WORK/offer" "$WORK/home"
head -c 2400000 /dev/urandom >"$WORK/offer/Anleitung.pdf"
head -c 400M /dev/zero >"$WORK/offer/Installationspaket.bin"

for LANG_CODE in de en; do
  rm -f "$TRACE"
  rm -rf "$WORK/home/Downloads"
  HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config NO_AT_BRIDGE=1 \
  LOTSE_UI_TRACE=$TRACE USER=carla "$BIN/lotse" --relay "$RELAY" --pin "$PIN" --lang "$LANG_CODE" \
    2>/dev/null & LOTSE=$!
  PIDS+=($LOTSE)
  wait_for terms terms.accept
  shot 1-terms
  click terms terms.full
  sleep 0.3
  shot 2-terms-full
  click terms terms.accept
  wait_for key key.input
  xdotool windowfocus --sync "$(window)"
  xdotool type --delay 20 "111 222 333"
  xdotool key Return
  for _ in $(seq 100); do tail -n 1 "$TRACE" | jq -e '.screen == "key" and any(.widgets[]; .id == "key.input" and .enabled)' >/dev/null && break; sleep 0.1; done
  sleep 0.5
  shot 3-key-rejected
  KEY=$(rep key)
  # The rejected key is still in the focused field, selected: typing replaces it.
  xdotool type --delay 20 "$KEY"
  xdotool key Return
  wait_for wait wait.cancel
  shot 4-waiting
  mkfifo "$WORK/rep.in"
  rep session --request view,control --commands <"$WORK/rep.in" >"$WORK/rep.out" 2>/dev/null & PIDS+=($!)
  exec 3>"$WORK/rep.in"
  wait_prompt view
  shot 5-prompt-view
  click prompt prompt.allow
  wait_prompt control
  shot 6-prompt-control
  click prompt prompt.allow
  # While the rep sees the screen, the window is the compact bar at the screen's top edge.
  wait_for session session.revoke.control
  for _ in $(seq 100); do tail -n 1 "$TRACE" | jq -e '.compact' >/dev/null && break; sleep 0.1; done
  sleep 0.5
  shot 7a-compact
  if [ "$LANG_CODE" = de ]; then
    echo "chat Guten Tag, hier ist Ann aus der IT. Ich sehe jetzt Ihren Bildschirm." >&3
  else
    echo "chat Hello, this is Ann from IT. I can see your screen now." >&3
  fi
  for _ in $(seq 100); do tail -n 1 "$TRACE" | jq -e '.chat.lines >= 1' >/dev/null && break; sleep 0.1; done
  sleep 0.3
  shot 7b-compact-chat
  click session session.expand
  click session session.chat.input
  if [ "$LANG_CODE" = de ]; then xdotool type --delay 15 "Danke, das Fenster ist jetzt offen."
  else xdotool type --delay 15 "Thanks, the window is open now."; fi
  xdotool key Return
  for _ in $(seq 100); do tail -n 1 "$TRACE" | jq -e '.chat.lines >= 2' >/dev/null && break; sleep 0.1; done
  shot 7-session
  echo "request files" >&3
  wait_prompt files
  click prompt prompt.allow
  wait_for session session.send_file
  echo "send $WORK/offer/Anleitung.pdf" >&3
  wait_file_prompt Anleitung.pdf
  shot 9-file-prompt
  click prompt prompt.save
  wait_transfer 'any(.transfers[]; .name == "Anleitung.pdf" and .state == "done")'
  echo "send $WORK/offer/Installationspaket.bin" >&3
  wait_file_prompt Installationspaket.bin
  click prompt prompt.save
  wait_transfer 'any(.transfers[]; .name == "Installationspaket.bin" and .state == "running" and .done > 20000000)'
  shot 10-transfers
  click session session.end
  wait_for ended ended.close
  shot 8-ended
  click ended ended.close
  wait "$LOTSE" || true
  exec 3>&-
  rm -f "$WORK/rep.in"
done

# The support portal's pages, from the real browser test (it writes its screenshots where
# LOTSE_SCREENS_OUT says; a plain test run keeps them in its temporary directory).
LOTSE_SCREENS_OUT=$(realpath "$OUT") cargo test -q --test portal_browser >/dev/null
# The supporters' and administrators' pages (portal-login-*, portal-account-en, portal-admin-*).
LOTSE_SCREENS_OUT=$(realpath "$OUT") cargo test -q -p lotse-console --test staff_portal_e2e >/dev/null
# The console's screens (console-*.png), from its end-to-end tests the same way.
LOTSE_CONSOLE_SCREENSHOTS=$(realpath "$OUT") cargo test -q -p lotse-console --test console_e2e >/dev/null
echo "screenshots in $OUT"
