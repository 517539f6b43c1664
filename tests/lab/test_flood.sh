#!/usr/bin/env bash
# test_flood.sh: the source guard under a flood (issue 5). The appliance runs from a copy of
# the lab config with real guard limits and a second tap port, fl0 (198.18.1.1/24,
# 2001:db8:5e:1::1/64, gateways 198.18.1.2 / 2001:db8:5e:1::2 on its kernel side): the flood
# comes in there, and the answers to spoofed sources go to that gateway, which drops them
# (no forwarding in the namespace). A saturated tap queue then drops flood frames only, as a
# NIC at line rate would, and the legitimate clients keep talking over sn0. While two python3-opendht
# nodes put and get values and ping the appliance (dht_flood_legit.py) and turnutils_uclient
# relays media through channels, `supernode-bench flood` sends DHT ping/find and STUN
# Binding/Allocate requests from 100,000 spoofed sources (198.19.0.0/16, 2001:db8:5f::/48)
# and 4 heavy ones (198.18.200-203.1 / 2001:db8:5d:N::1) as fast as the lab takes them for
# SN_FLOOD_SECONDS (20). Checks:
#   - legitimate DHT operations succeed (>= 99 %), relayed media loses nothing;
#   - the drops show on /metrics by reason (guard_source, guard_banned, ...), a heavy source
#     is banned (supernodectl bans --json), the policer table stays within its capacity and
#     the dataplane's RSS grows by less than 32 MiB;
# and prints the rates: flood sent, dataplane received, dropped by reason.
set -euo pipefail
_base=${SN_CONFIG:-$(cd "$(dirname "$0")/../.." && pwd)/configs/lab.yaml}
FLOOD_TMP=$(mktemp -d /tmp/sn-test-flood.XXXXXX)
export SN_CONFIG=$FLOOD_TMP/supernode.yaml
/usr/bin/python3 - "$_base" "$SN_CONFIG" <<'EOF'
import re, sys
s = open(sys.argv[1]).read()
guard = """guard:
  enabled: true
  table_entries: 16384
  source:
    dht_rate_pps: 200
    dht_burst: 100
    stun_rate_pps: 100
    stun_burst: 50
    punt_rate_pps: 50
    punt_burst: 25
  prefix:
    dht_rate_pps: 1000
    dht_burst: 500
    stun_rate_pps: 500
    stun_burst: 250
    punt_rate_pps: 500
    punt_burst: 250
  aggregate_rate_pps: 20000
  aggregate_burst: 2000
  punt_rate_pps: 5000
  punt_burst: 500
  report_ms: 500
  top_k: 16
  ban_drops: 200
  ban_intervals: 2
  ban_seconds: 60
  suspect_seconds: 30
  suspect_factor: 4
  max_bans: 4096
"""
s, n = re.subn(r"(?ms)^guard:\n.*?(?=^\S|\Z)", guard, s)
assert n == 1, "no guard section in the lab config"
flood_port = """    - name: fl0
      device: "net_tap1,iface=fl0"
      ipv4: 198.18.1.1/24
      gateway4: 198.18.1.2
      ipv6: 2001:db8:5e:1::1/64
      gateway6: 2001:db8:5e:1::2
      mtu: 1500
      rx_desc: 1024
      tx_desc: 1024
"""
s, n = re.subn(r"(?m)^  dispatch:\n", lambda m: flood_port + m.group(0), s)
assert n == 1 and "name: sn0" in s, "no port list before dataplane.dispatch"
open(sys.argv[2], "w").write(s)
EOF
. "$(dirname "$0")/lib.sh"

SECONDS_FLOOD=${SN_FLOOD_SECONDS:-20}
BENCH=$SN_BUILD/bench/supernode-bench
PEER_PORT=3480
BG_PIDS=()
[[ -x $BENCH ]] || fail "$BENCH not built"

_flood_cleanup() {
	local rc=$? p
	trap - EXIT
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	(
		set +e
		(exit "$rc")
		_cleanup
	) || true
	rm -rf "$FLOOD_TMP"
	exit "$rc"
}
trap _flood_cleanup EXIT

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$(pid_of "$SN_DP_PIDFILE")/status"; }
drops() { metric supernode_dataplane_drops_total "reason=\"$1\""; }
REASONS=(guard_source guard_prefix guard_aggregate guard_banned guard_suspect punt_policed)

