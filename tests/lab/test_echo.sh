#!/usr/bin/env bash
# test_echo.sh: UDP port 7 goes to control's diagnostic echo (punt -> control -> inject):
# 200 datagrams per address family from the lab namespace come back unchanged (>= 99%), and
# the punt and inject counters rise.
. "$(dirname "$0")/lib.sh"

COUNT=${SN_ECHO_COUNT:-200}
ECHO=$SN_ROOT/tests/lab/udp_echo.py

start_appliance

punts0=$(metric supernode_dataplane_punts_total 'reason="echo"') || fail "no /metrics"
punted0=$(metric supernode_dataplane_punted_total)
injected0=$(metric supernode_dataplane_injected_total)
replies0=$(metric supernode_control_echo_replies_total)

in_ns /usr/bin/python3 "$ECHO" "$SN_APP4" 7 "$COUNT" --min-ratio 0.99 >&2 ||
	fail "UDP echo over IPv4 ($SN_APP4:7): fewer than 99% of $COUNT datagrams came back"
in_ns /usr/bin/python3 "$ECHO" "$SN_APP6" 7 "$COUNT" --min-ratio 0.99 --seed 8 >&2 ||
	fail "UDP echo over IPv6 ([$SN_APP6]:7): fewer than 99% of $COUNT datagrams came back"

min=$((2 * COUNT * 99 / 100))
wait_for 10 metric_at_least $((punts0 + min)) supernode_dataplane_punts_total 'reason="echo"' ||
	fail "punts{reason=echo} rose from $punts0 to $(metric supernode_dataplane_punts_total 'reason="echo"'), expected +$min"
wait_for 10 metric_at_least $((punted0 + min)) supernode_dataplane_punted_total ||
	fail "punted rose from $punted0 to $(metric supernode_dataplane_punted_total), expected +$min"
wait_for 10 metric_at_least $((injected0 + min)) supernode_dataplane_injected_total ||
	fail "injected rose from $injected0 to $(metric supernode_dataplane_injected_total), expected +$min"
wait_for 10 metric_at_least $((replies0 + min)) supernode_control_echo_replies_total ||
	fail "control echo replies rose from $replies0 to $(metric supernode_control_echo_replies_total), expected +$min"
log "punts{echo} $punts0 -> $(metric supernode_dataplane_punts_total 'reason="echo"')," \
	"injected $injected0 -> $(metric supernode_dataplane_injected_total)," \
	"control echo replies $replies0 -> $(metric supernode_control_echo_replies_total)"

finish
