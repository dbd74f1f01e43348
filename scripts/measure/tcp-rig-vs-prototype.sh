#!/bin/bash
# The TCP sink rig's C rows beside the research prototype's own loop, interleaved in one run
# (the prototype's published figures are from another day; this machine varies ±20 % between
# runs). The prototype runs as in its published results (-k 65536: ACK every 64 KiB or 20 µs;
# its code's default, -k 1, ACKs every packet). Root. Builds shared/research/tcp-sink-rig/rig.c into a temp folder, then alternates:
# prototype cold, bench cold, prototype hot, bench hot, ROUNDS times. Prints each run's line, then
# a table of medians. Usage: tcp-rig-vs-prototype.sh [ROUNDS] [SECS]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
proto=${PROTOTYPE_DIR:-$here/../shared/research/tcp-sink-rig}
rounds=${1:-2}; secs=${2:-4}
tmp=$(mktemp -d)
trap 'ip link del tcrig0 2>/dev/null || true; rm -rf "$tmp"' EXIT INT TERM
cp "$proto/rig.c" "$proto/net.sh" "$tmp/"
gcc -O2 -pthread -o "$tmp/rig" "$tmp/rig.c"
prototype() { # $1: region MiB (0: hot)
  (cd "$tmp" && ./net.sh down && ./net.sh up && ./rig -R "$1" -t "$secs" -r 1 -k 65536 2>&1; ./net.sh down) |
    awk -v set="$2" '/^(32|256|1024) /{print "prototype", set, $1 "K", $2, "Gbit/s", $3, "s/GB", $5, "KB/ack", $11}'
}
bench() { # $1: label, then extra bench options
  local set=$1; shift
  node "$here/bin/aiotx.js" bench --sink tcp --method reference,reference-zc --sizes 32K,256K,1M \
    --duration "$secs" --repeat 1 --json "$@" |
    SET=$set node -e '
      const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const set = process.env.SET;
      for (const r of j.results)
        console.log("bench", set, r.size / 1024 + "K", r.method === "reference" ? "send" : "ZC", "Gbit/s", r.gbitPerSecond.toFixed(2),
          "s/GB", r.cpuSecondsPerGB.toFixed(4), "KB/ack", (r.bytes / r.acks / 1024).toFixed(1));'
}
echo "# $(date -u +%FT%TZ) $(uname -r) load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 0; i < rounds; i++)); do
  prototype 1024 cold; bench cold --working-set 1G
  prototype 0 hot; bench hot --hot
done | tee "$tmp/lines"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
node -e '
  const runs = new Map();
  for (const l of require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")) {
    const [who, set, size, loop, , , , perGB, , perAck] = l.split(/\s+/);
    const key = `${set} | ${size} | ${loop}`;
    const e = runs.get(key) ?? { prototype: [], bench: [], prototypeAck: [], benchAck: [] };
    e[who].push(+perGB);
    e[who + "Ack"].push(+perAck);
    runs.set(key, e);
  }
  const median = (a) => { const s = [...a].sort((x, y) => x - y), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  console.log("| set | size | loop | prototype s/GB | bench s/GB | bench ÷ prototype | KiB per ACK (prototype, bench) |");
  console.log("|---|---|---|---|---|---|---|");
  for (const [key, e] of runs) {
    const p = median(e.prototype), b = median(e.bench);
    console.log(`| ${key} | ${p.toFixed(4)} | ${b.toFixed(4)} | ${(b / p).toFixed(2)} | ${median(e.prototypeAck).toFixed(0)}, ${median(e.benchAck).toFixed(0)} |`);
  }' "$tmp/lines"
