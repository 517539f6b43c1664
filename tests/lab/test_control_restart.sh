#!/usr/bin/env bash
# test_control_restart.sh: control dies (kill -9); the dataplane keeps answering ping while
# it is down; control started again (./supernode start-control) reconnects, resyncs from the
# dataplane's dump, and the UDP echo service (punt -> control -> inject) works again.
. "$(dirname "$0")/lib.sh"

ECHO=$SN_ROOT/tests/lab/udp_echo.py

start_appliance
wait_for 30 metric_at_least 1 supernode_control_resyncs_total ||
	fail "control never completed a resync after start"
resyncs0=$(metric supernode_control_resyncs_total)
log "resyncs before: $resyncs0"

cpid=$(pid_of "$SN_CTL_PIDFILE") || fail "no control pid file"
proc_named "$cpid" supernode-control || fail "pid $cpid is not supernode-control"
log "kill -9 control (pid $cpid)"
kill -9 "$cpid"
ctl_gone() { ! proc_named "$cpid" supernode-control; }
wait_for 10 ctl_gone || fail "control (pid $cpid) survived kill -9"

out=$(in_ns ping -n -c 20 -i 0.1 -W 1 "$SN_APP4") || fail "ping while control is down failed: $out"
grep -q ' 0% packet loss' <<<"$out" || fail "ping lost packets while control was down: $(tail -n 2 <<<"$out")"
log "20/20 pings answered while control was down"
"$SN" status >&2 && fail "./supernode status says running while control is down"

"$SN" start-control >&2 || fail "./supernode start-control failed"
wait_for 30 metric_equals 1 supernode_control_channel_connected ||
	fail "restarted control did not connect to the dataplane"
wait_for 30 metric_at_least 1 supernode_control_resyncs_total ||
	fail "restarted control did not resync (resyncs $(metric supernode_control_resyncs_total))"
log "control back: connected, resyncs $(metric supernode_control_resyncs_total)"
"$SN" status >&2 || fail "./supernode status does not say running after start-control"

in_ns /usr/bin/python3 "$ECHO" "$SN_APP4" 7 20 --min-ratio 0.95 >&2 ||
	fail "UDP echo over IPv4 does not work after the control restart"
in_ns /usr/bin/python3 "$ECHO" "$SN_APP6" 7 20 --min-ratio 0.95 >&2 ||
	fail "UDP echo over IPv6 does not work after the control restart"

finish
