#!/usr/bin/env bash
# test_restart_all.sh: the restart guarantee in one run. While the appliance carries
#   - two relayed SRTP calls (sn-lab-srtp-relay; IPv4 and IPv6, channels, Refresh and
#     ChannelBind every second),
#   - a raw-wire OpenDHT load (dht_load.py: ping + find, IPv4 and IPv6, one in flight, each
#     with a 0.5 s deadline, all answered by the dataplane's fast path),
#   - two python3-opendht nodes (dht_peers.py) in its routing table, putting and getting,
#   - ICMP echo (ping -i 0.05),
# supernode-control is killed with SIGKILL, left down until the DHT load has been answered
# for a while without it, then started again (./supernode start-control). The test waits
# until control is back and resynced: channel connected, the allocations, the dataplane's
# routing nodes and the UDP dispatch entries equal to what they were before the kill, the
# resync in control's log. Then the traffic goes on to its end, and: every SRTP packet in
# both calls arrived, authenticated, once, in order (0 lost/duplicated/reordered), no
# Refresh/ChannelBind failed, every DHT ping/find was answered (at least MIN_DHT), no ICMP
# echo was lost. Takes about 50 s.
. "$(dirname "$0")/lib.sh"

SRTP=$SN_BUILD/tests/lab/sn-lab-srtp-relay
[[ -x $SRTP ]] || fail "$SRTP not built"
command -v jq >/dev/null || fail "jq missing (./supernode setup installs it)"
PACKETS=2000  # per SSRC at 20 ms: a 40 s call
MIN_DHT=1000  # ping+find answered over the run (about 35 per second are sent)
PING_COUNT=700 # at 50 ms: 35 s of ICMP echo

work=$(mktemp -d /tmp/sn-restart-all.XXXXXX)
PIDS=()
stop_load() {
	local p
	touch "$work/stop" 2>/dev/null || true
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && kill "$p" 2>/dev/null
	done
	PIDS=()
}
trap 'rc=$?; set +e; stop_load; rm -rf "$work"; (exit $rc); _cleanup' EXIT

start_appliance
in_ns ping -n -q -c 1 -W 2 "$SN_APP4" >/dev/null || fail "no ping to $SN_APP4"
in_ns ping -6 -n -q -c 1 -W 2 "$SN_APP6" >/dev/null || fail "no ping to $SN_APP6"
wait_for 30 metric_at_least 1 supernode_dht_state_installs_total ||
	fail "control did not install the DHT state in the dataplane"
ctl_json() { "$SN" ctl "$@" --json; }

# --- traffic
PY=/usr/bin/python3
ip netns exec "$SN_NETNS" $PY "$SN_ROOT/tests/lab/dht_peers.py" "$SN_APP4" "$SN_APP6" --stop-file "$work/stop" \
	--max-seconds 80 --every 1 --stats-file "$work/peers.stats" >"$work/peers.log" 2>&1 &
PEERS_PID=$!
PIDS+=("$PEERS_PID")
ip netns exec "$SN_NETNS" "$SRTP" --server "$SN_APP4" --local "$PEER4_ADDR" --peer "$PEER4_ADDR" --user lab \
	--password lab-password --packets $PACKETS --refresh-s 1 --channel 0x4001 >"$work/call4.log" 2>&1 &
CALL4=$!
PIDS+=("$CALL4")
ip netns exec "$SN_NETNS" "$SRTP" --server "$SN_APP6" --local "$PEER6_ADDR" --peer "$PEER6_ADDR" --user lab \
	--password lab-password --packets $PACKETS --refresh-s 1 --channel 0x4002 >"$work/call6.log" 2>&1 &
CALL6=$!
PIDS+=("$CALL6")
ip netns exec "$SN_NETNS" $PY "$SN_ROOT/tests/lab/dht_load.py" "$SN_APP4" "$SN_APP6" --stop-file "$work/stop" \
	--max-seconds 80 --interval-ms 50 --timeout 0.5 --min-queries $MIN_DHT \
	--stats-file "$work/load.stats" >"$work/load.log" 2>&1 &
LOAD_PID=$!
PIDS+=("$LOAD_PID")
ip netns exec "$SN_NETNS" ping -n -q -i 0.05 -c $PING_COUNT -W 1 "$SN_APP4" >"$work/ping.log" 2>&1 &
PING_PID=$!
PIDS+=("$PING_PID")

wait_for 20 metric_at_least 2 supernode_turn_channels ||
	fail "the calls did not bind their channels: $(cat "$work/call4.log" "$work/call6.log")"
wait_for 20 metric_at_least 2 supernode_turn_requests_total 'method="refresh"' ||
	fail "no Refresh before the kill"
dp_nodes() { ctl_json routes | jq -r '.dataplane_nodes'; }
routes_ready() { (($(dp_nodes) >= 2)); }
wait_for 20 routes_ready || fail "the DHT peers are not in the routing table: $(cat "$work/peers.log")"
load_stat() { awk -F= -v k="$1" '$1 == k { print $2 }' "$work/load.stats" 2>/dev/null; }
answered() { echo $(($(load_stat ping_answered || echo 0) + $(load_stat find_answered || echo 0))); }
answered_at_least() { local a; a=$(answered) && ((a >= $1)); }
wait_for 10 answered_at_least 50 || fail "the DHT load is not answered: $(cat "$work/load.log")"