start_appliance
wait_for 30 metric_equals 1 supernode_dht_up || fail "the DHT node is not up in control"
wait_for 30 metric_at_least 1 supernode_dht_state_installs_total ||
	fail "control did not install the DHT state in the dataplane"
in_ns ping -6 -n -q -c 1 -W 2 "$SN_APP6" >/dev/null || fail "no ping to $SN_APP6"
# the flood port: its kernel side is the gateway the answers to spoofed sources go to
wait_for 10 in_ns ip link show fl0 >/dev/null || fail "no flood port fl0 in $SN_NETNS"
in_ns ip link set fl0 up
in_ns ip addr replace 198.18.1.2/24 dev fl0
in_ns ip -6 addr replace 2001:db8:5e:1::2/64 dev fl0 nodad
fl0_mac() {
	in_ns ping -n -q -c 1 -W 1 198.18.1.1 >/dev/null 2>&1 || return 1
	in_ns ip neigh show 198.18.1.1 dev fl0 | grep -oE 'lladdr ([0-9a-f]{2}:){5}[0-9a-f]{2}' | awk '{print $2}'
}
wait_for 10 fl0_mac >/dev/null || fail "no answer from 198.18.1.1 on fl0"
MAC=$(fl0_mac)
in_ns ping -6 -n -q -c 1 -W 2 2001:db8:5e:1::1 >/dev/null || fail "no ping to 2001:db8:5e:1::1"

ip netns exec "$SN_NETNS" turnutils_peer -L "$PEER4_ADDR" -p "$PEER_PORT" >/dev/null 2>&1 &
BG_PIDS+=($!)
peer_up() { in_ns ss -uln | grep -q "$PEER4_ADDR:$PEER_PORT"; }
wait_for 10 peer_up || fail "turnutils_peer did not start"

# legitimate DHT work for the flood and 15 s more
READY=$FLOOD_TMP/legit.ready
in_ns /usr/bin/python3 "$SN_ROOT/tests/lab/dht_flood_legit.py" "$SN_APP4" "$SN_APP6" \
	--seconds $((SECONDS_FLOOD + 5)) --ready "$READY" >"$FLOOD_TMP/legit.json" 2>"$FLOOD_TMP/legit.err" &
LEGIT_PID=$!
BG_PIDS+=($LEGIT_PID)
wait_for 40 test -e "$READY" || fail "legit DHT nodes did not join: $(tail -n 3 "$FLOOD_TMP/legit.err")"

rss0=$(rss_kb)
rx0=$(metric supernode_dataplane_rx_packets_total)
declare -A d0
for r in "${REASONS[@]}"; do d0[$r]=$(drops "$r"); done

in_ns "$BENCH" flood --iface fl0 --dst-mac "$MAC" --dst4 198.18.1.1 --dst6 2001:db8:5e:1::1 --sources 100000 --heavy 4 \
	--heavy-share 20 --seconds "$SECONDS_FLOOD" --rate "${SN_FLOOD_RATE:-0}" --count 20000000 >"$FLOOD_TMP/flood.json" \
	2>"$FLOOD_TMP/flood.err" &
FLOOD_PID=$!
BG_PIDS+=($FLOOD_PID)

# media during the flood: 5 clients, channels, 300 messages each
out=$(in_ns timeout 100 turnutils_uclient -m 5 -n 300 -p 3478 -u lab -w lab-password \
	-e "$PEER4_ADDR" -r "$PEER_PORT" "$SN_APP4" 2>&1) || fail "turnutils_uclient failed: $(tail -n 5 <<<"$out")"
