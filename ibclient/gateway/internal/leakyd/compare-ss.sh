#!/usr/bin/env bash
# Times `ibdash monitor --once` against `ss` on one port holding N
# CLOSE_WAIT sockets (default 20000), whole process each, with hyperfine.
# Two leakyd processes share the port through SO_REUSEPORT, because one
# process here may hold at most 20000 open files. Both are stopped by pid
# on exit.
#
# usage: compare-ss.sh [N] [RUNS]   (run from anywhere in the repository)
set -euo pipefail
n=${1:-20000}
runs=${2:-30}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install -y hyperfine" >&2; exit 2; }
(cd "$root" && go build -o "$work/ibdash" ./cmd/ibdash && go build -o "$work/leakyd" ./ibclient/gateway/internal/leakyd)

"$work/leakyd" -reuseport >"$work/a.out" &
pids+=($!)
until grep -q '^listening ' "$work/a.out" 2>/dev/null; do sleep 0.1; done
addr=$(sed -n 's/^listening //p' "$work/a.out")
port=${addr##*:}
"$work/leakyd" -reuseport -listen "$addr" -leak "$n" >"$work/b.out" &
pids+=($!)

# Wait until the kernel shows the sockets (or 60 s pass).
for _ in $(seq 600); do
  count=$(ss -Htn state close-wait sport = ":$port" | wc -l)
  [ "$count" -ge "$n" ] && break
  sleep 0.1
done
echo "port $port: $count CLOSE_WAIT sockets"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/^Mem:/{print $2}') GiB, $(uname -sr), $(go version | cut -d' ' -f3), $(hyperfine --version)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$work/ibdash" monitor --once --port "$port" --threshold 1000000

hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/times.json" \
  "ss -Htn state close-wait sport = :$port" \
  "$work/ibdash monitor --once --port $port --threshold 1000000" \
  "$work/ibdash monitor --once --port $port --threshold 1000000 --source proc"
python3 - "$work/times.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    cmd = r["command"].split("/")[-1] if "ibdash" in r["command"] else r["command"]
    print(f'median {r["median"]*1000:7.1f} ms  min {r["min"]*1000:7.1f} ms  max {r["max"]*1000:7.1f} ms'
          f'  user {r["user"]*1000:5.1f} ms  system {r["system"]*1000:5.1f} ms  {cmd}')
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