# --- the tables before the kill
allocs0=$(ctl_json allocations | jq -r '.count')
perms0=$(ctl_json allocations | jq -r '.permissions')
chans0=$(ctl_json allocations | jq -r '.channels')
nodes0=$(dp_nodes)
disp0=$(ctl_json status | jq -r '.dispatch.udp_dispatch_entries')
[[ $allocs0 -eq 2 ]] || fail "expected 2 allocations before the kill, supernodectl lists $allocs0"
log "before: $allocs0 allocations, $perms0 permissions, $chans0 channels, $nodes0 routing nodes" \
	"in the dataplane, $disp0 udp dispatch entries"

cpid=$(pid_of "$SN_CTL_PIDFILE") || fail "no control pid file"
proc_named "$cpid" supernode-control || fail "pid $cpid is not supernode-control"
log "kill -9 control (pid $cpid) under load"
kill -9 "$cpid"
ctl_gone() { ! proc_named "$cpid" supernode-control; }
wait_for 10 ctl_gone || fail "control survived kill -9"
down0=$(answered)
# Control stays down while the fast path answers 100 more DHT queries (about 3 s).
wait_for 15 answered_at_least $((down0 + 100)) || fail "the DHT load stalled while control was down"
rc=0
"$SN" ctl status --json >/dev/null 2>&1 || rc=$?
[[ $rc -eq 3 ]] || fail "supernodectl status exits $rc while control is down, not 3"
log "control down: $(($(answered) - down0)) DHT queries answered meanwhile"

marker="---- $(date -Is)"
echo "$marker: test_restart_all restarts control ----" >>"$SN_CTL_LOG"
"$SN" start-control >&2 || fail "./supernode start-control failed"
wait_for 30 metric_equals 1 supernode_control_channel_connected || fail "control did not reconnect"
wait_for 30 metric_at_least 1 supernode_control_resyncs_total || fail "control did not resync"
allocs_back() { [[ $(ctl_json allocations | jq -r '.count') == "$allocs0" ]]; }
wait_for 15 allocs_back || fail "after the resync supernodectl lists" \
	"$(ctl_json allocations | jq -r '.count') allocations, not $allocs0"
nodes_back() { [[ $(dp_nodes) -eq $nodes0 ]]; }
wait_for 15 nodes_back || fail "after the resync the dataplane has $(dp_nodes) routing nodes, not $nodes0"
disp_back() { [[ $(ctl_json status | jq -r '.dispatch.udp_dispatch_entries') -eq $disp0 ]]; }
wait_for 15 disp_back || fail "after the resync: $(ctl_json status | jq -c '.dispatch'), not $disp0 entries"
# The calls' next Refresh/ChannelBind reach the new control, which owns them again.
perms_chans_back() {
	[[ $(ctl_json allocations | jq -r '"\(.permissions) \(.channels)"') == "$perms0 $chans0" ]]
}
wait_for 15 perms_chans_back || fail "after the resync $(ctl_json allocations |
	jq -r '"\(.permissions) permissions, \(.channels) channels"'), not $perms0 and $chans0:" \
	"$("$SN" ctl allocations) $(ctl_json status | jq -c .channel)"
sed -n "/^${marker//\//\\/}/,\$p" "$SN_CTL_LOG" | grep -q 'resync done:' ||
	fail "control's log shows no resync after the restart"
log "after: $(ctl_json allocations | jq -r '.count') allocations, $(dp_nodes) routing nodes," \
	"$(ctl_json status | jq -r '.dispatch.udp_dispatch_entries') udp dispatch entries;" \
	"log: $(sed -n "/^${marker//\//\\/}/,\$p" "$SN_CTL_LOG" | grep -m 1 'resync done:' | sed 's/.*resync done/resync done/')"

# --- the traffic goes on to its end
for p in "$CALL4" "$CALL6"; do
	wait_for 60 bash -c "! kill -0 $p 2>/dev/null" || fail "a call did not end"
done
touch "$work/stop"
for v in 4 6; do
	pid_var=CALL$v
	rc=0
	wait "${!pid_var}" || rc=$?
	log "IPv$v call: $(grep -E '^srtp_relay: (client|peer|mode)' "$work/call$v.log" | sed 's/^srtp_relay: //' | tr '\n' ';')"
	[[ $rc -eq 0 ]] && grep -q '^srtp_relay: OK$' "$work/call$v.log" ||
		fail "the IPv$v call lost, duplicated or reordered packets (exit $rc): $(tail -n 8 "$work/call$v.log")"
	grep -q 'refresh_failures=0' "$work/call$v.log" || fail "IPv$v refreshes failed across the restart"
done
rc=0
wait "$LOAD_PID" || rc=$?
log "$(cat "$work/load.log")"
[[ $rc -eq 0 ]] || fail "DHT queries went unanswered or too few were sent (min $MIN_DHT)"
rc=0
wait "$PING_PID" || rc=$?
log "ICMP: $(grep -E 'packets transmitted' "$work/ping.log")"
[[ $rc -eq 0 ]] && grep -q ' 0% packet loss' "$work/ping.log" || fail "ICMP echo lost packets: $(cat "$work/ping.log")"
rc=0
wait "$PEERS_PID" || rc=$?
log "$(tail -n 1 "$work/peers.log")"
[[ $rc -eq 0 ]] || fail "the OpenDHT peers could not store through the appliance"
PIDS=()
wait_for 10 metric_equals 0 supernode_turn_allocations || fail "the calls' allocations were not deleted"
finish
