#!/usr/bin/env bash
# test_dht_signed.sh: OpenDHT's secure layer on the appliance (dht_signed.py): dhtnode puts a
# value signed with the identity it generated; an unsigned forgery with the same value id
# (python3-opendht), the value with its data changed under the owner's signature, and a
# value with that id validly signed by another key with a higher sequence number are all
# refused (counted as edit_denied / bad_signature); another dhtnode identity and a raw get
# see only the original.
. "$(dirname "$0")/lib.sh"

start_appliance
wait_for 30 metric_at_least 1 supernode_dht_state_installs_total ||
	fail "control did not install the DHT state in the dataplane"

work=$(mktemp -d /tmp/sn-dht-signed.XXXXXX)
trap 'rc=$?; rm -rf "$work"; (exit $rc); _cleanup' EXIT
in_ns /usr/bin/python3 "$SN_ROOT/tests/lab/dht_signed.py" "$SN_APP4" --workdir "$work" \
	--timeout 20 >&2 || fail "a signed value was replaced or not served"

metric_at_least 2 supernode_dht_request_errors_total 'method="put",reason="edit_denied"' ||
	fail "fewer than 2 edits denied: $(metric supernode_dht_request_errors_total 'reason="edit_denied"')"
metric_at_least 1 supernode_dht_request_errors_total 'method="put",reason="bad_signature"' ||
	fail "no bad signature counted"
log "edit_denied $(metric supernode_dht_request_errors_total 'reason="edit_denied"')," \
	"bad_signature $(metric supernode_dht_request_errors_total 'reason="bad_signature"')"

finish
