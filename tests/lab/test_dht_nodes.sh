#!/usr/bin/env bash
# test_dht_nodes.sh: the appliance as the one bootstrap node of two python3-opendht nodes in
# the lab namespace (network id 94), one joining over IPv4, one over IPv6 (dht_nodes.py):
# a put on one is returned by a get on the other, a listen on one sees the other's later put
# (pushed by control with INJECT), a 5000-byte value crosses in fragments both ways. Then the
# metrics show the fast path answering ping/find, control serving get/put/listen, the nodes
# it admitted after a liveness ping, in the dataplane, and the push.
. "$(dirname "$0")/lib.sh"

start_appliance
wait_for 30 metric_equals 1 supernode_dht_up || fail "the DHT node is not up in control"
wait_for 30 metric_at_least 1 supernode_dht_state_installs_total ||
	fail "control did not install the DHT state in the dataplane"

in_ns /usr/bin/python3 "$SN_ROOT/tests/lab/dht_nodes.py" "$SN_APP4" "$SN_APP6" --timeout 20 >&2 ||
	fail "python3-opendht nodes could not exchange values through the appliance"

metric_at_least 1 supernode_dataplane_dht_ping_answers_total ||
	fail "no ping answered by the fast path"
metric_at_least 1 supernode_dataplane_dht_find_answers_total ||
	fail "no find answered by the fast path"
for m in get put listen; do
	metric_at_least 1 supernode_dht_requests_total "method=\"$m\"" || fail "no $m served by control"
done
metric_at_least 1 supernode_dht_pushes_total || fail "no update pushed to the listener"
metric_at_least 1 supernode_dht_fragments_sent_total || fail "no value sent in fragments"
# each node joined over one family: one admitted node per family at least
wait_for 10 metric_at_least 1 supernode_dht_nodes_ipv4 || fail "control admitted no IPv4 node"
wait_for 10 metric_at_least 1 supernode_dht_nodes_ipv6 || fail "control admitted no IPv6 node"
wait_for 10 metric_at_least 2 supernode_dht_dataplane_nodes ||
	fail "fewer than 2 nodes pushed to the dataplane"
metric_at_least 1 supernode_dht_stored_values || fail "nothing stored"
errs=$(metric supernode_dht_request_errors_total)
[[ $errs -eq 0 ]] || fail "$errs request errors with well-behaved clients"
"$SN" ctl routes >&2 || fail "supernodectl routes failed"
"$SN" ctl dht --json | grep -q '"dataplane_state":1' || fail "supernodectl dht json: no dataplane state"
log "ping answers $(metric supernode_dataplane_dht_ping_answers_total), find answers" \
	"$(metric supernode_dataplane_dht_find_answers_total), pushes $(metric supernode_dht_pushes_total)"

finish
