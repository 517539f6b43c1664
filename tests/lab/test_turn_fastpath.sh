#!/usr/bin/env bash
# test_turn_fastpath.sh: the TURN fast path of the dataplane, end to end in the lab namespace.
#   1. STUN Binding over IPv4 and IPv6 with coturn's turnutils_stunclient (answered by the
#      fast path: turn_binding_answers rises).
#   2. With supernode-control stopped, turn_fastpath.py installs allocations, permissions and
#      channels over the channel itself (turn_inject.py) and relays between UDP sockets on
#      the kernel side of the lab port: ChannelData and Send/Data indications both ways,
#      IPv4 and IPv6 clients and peers, the drops the fast path must make, the DUMP counters,
#      and peers at addresses the dataplane has to resolve first (ARP / NDP on demand).
#   3. Control started again: /metrics shows the TURN counters and drop reasons.
. "$(dirname "$0")/lib.sh"

FASTPATH=$SN_ROOT/tests/lab/turn_fastpath.py

start_appliance

answers0=$(metric supernode_dataplane_turn_binding_answers_total) || fail "no /metrics"
in_ns timeout 10 turnutils_stunclient -p 3478 "$SN_APP4" 2>&1 | grep -q "reflexive addr: $PEER4_ADDR:" ||
	fail "turnutils_stunclient $SN_APP4: no server-reflexive address $PEER4_ADDR"
in_ns timeout 10 turnutils_stunclient -p 3478 "$SN_APP6" 2>&1 | grep -q "reflexive addr: $PEER6_ADDR:" ||
	fail "turnutils_stunclient $SN_APP6: no server-reflexive address $PEER6_ADDR"
wait_for 10 metric_at_least $((answers0 + 2)) supernode_dataplane_turn_binding_answers_total ||
	fail "turn_binding_answers did not rise by 2"
log "Binding answered over IPv4 and IPv6"

# The dataplane takes one control at a time: stop ours (the pid the launcher started).
ctl_pid=$(pid_of "$SN_CTL_PIDFILE") || fail "no control pid file"
proc_named "$ctl_pid" supernode-control || fail "pid $ctl_pid is not supernode-control"
kill -TERM "$ctl_pid"
wait_for 20 bash -c "! kill -0 $ctl_pid 2>/dev/null" || fail "control did not stop"

# Two more addresses on the lab link that the dataplane has never seen.
read -r FAR4 FAR6 < <(/usr/bin/python3 - "$SN_PEER4" "$SN_PEER6" <<'EOF'
import ipaddress, sys
a, b = (ipaddress.ip_interface(x) for x in sys.argv[1:3])
print(a.ip + 1, b.ip + 1)
EOF
)
in_ns ip addr add "$FAR4/${SN_PEER4#*/}" dev "$SN_LAB_IFACE"
in_ns ip addr add "$FAR6/${SN_PEER6#*/}" dev "$SN_LAB_IFACE" nodad

in_ns /usr/bin/python3 "$FASTPATH" --channel "$SN_RUNDIR/channel.sock" --app4 "$SN_APP4" \
	--app6 "$SN_APP6" --peer4 "$PEER4_ADDR" --peer6 "$PEER6_ADDR" --far4 "$FAR4" \
	--far6 "$FAR6" >&2 || fail "turn_fastpath.py failed"

"$SN" start-control >&2 || fail "control did not start again"
wait_for 30 metric_equals 1 supernode_control_channel_connected ||
	fail "control did not reconnect to the dataplane"
for m in turn_to_peer_packets:11 turn_to_client_packets:8 turn_channeldata_in:7 \
	turn_send_indications:4 turn_channeldata_out:4 turn_data_indications:4; do
	wait_for 5 metric_at_least "${m#*:}" "supernode_dataplane_${m%%:*}_total" ||
		fail "${m%%:*} is $(metric "supernode_dataplane_${m%%:*}_total"), expected >= ${m#*:}"
done
for r in turn_no_permission:2 turn_expired:1 turn_no_channel:1 turn_no_allocation:2 \
	neigh_unresolved:2; do
	metric_at_least "${r#*:}" supernode_dataplane_drops_total "reason=\"${r%%:*}\"" ||
		fail "drops{reason=${r%%:*}} is $(metric supernode_dataplane_drops_total "reason=\"${r%%:*}\""), expected >= ${r#*:}"
done
metric_at_least 2 supernode_dataplane_neigh_requests_total ||
	fail "the main lcore sent no ARP/NS for the unknown peers"
log "to peer $(metric supernode_dataplane_turn_to_peer_packets_total) packets," \
	"to client $(metric supernode_dataplane_turn_to_client_packets_total) packets," \
	"neighbour requests $(metric supernode_dataplane_neigh_requests_total)"

finish
