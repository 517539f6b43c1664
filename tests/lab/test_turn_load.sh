#!/usr/bin/env bash
# test_turn_load.sh: 50 turnutils_uclient clients x 1,000 messages each (-m 50 -n 1000)
# through the appliance to turnutils_peer, with channels over IPv4 and with Send/Data
# indications over IPv6; uclient must report 0 lost packets and every message back.
# Prints uclient's figures (connect and transmit time, round trip, jitter) and the
# appliance's (allocations created, datagrams relayed, TURN requests and errors).
# SN_TURN_LOAD_CLIENTS / SN_TURN_LOAD_MESSAGES change the size.
. "$(dirname "$0")/lib.sh"

CLIENTS=${SN_TURN_LOAD_CLIENTS:-50}
MESSAGES=${SN_TURN_LOAD_MESSAGES:-1000}
PEER_PORT=3480
PEER_PIDS=()

stop_peers() {
	local p
	for p in "${PEER_PIDS[@]}"; do
		if proc_named "$p" turnutils_peer; then kill "$p" 2>/dev/null || true; fi
	done
	PEER_PIDS=()
}
trap 'rc=$?; set +e; stop_peers; (exit $rc); _cleanup' EXIT

load() { # WHAT uclient-args...
	local what=$1 out sent recv lost t0 t1
	shift
	t0=$(now_ms)
	out=$(in_ns timeout 240 turnutils_uclient -m "$CLIENTS" -n "$MESSAGES" -p 3478 "$@" 2>&1) ||
		fail "$what: turnutils_uclient failed: $(tail -n 5 <<<"$out")"
	t1=$(now_ms)
	lost=$(grep -oE 'Total lost packets [0-9]+' <<<"$out" | awk '{print $4}' | tail -n 1)
	sent=$(grep -oE 'tot_send_msgs=[0-9]+, tot_recv_msgs=[0-9]+$' <<<"$out" | tail -n 1)
	recv=${sent##*=}
	sent=${sent%%,*}
	sent=${sent#*=}
	[[ -n $lost && -n $sent && -n $recv ]] ||
		fail "$what: no statistics in uclient's output: $(tail -n 5 <<<"$out")"
	log "$what: $(grep -E 'Total connect time|Total transmit time|Total lost|round trip|jitter' <<<"$out" |
		sed 's/^[0-9]*: : //' | sort -u | tr '\n' ';')"
	log "$what: sent $sent, received $recv, lost $lost, wall time $(((t1 - t0) / 1000)) s"
	((sent >= CLIENTS * MESSAGES)) || fail "$what: only $sent messages sent"
	((lost == 0 && recv == sent)) || fail "$what: sent $sent, received $recv, lost $lost"
}

start_appliance
in_ns ping -n -q -c 1 -W 2 "$SN_APP4" >/dev/null || fail "no ping to $SN_APP4"
in_ns ping -6 -n -q -c 1 -W 2 "$SN_APP6" >/dev/null || fail "no ping to $SN_APP6"
ip netns exec "$SN_NETNS" turnutils_peer -L "$PEER4_ADDR" -p "$PEER_PORT" >/dev/null 2>&1 &
PEER_PIDS+=($!)
ip netns exec "$SN_NETNS" turnutils_peer -L "$PEER6_ADDR" -p "$PEER_PORT" >/dev/null 2>&1 &
PEER_PIDS+=($!)
peers_up() { in_ns ss -uln | grep -q "$PEER4_ADDR:$PEER_PORT" && in_ns ss -uln | grep -q "\[$PEER6_ADDR\]:$PEER_PORT"; }
wait_for 10 peers_up || fail "turnutils_peer did not start"

created0=$(metric supernode_turn_allocations_created_total) || fail "no /metrics"
to_peer0=$(metric supernode_dataplane_turn_to_peer_packets_total)
to_client0=$(metric supernode_dataplane_turn_to_client_packets_total)

load "${CLIENTS}x${MESSAGES} IPv4 channels" -u lab -w lab-password -e "$PEER4_ADDR" -r "$PEER_PORT" "$SN_APP4"
load "${CLIENTS}x${MESSAGES} IPv6 Send/Data" -u lab -w lab-password -x -s -e "$PEER6_ADDR" -r "$PEER_PORT" "$SN_APP6"

wait_for 10 metric_at_least $((to_peer0 + 2 * CLIENTS * MESSAGES)) supernode_dataplane_turn_to_peer_packets_total ||
	fail "relayed to peers rose from $to_peer0 to $(metric supernode_dataplane_turn_to_peer_packets_total)"
log "appliance: allocations created $created0 -> $(metric supernode_turn_allocations_created_total)," \
	"held $(metric supernode_turn_allocations); relayed to peers" \
	"$to_peer0 -> $(metric supernode_dataplane_turn_to_peer_packets_total), to clients" \
	"$to_client0 -> $(metric supernode_dataplane_turn_to_client_packets_total);" \
	"requests $(metric supernode_turn_requests_total), errors" \
	"$(metric supernode_turn_request_errors_total) (401 challenges" \
	"$(metric supernode_turn_request_errors_total 'reason="unauthenticated"')), table commands" \
	"$(metric supernode_turn_table_commands_total), table errors $(metric supernode_turn_table_errors_total)"
log "TURN errors and drops: $(metrics_text | grep -E '^supernode_turn_(request_errors|dropped|table_errors)_total' |
	grep -v ' 0$' | tr '\n' ' ')"
stop_peers
finish
