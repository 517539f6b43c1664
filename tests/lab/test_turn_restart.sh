#!/usr/bin/env bash
# test_turn_restart.sh: control restarts (cleanly, then after kill -9) while an SRTP call is
# relayed (sn-lab-srtp-relay, Refresh and ChannelBind every second): the fast path keeps
# relaying, the new control adopts the allocation from the dataplane's dump, and the
# client's Refresh/ChannelBind keep succeeding (its nonce survives: the secret is in the
# runtime dir; the allocation's owner is learnt from its next authenticated request). The
# call must end with every packet authenticated, in order, none lost, and its allocation
# deleted.
. "$(dirname "$0")/lib.sh"

SRTP=$SN_BUILD/tests/lab/sn-lab-srtp-relay
[[ -x $SRTP ]] || fail "$SRTP not built"
OUT=$(mktemp /tmp/sn-turn-restart.XXXXXX)
CALL_PID=""
stop_call() {
	if [[ -n $CALL_PID ]] && kill -0 "$CALL_PID" 2>/dev/null; then kill "$CALL_PID" 2>/dev/null || true; fi
	CALL_PID=""
}
trap 'rc=$?; set +e; stop_call; rm -f "$OUT"; (exit $rc); _cleanup' EXIT

start_appliance
in_ns ping -n -q -c 1 -W 2 "$SN_APP4" >/dev/null || fail "no ping to $SN_APP4"
adopted0=$(metric supernode_turn_allocations_adopted_total) || fail "no /metrics"

# 30 s call: 4 SSRCs each way, refreshes every second
ip netns exec "$SN_NETNS" "$SRTP" --server "$SN_APP4" --local "$PEER4_ADDR" --peer "$PEER4_ADDR" \
	--user lab --password lab-password --packets 1500 --refresh-s 1 -v >"$OUT" 2>&1 &
CALL_PID=$!
wait_for 15 metric_at_least 1 supernode_turn_channels || fail "the call did not bind a channel: $(cat "$OUT")"
wait_for 5 metric_at_least 1 supernode_turn_requests_total 'method="refresh"' ||
	fail "no Refresh before the restart"

log "clean restart of control"
"$SN" restart-control >&2 || fail "./supernode restart-control failed"
wait_for 30 metric_equals 1 supernode_control_channel_connected || fail "control did not reconnect"
wait_for 10 metric_at_least $((adopted0 + 1)) supernode_turn_allocations_adopted_total ||
	fail "the restarted control adopted no allocation"
wait_for 10 metric_at_least 2 supernode_turn_requests_total 'method="channel_bind"' ||
	fail "no ChannelBind refresh after the restart"
"$SN" ctl allocations | grep -q ' lab ' || fail "the adopted allocation is not owned by lab after a refresh"
log "after the clean restart: $("$SN" ctl allocations | tail -n +2 | head -n 3 | tr -s ' ' | tr '\n' '|')"

cpid=$(pid_of "$SN_CTL_PIDFILE") || fail "no control pid file"
proc_named "$cpid" supernode-control || fail "pid $cpid is not supernode-control"
log "kill -9 control (pid $cpid)"
kill -9 "$cpid"
ctl_gone() { ! proc_named "$cpid" supernode-control; }
wait_for 10 ctl_gone || fail "control survived kill -9"
"$SN" start-control >&2 || fail "./supernode start-control failed"
wait_for 30 metric_equals 1 supernode_control_channel_connected || fail "control did not reconnect"
wait_for 10 metric_at_least 1 supernode_turn_allocations_adopted_total ||
	fail "control restarted after kill -9 adopted no allocation"
wait_for 10 metric_at_least 2 supernode_turn_requests_total 'method="channel_bind"' ||
	fail "no ChannelBind refresh after kill -9"

wait_for 60 bash -c "! kill -0 $CALL_PID 2>/dev/null" || fail "the call did not end"
rc=0
wait "$CALL_PID" || rc=$?
CALL_PID=""
log "call: $(grep -E '^srtp_relay: (client|peer|mode)' "$OUT" | sed 's/^srtp_relay: //' | tr '\n' ';')"
[[ $rc -eq 0 ]] && grep -q '^srtp_relay: OK$' "$OUT" || fail "the call failed (exit $rc): $(tail -n 8 "$OUT")"
grep -q 'refresh_failures=0' "$OUT" || fail "refreshes failed across the restarts"
wait_for 10 metric_equals 0 supernode_turn_allocations || fail "the call's allocation was not deleted"
finish
