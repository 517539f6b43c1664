#!/usr/bin/env bash
# test_dht_control_restart.sh: supernode-control restarts while an OpenDHT client talks to the
# appliance (dht_restart.py): the dataplane keeps answering pings from its DHT state, the new
# control adopts the dataplane's token secrets (a token handed out before the restart still
# authorizes a put) and serves storage again.
. "$(dirname "$0")/lib.sh"

start_appliance
wait_for 30 metric_at_least 1 supernode_dht_state_installs_total ||
	fail "control did not install the DHT state in the dataplane"

work=$(mktemp -d /tmp/sn-dht-restart.XXXXXX)
trap 'rc=$?; rm -rf "$work"; (exit $rc); _cleanup' EXIT
out=$work/client.log
in_ns /usr/bin/python3 "$SN_ROOT/tests/lab/dht_restart.py" "$SN_APP4" "$work/go" >"$out" 2>&1 &
client=$!
wait_for 20 grep -q READY "$out" || fail "client not ready: $(cat "$out")"
"$SN" restart-control >&2 || fail "restart-control failed"
wait_for 30 metric_equals 1 supernode_control_channel_connected || fail "control did not reconnect"
touch "$work/go"
wait "$client" || { cat "$out" >&2; fail "the DHT did not survive the control restart"; }
cat "$out" >&2
grep -q "kept the dataplane's token secrets" "$SN_CTL_LOG" || fail "no adoption of the secrets logged"

finish
