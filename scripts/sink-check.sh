#!/usr/bin/env bash
# Proves the sink rig (packages/bench/src/bench/sink-rig.ts) gives true zero-copy, and measures it:
# builds scripts/sink-check.c into a temp dir, creates the rig (a veth pair in the root network
# namespace, far end down, a permanent neighbour entry for the sink), runs the check, removes
# everything, also on failure or Ctrl-C. Extra arguments go to sink-check (e.g. -n 200000, -b 0).
# Exit status: sink-check's (0 = every zero-copy send completed without COPIED); 0 with a
# "skipped" line when it cannot run here (not root, no gcc or ip).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

skip() { echo "sink-check: skipped: $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root to create a veth pair and a permanent neighbour entry in the root network namespace"
command -v ip >/dev/null || skip "needs iproute2's ip command"
command -v gcc >/dev/null || skip "needs gcc to build scripts/sink-check.c"

# Same names as sink-rig.ts (axsk<pid>_<tag>a/b) so either removes the other's stale rigs.
near="axsk$$_sa" far="axsk$$_sb"
tmp="$(mktemp -d)"
child=
cleanup() {
  [ -z "$child" ] || kill "$child" 2>/dev/null || true # a TERM for us ends the check too
  [ -z "$child" ] || wait "$child" 2>/dev/null || true
  ip link del "$near" 2>/dev/null || true # takes the peer, address, route and neighbour along
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for dev in /sys/class/net/axsk*; do
  [ -e "$dev" ] || continue
  name="${dev##*/}" pid="${name#axsk}" pid="${pid%%_*}"
  case "$pid" in '' | *[!0-9]*) continue ;; esac
  kill -0 "$pid" 2>/dev/null || ip link del "$name" 2>/dev/null || true
done

gcc -O2 -Wall -Wextra -o "$tmp/sink-check" "$here/sink-check.c"

# First /30 of 198.18.1.0/24 nobody holds (test/helpers/netns.ts uses 198.18.0.0/30).
used="$(ip -4 -o addr show | awk '{print $4}' | cut -d/ -f1)"
base=-1
for ((b = 0; b < 256; b += 4)); do
  if ! grep -qxF -e "198.18.1.$((b + 1))" -e "198.18.1.$((b + 2))" <<<"$used"; then base=$b; break; fi
done
[ "$base" -ge 0 ] || { echo "sink-check: no free /30 in 198.18.1.0/24" >&2; exit 2; }
local_addr="198.18.1.$((base + 1))" sink_addr="198.18.1.$((base + 2))"

ip link add "$near" type veth peer name "$far" # both ends start down; $far stays down
ip link set dev "$near" addrgenmode none
ip addr add "$local_addr/30" dev "$near"
ip link set dev "$near" up
ip neigh replace "$sink_addr" lladdr 02:a1:07:51:4e:4b nud permanent dev "$near"
route_dev="$(ip -o route get "$sink_addr" | sed -n 's/.* dev \([^ ]*\).*/\1/p')"
[ "$route_dev" = "$near" ] || { echo "sink-check: $sink_addr routes via '$route_dev', not $near" >&2; exit 2; }
echo "sink rig: $near ($local_addr, up, no carrier) -> $sink_addr; peer $far down"

# In the background and waited for, so that a TERM reaches the trap at once, not after the run.
"$tmp/sink-check" -i "$near" "$@" "$sink_addr" &
child=$!
rc=0
wait "$child" || rc=$?
child=
stats="/sys/class/net/$near/statistics"
echo "sink rig: $near tx_packets $(cat "$stats/tx_packets"), tx_dropped $(cat "$stats/tx_dropped") (whole GSO sends, dropped unsegmented)"
exit "$rc"
