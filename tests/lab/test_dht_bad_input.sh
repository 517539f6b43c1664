#!/usr/bin/env bash
# test_dht_bad_input.sh: broken and hostile OpenDHT datagrams (dht_bad_input.py): the fast
# path drops truncated, too deep, mistyped, absurdly long and wrong-network messages with a
# counted reason and no answer; control answers bad tokens with 401, missing keys and value
# id 0 with 203, refresh of an unknown key with 404, refuses a value over 64 KiB and puts
# over the per-source quota (counted); the appliance keeps answering and the sanitized
# binaries report nothing.
. "$(dirname "$0")/lib.sh"

PUTS=300
start_appliance
wait_for 30 metric_at_least 1 supernode_dht_state_installs_total ||
	fail "control did not install the DHT state in the dataplane"
quota=$("$SN" ctl dht --json | sed -n 's/.*"quota_values":\([0-9]*\).*/\1/p')
[[ -n $quota && $quota -lt $PUTS ]] || fail "dht.quota_values ($quota) must be below $PUTS"

in_ns /usr/bin/python3 "$SN_ROOT/tests/lab/dht_bad_input.py" "$SN_APP4" --puts $PUTS >&2 ||
	fail "an expected answer was missing or wrong"

drop() { metric supernode_dataplane_drops_total "reason=\"$1\""; }
err() { metric supernode_dht_request_errors_total "method=\"$1\",reason=\"$2\""; }
(($(drop dht_truncated) >= 6)) || fail "dht_truncated drops: $(drop dht_truncated), want >= 6"
(($(drop dht_too_deep) >= 1)) || fail "dht_too_deep drops: $(drop dht_too_deep)"
(($(drop dht_malformed) >= 5)) || fail "dht_malformed drops: $(drop dht_malformed), want >= 5"
(($(drop dht_wrong_network) >= 2)) || fail "dht_wrong_network drops: $(drop dht_wrong_network)"
(($(err put wrong_token) >= 2)) || fail "put wrong_token: $(err put wrong_token)"
(($(err listen wrong_token) >= 1)) || fail "listen wrong_token: $(err listen wrong_token)"
(($(err get no_info_hash) >= 1)) || fail "get no_info_hash: $(err get no_info_hash)"
(($(err put no_info_hash) >= 1)) || fail "put no_info_hash: $(err put no_info_hash)"
(($(err put invalid_id) >= 1)) || fail "put invalid_id: $(err put invalid_id)"
(($(err refresh not_found) >= 1)) || fail "refresh not_found: $(err refresh not_found)"
(($(err put bad_value) >= 1)) || fail "put bad_value: $(err put bad_value)"
wait_for 10 metric_at_least $((PUTS - quota)) supernode_dht_request_errors_total \
	'method="put",reason="quota"' || fail "quota refusals: $(err put quota), want >= $((PUTS - quota))"
(($(metric supernode_dht_stored_values) <= quota)) ||
	fail "$(metric supernode_dht_stored_values) values stored from one source, quota $quota"
metric_at_least 1 supernode_dht_dropped_total 'reason="orphan_fragment"' ||
	fail "no orphan fragment counted"
log "drops: truncated $(drop dht_truncated), too_deep $(drop dht_too_deep), malformed" \
	"$(drop dht_malformed), wrong_network $(drop dht_wrong_network); quota refusals $(err put quota)"

finish
