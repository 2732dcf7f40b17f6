#!/usr/bin/env bash
# Renders PNGs of real `ibdash --demo` frames into screenshots/: the
# binary runs in a detached tmux session on a private socket, each frame
# is read with `tmux capture-pane -e` (text with its colors) and drawn
# by charmbracelet/freeze.
#
# Needs tmux and Go; freeze is taken from PATH or run from the Go module
# proxy at the pinned version. The demo keys are cached in
# $XDG_CACHE_HOME/ibdash/demo, so only the first run waits for them.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v tmux >/dev/null || { echo "screenshots.sh: tmux is missing; install it (apt-get install tmux)" >&2; exit 1; }
if command -v freeze >/dev/null; then
  freeze=(freeze)
else
  freeze=(go run github.com/charmbracelet/freeze@v0.2.2)
fi

work=$(mktemp -d)
socket="ibdash-screenshots-$$"
session=shots
cleanup() {
  # Only the session and server this script started.
  tmux -L "$socket" kill-session -t "$session" 2>/dev/null || true
  tmux -L "$socket" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/ibdash" ./cmd/ibdash
tmux -L "$socket" new-session -d -x 120 -y 40 -s "$session" \
  -e TERM=xterm-256color "$work/ibdash" --demo

# wait_for TEXT [SECONDS]: poll the screen until TEXT is on it.
wait_for() {
  local deadline=$((SECONDS + ${2:-60}))
  until tmux -L "$socket" capture-pane -p -t "$session" | grep -qF -- "$1"; do
    if ((SECONDS > deadline)); then
      echo "screenshots.sh: \"$1\" not on screen; last frame:" >&2
      tmux -L "$socket" capture-pane -p -t "$session" >&2
      exit 1
    fi
    sleep 0.2
  done
}

keys() { tmux -L "$socket" send-keys -t "$session" "$@"; }

# shot NAME: render the current frame to screenshots/NAME.png.
shot() {
  tmux -L "$socket" capture-pane -e -p -t "$session" >"$work/$1.ansi"
  "${freeze[@]}" --language ansi --window --padding 20 --margin 0 \
    --output "screenshots/$1.png" <"$work/$1.ansi" >/dev/null
  echo "screenshots/$1.png"
}

wait_for "READY  authenticated yes"
wait_for "LISTENING  probe ok"

# The leaky gateway fills up with CLOSE_WAIT until the watchdog
# restarts it; wait for the restart and the CLOSE_WAIT climbing again.
wait_for "was restarted (exit 0)" 90
wait_for "restart held back for" 30
shot dashboard-120x40

# The pending key's error, selected in the errors panel.
keys Tab Tab Tab
wait_for "▸ IB errors"
keys j
sleep 0.5
shot errors-120x40

# The order ticket: the first listed expiry taken, the strikes listed
# for it nearest the money first, then the what-if preview of a put
# with a 3x stop. Nothing is submitted.
keys BTab BTab BTab
wait_for "▸ Consumer keys"
keys n
wait_for "expiries listed"
keys Enter
wait_for "strikes listed for"
sleep 0.5
shot ticket-strikes-120x40

keys Enter
wait_for "delta"
keys Tab Tab Tab Tab Tab 3x C-s
wait_for "enter submits this order"
sleep 0.5
shot ticket-preview-120x40
keys Escape
wait_for "Preview discarded"
keys Escape

# At 80x24 the panels stack and the others collapse to a summary line.
tmux -L "$socket" resize-window -t "$session" -x 80 -y 24
wait_for "▸ Consumer keys"
sleep 0.5
shot keys-80x24

keys q
