#!/usr/bin/env bash
# test_turn_srtp.sh: real SRTP and SRTCP (libsrtp2, several SSRCs each way) through the
# relay with sn-lab-srtp-relay (tests/lab/srtp_relay.c): every packet must authenticate at
# the receiver, none may be duplicated, the order is kept per SSRC, none is lost. Variants:
# channels and Send/Data indications, IPv4 and IPv6 relayed addresses and clients, a dual
# allocation (ADDITIONAL-ADDRESS-FAMILY), long-term and TURN REST API credentials.
. "$(dirname "$0")/lib.sh"

SRTP=$SN_BUILD/tests/lab/sn-lab-srtp-relay
PACKETS=${SN_TURN_SRTP_PACKETS:-250}
[[ -x $SRTP ]] || fail "$SRTP not built"

srtp() { # WHAT ARGS...
	local what=$1 out
	shift
	out=$(in_ns timeout 90 "$SRTP" --user lab --packets "$PACKETS" --ssrcs 4 "$@" 2>&1) ||
		fail "$what: $(tail -n 6 <<<"$out")"
	grep -q '^srtp_relay: OK$' <<<"$out" || fail "$what: no OK line: $(tail -n 4 <<<"$out")"
	log "$what: $(grep -E 'rtp_sent' <<<"$out" | sed 's/^srtp_relay: //' | tr '\n' ';')"
}

start_appliance
in_ns ping -n -q -c 1 -W 2 "$SN_APP4" >/dev/null || fail "no ping to $SN_APP4"
in_ns ping -6 -n -q -c 1 -W 2 "$SN_APP6" >/dev/null || fail "no ping to $SN_APP6"

to_peer0=$(metric supernode_dataplane_turn_to_peer_packets_total) || fail "no /metrics"
LT=(--password lab-password)
V4=(--server "$SN_APP4" --local "$PEER4_ADDR")
V6=(--server "$SN_APP6" --local "$PEER6_ADDR")

srtp "IPv4, channels, long-term" "${V4[@]}" --peer "$PEER4_ADDR" "${LT[@]}"
srtp "IPv4, Send/Data, long-term" "${V4[@]}" --peer "$PEER4_ADDR" "${LT[@]}" --send
srtp "IPv4 client, IPv6 relay, channels" "${V4[@]}" --peer "$PEER6_ADDR" "${LT[@]}"
srtp "IPv6 client, IPv6 relay, Send/Data" "${V6[@]}" --peer "$PEER6_ADDR" "${LT[@]}" --send
srtp "IPv6 client, IPv4 relay, channels, REST" "${V6[@]}" --peer "$PEER4_ADDR" --rest-secret lab-secret
srtp "dual allocation, IPv6 peer, channels, REST" "${V4[@]}" --peer "$PEER6_ADDR" --dual --rest-secret lab-secret
srtp "dual allocation, IPv4 peer, Send/Data" "${V4[@]}" --peer "$PEER4_ADDR" --dual "${LT[@]}" --send

wait_for 10 metric_at_least $((to_peer0 + 7 * 4 * PACKETS)) supernode_dataplane_turn_to_peer_packets_total ||
	fail "relayed to peers rose from $to_peer0 to $(metric supernode_dataplane_turn_to_peer_packets_total)"
# every run deleted its allocation (Refresh with lifetime 0)
wait_for 10 metric_equals 0 supernode_turn_allocations ||
	fail "allocations left: $(metric supernode_turn_allocations)"
finish
