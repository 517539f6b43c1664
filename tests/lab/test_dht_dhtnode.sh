#!/usr/bin/env bash
# test_dht_dhtnode.sh: Debian's dhtnode, bootstrapped on the appliance only, finds it (a good
# node of its routing table after a ping), learns another node through the appliance's find
# answers and looks that node's value up through the DHT (dht_dhtnode.py). The fast path
# answered the pings and finds.
. "$(dirname "$0")/lib.sh"

start_appliance
wait_for 30 metric_at_least 1 supernode_dht_state_installs_total ||
	fail "control did not install the DHT state in the dataplane"
app_id=$("$SN" ctl dht --json | sed -n 's/.*"node_id":"\([0-9a-f]\{40\}\)".*/\1/p')
[[ -n $app_id ]] || fail "no node id from supernodectl dht"
pings0=$(metric supernode_dataplane_dht_ping_answers_total)
finds0=$(metric supernode_dataplane_dht_find_answers_total)

in_ns /usr/bin/python3 "$SN_ROOT/tests/lab/dht_dhtnode.py" "$SN_APP4" "$app_id" --timeout 20 >&2 ||
	fail "dhtnode could not use the appliance"

metric_at_least $((pings0 + 1)) supernode_dataplane_dht_ping_answers_total ||
	fail "no ping answered by the fast path"
metric_at_least $((finds0 + 1)) supernode_dataplane_dht_find_answers_total ||
	fail "no find answered by the fast path"
log "ping answers $pings0 -> $(metric supernode_dataplane_dht_ping_answers_total)," \
	"find answers $finds0 -> $(metric supernode_dataplane_dht_find_answers_total)"

finish