lost=$(grep -oE 'Total lost packets [0-9]+' <<<"$out" | awk '{print $4}' | tail -n 1)
sr=$(grep -oE 'tot_send_msgs=[0-9]+, tot_recv_msgs=[0-9]+$' <<<"$out" | tail -n 1)
recv=${sr##*=}
sent=${sr%%,*}
sent=${sent#*=}
[[ -n $lost && -n $sent && -n $recv ]] || fail "no statistics from turnutils_uclient: $(tail -n 5 <<<"$out")"
kill -0 $FLOOD_PID 2>/dev/null || log "note: the flood ended before turnutils_uclient did"
log "media during the flood: sent $sent, received $recv, lost $lost"

wait $FLOOD_PID || fail "flood failed: $(cat "$FLOOD_TMP/flood.err")"
log "flood: $(cat "$FLOOD_TMP/flood.json")"
wait $LEGIT_PID || fail "legit DHT work failed: $(cat "$FLOOD_TMP/legit.json") $(tail -n 3 "$FLOOD_TMP/legit.err")"
flood=$(cat "$FLOOD_TMP/flood.json")
legit=$(cat "$FLOOD_TMP/legit.json")
log "legit DHT: $legit"

rx1=$(metric supernode_dataplane_rx_packets_total)
fsec=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$FLOOD_TMP/flood.json")
summary="port imissed $(metric supernode_port_rx_missed_packets_total); received by the dataplane $(((rx1 - rx0))) packets ($(/usr/bin/python3 -c "print(round($((rx1 - rx0)) / $fsec))") pps over the flood)"
total_drop=0
for r in "${REASONS[@]}"; do
	d=$(($(drops "$r") - ${d0[$r]}))
	total_drop=$((total_drop + d))
	summary+="; $r $d ($(/usr/bin/python3 -c "print(round($d / $fsec))") pps)"
done
summary+="; policer evictions $(metric supernode_dataplane_guard_evictions_total), table full $(metric supernode_dataplane_guard_table_full_total)"
log "$summary"
((sent >= 1500 && lost == 0 && recv == sent)) || fail "media lost: sent $sent, received $recv, lost $lost"

/usr/bin/python3 - "$legit" <<'EOF' || fail "legitimate DHT operations below 99 %: $legit"
import json, sys
s = json.loads(sys.argv[1])
ok = s["put_ok"] + s["get_ok"] + s["ping_ok"]
bad = s["put_fail"] + s["get_fail"] + s["ping_fail"]
print("[test_flood] legit DHT success %.2f %% of %d operations" % (100.0 * ok / max(1, ok + bad), ok + bad), file=sys.stderr)
sys.exit(0 if ok + bad > 0 and s["put_ok"] > 0 and s["get_ok"] > 0 and ok >= 0.99 * (ok + bad) else 1)
EOF
/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["distinct_spoofed"] >= 100000 else 1)' \
	"$FLOOD_TMP/flood.json" || fail "fewer than 100000 distinct spoofed sources sent: $flood"

(($(drops guard_source) > ${d0[guard_source]})) || fail "no guard_source drops"
wait_for 10 metric_at_least 1 supernode_guard_bans_active || fail "nothing banned"
bans=$("$SN" ctl bans --json) || fail "supernodectl bans failed"
grep -qE '"address":"(198\.18\.20[0-3]\.1|2001:db8:5d:[0-3]::1)","prefix_len":(32|128),"action":"ban","reason":"heavy_hitter"' <<<"$bans" ||
	fail "no heavy source banned: $bans"
(($(drops guard_banned) > ${d0[guard_banned]})) || fail "no guard_banned drops"
log "bans: $(grep -oE '"address":"[^"]*","prefix_len":[0-9]+,"action":"[a-z]+"' <<<"$bans" | tr '\n' ' ')"
metric_at_least 1 supernode_guard_reports_total || fail "no heavy-hitter report reached control"

entries=$(metric supernode_guard_policer_entries)
cap=$(metric supernode_guard_policer_capacity)
((entries <= cap && cap > 0)) || fail "policer entries $entries over capacity $cap"
rss1=$(rss_kb)
log "dataplane RSS ${rss0} kB -> ${rss1} kB; policer entries $entries of $cap ($(metric supernode_guard_policer_bytes) bytes)"
((rss1 - rss0 < 32768)) || fail "dataplane RSS grew by $((rss1 - rss0)) kB"

# the operator's commands
"$SN" ctl ban 198.19.77.0/24 30 >&2 || fail "supernodectl ban failed"
"$SN" ctl bans | grep -q '198.19.77.0/24' || fail "manual ban not listed"
"$SN" ctl unban 198.19.77.0/24 >&2 || fail "supernodectl unban failed"
finish
