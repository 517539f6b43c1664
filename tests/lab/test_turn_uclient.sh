#!/usr/bin/env bash
# test_turn_uclient.sh: coturn's turnutils_uclient relays through the appliance to
# turnutils_peer on the kernel side of the lab port, and loses nothing. Variants:
#   ChannelData (default) and Send/Data indications (-s); IPv4 and IPv6 relayed addresses
#   (-x) and peers; IPv4 and IPv6 clients; long-term credentials (-u lab -w lab-password)
#   and TURN REST API usernames (-u lab -W lab-secret).
# uclient runs with RTCP (no -c): its RTP Allocate (EVEN-PORT with R, 60 bytes) and RTCP
# Allocate (RESERVATION-TOKEN, 56 bytes) are the ones a challenge can fit under; with -c its
# first Allocate may be 52 bytes, below the smallest challenge (56), and the size rule drops
# it (see test_turn_bad.sh and control/turn.h).
# Each run: SN_TURN_CLIENTS clients (default 5) x SN_TURN_MESSAGES messages (default 200);
# uclient's "Total lost packets" must be 0 and every message sent must come back.
. "$(dirname "$0")/lib.sh"

CLIENTS=${SN_TURN_CLIENTS:-5}
MESSAGES=${SN_TURN_MESSAGES:-200}
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

# uclient ARGS...: one run; checks lost 0 and sent == received; logs the figures.
uclient() {
	local what=$1 out sent recv lost
	shift
	out=$(in_ns timeout 120 turnutils_uclient -m "$CLIENTS" -n "$MESSAGES" -p 3478 "$@" 2>&1) ||
		fail "$what: turnutils_uclient failed: $(tail -n 5 <<<"$out")"
	lost=$(grep -oE 'Total lost packets [0-9]+' <<<"$out" | awk '{print $4}' | tail -n 1)
	sent=$(grep -oE 'tot_send_msgs=[0-9]+, tot_recv_msgs=[0-9]+$' <<<"$out" | tail -n 1)
	recv=${sent##*=}
	sent=${sent%%,*}
	sent=${sent#*=}
	[[ -n $lost && -n $sent && -n $recv ]] ||
		fail "$what: no statistics in uclient's output: $(tail -n 5 <<<"$out")"
	((sent >= CLIENTS * MESSAGES)) || fail "$what: only $sent messages sent"
	((lost == 0 && recv == sent)) || fail "$what: sent $sent, received $recv, lost $lost"
	log "$what: sent $sent, received $recv, lost $lost;" \
		"$(grep -oE 'Average round trip delay [0-9.]+ ms' <<<"$out" | tail -n 1)"
}

start_appliance
in_ns ping -n -q -c 1 -W 2 "$SN_APP4" >/dev/null || fail "no ping to $SN_APP4"
in_ns ping -6 -n -q -c 1 -W 2 "$SN_APP6" >/dev/null || fail "no ping to $SN_APP6"

# `ip netns exec` execs the command, so $! is turnutils_peer's own pid
ip netns exec "$SN_NETNS" turnutils_peer -L "$PEER4_ADDR" -p "$PEER_PORT" >/dev/null 2>&1 &
PEER_PIDS+=($!)
ip netns exec "$SN_NETNS" turnutils_peer -L "$PEER6_ADDR" -p "$PEER_PORT" >/dev/null 2>&1 &
PEER_PIDS+=($!)
peers_up() { in_ns ss -uln | grep -q "$PEER4_ADDR:$PEER_PORT" && in_ns ss -uln | grep -q "\[$PEER6_ADDR\]:$PEER_PORT"; }
wait_for 10 peers_up || fail "turnutils_peer did not start"

created0=$(metric supernode_turn_allocations_created_total) || fail "no /metrics"
relayed0=$(metric supernode_dataplane_turn_to_peer_packets_total)
LT=(-u lab -w lab-password)
REST=(-u lab -W lab-secret)

uclient "IPv4 client, IPv4 relay, channels, long-term" "${LT[@]}" -e "$PEER4_ADDR" -r "$PEER_PORT" "$SN_APP4"
uclient "IPv4 client, IPv4 relay, Send/Data, long-term" "${LT[@]}" -s -e "$PEER4_ADDR" -r "$PEER_PORT" "$SN_APP4"
uclient "IPv4 client, IPv6 relay, channels, long-term" "${LT[@]}" -x -e "$PEER6_ADDR" -r "$PEER_PORT" "$SN_APP4"
uclient "IPv6 client, IPv6 relay, channels, long-term" "${LT[@]}" -x -e "$PEER6_ADDR" -r "$PEER_PORT" "$SN_APP6"
uclient "IPv6 client, IPv6 relay, Send/Data, long-term" "${LT[@]}" -x -s -e "$PEER6_ADDR" -r "$PEER_PORT" "$SN_APP6"
uclient "IPv6 client, IPv4 relay, Send/Data, REST" "${REST[@]}" -s -e "$PEER4_ADDR" -r "$PEER_PORT" "$SN_APP6"
uclient "IPv4 client, IPv4 relay, channels, REST" "${REST[@]}" -e "$PEER4_ADDR" -r "$PEER_PORT" "$SN_APP4"
uclient "IPv4 client, IPv6 relay, Send/Data, REST" "${REST[@]}" -x -s -e "$PEER6_ADDR" -r "$PEER_PORT" "$SN_APP4"

wait_for 10 metric_at_least $((created0 + 8 * CLIENTS)) supernode_turn_allocations_created_total ||
	fail "allocations created rose from $created0 to $(metric supernode_turn_allocations_created_total)"
wait_for 10 metric_at_least $((relayed0 + 8 * CLIENTS * MESSAGES)) supernode_dataplane_turn_to_peer_packets_total ||
	fail "relayed to peers rose from $relayed0 to $(metric supernode_dataplane_turn_to_peer_packets_total)"
metric_present supernode_turn_allocations || fail "no supernode_turn_allocations gauge"
log "allocations created $created0 -> $(metric supernode_turn_allocations_created_total)," \
	"held $(metric supernode_turn_allocations), relayed to peers" \
	"$relayed0 -> $(metric supernode_dataplane_turn_to_peer_packets_total)"
"$SN" ctl allocations >/dev/null || fail "supernodectl allocations failed"
"$SN" ctl --json allocations | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["count"] == len(d["allocations"]) > 0' ||
	fail "supernodectl --json allocations is not the list of allocations"

stop_peers
finish
