#!/usr/bin/env bash
# test_dht_joins.sh: who enters the DHT routing table (RFC 5765 2.4). The appliance runs
# from a temporary copy of the lab config with its IPv4 prefix widened to /16 (so that nodes
# from several /24s are on-link), dht.admission.max_per_prefix4: 2, recheck_s: 2 (silent nodes
# are pinged after 2 s), and sybil.file naming an edge list dht_joins.py writes (a Sybil
# region behind one attack edge), rerun every second. Raw OpenDHT nodes (dht_joins.py), one
# per address added to the namespace's side of the lab link, contact the appliance:
#   - at most two of the four nodes of one /24 are admitted, nodes of other /24s are;
#   - the node in the Sybil region is never admitted nor named in a find answer;
#   - a node that stops answering is evicted;
#   - a signed vouch (value under InfoHash("supernode-vouch")) adds its edge to the graph;
# and the joins/evictions/sybil metrics and `supernodectl sybil` show it.
set -euo pipefail
_base=${SN_CONFIG:-$(cd "$(dirname "$0")/../.." && pwd)/configs/lab.yaml}
JOINS_TMP=$(mktemp -d /tmp/sn-test-joins.XXXXXX)
chmod 755 "$JOINS_TMP"
export SN_CONFIG=$JOINS_TMP/supernode.yaml
EDGES=$JOINS_TMP/trust.edges
/usr/bin/python3 - "$_base" "$SN_CONFIG" "$EDGES" <<'EOF'
import re, sys
src, dst, edges = sys.argv[1:4]
s = open(src).read()
if s.count("ipv4: 198.18.0.1/24") != 1 or not re.search(r"^dht:\n", s, re.M):
    sys.exit("test_dht_joins: unexpected lab config %s" % src)
s = s.replace("ipv4: 198.18.0.1/24", "ipv4: 198.18.0.1/16")
s = re.sub(r"^  admission:\n(    .*\n)*", "", s, flags=re.M)
s = re.sub(r"^sybil:\n(  .*\n|\s*\n)*", "", s, flags=re.M)
s = re.sub(r"^dht:\n", "dht:\n  admission:\n    max_per_prefix4: 2\n    recheck_s: 2\n", s,
           count=1, flags=re.M)
s += "\nsybil:\n  file: %s\n  interval_s: 1\n  walk_length: 4\n" % edges
open(dst, "w").write(s)
EOF
: >"$EDGES"
. "$(dirname "$0")/lib.sh"

_joins_cleanup() {
	local rc=$?
	trap - EXIT
	(
		set +e
		(exit "$rc")
		_cleanup
	) || true
	rm -rf "$JOINS_TMP"
	exit "$rc"
}
trap _joins_cleanup EXIT

start_appliance
wait_for 30 metric_equals 1 supernode_dht_up || fail "the DHT node is not up in control"
wait_for 30 metric_at_least 1 supernode_dht_state_installs_total ||
	fail "control did not install the DHT state in the dataplane"
for a in 198.18.0.10 198.18.0.11 198.18.0.12 198.18.0.13 198.18.1.10 198.18.2.10 198.18.3.10; do
	in_ns ip addr add "$a/16" dev "$SN_LAB_IFACE" || fail "cannot add $a to $SN_LAB_IFACE"
done

CTL="$SN_CTLCLI_BIN --runtime-dir $SN_RUNDIR"
in_ns /usr/bin/python3 "$SN_ROOT/tests/lab/dht_joins.py" "$SN_APP4" "$CTL" "$EDGES" \
	--timeout 30 >&2 || fail "join admission checks failed"

metric_at_least 3 supernode_dht_joins_total 'reason="admitted"' || fail "fewer than 3 joins admitted"
metric_at_least 1 supernode_dht_joins_total 'reason="rejected_prefix"' ||
	fail "no join rejected for its prefix"
metric_at_least 1 supernode_dht_joins_total 'reason="rejected_sybil"' ||
	fail "no join rejected as a Sybil suspect"
metric_at_least 1 supernode_dht_evictions_total 'reason="liveness"' || fail "no liveness eviction"
metric_at_least 1 supernode_sybil_suspects || fail "no Sybil suspect in the metrics"
metric_at_least 40 supernode_sybil_graph_nodes || fail "the trust graph was not loaded"
if command -v openssl >/dev/null; then
	metric_at_least 1 supernode_dht_vouches_total || fail "the signed vouch did not reach the trust graph"
fi
# the suspect's address was handed to guard to be policed harder
metric_at_least 1 supernode_sybil_policed_total || fail "no suspect address policed"
"$SN" ctl bans 2>/dev/null | grep -q '198\.18\.2\.10' || fail "guard has no mark for the suspect"
"$SN" ctl routes --json | grep -q '"trust":"trusted"' || fail "routes --json shows no trust verdict"
"$SN" ctl sybil >&2 || fail "supernodectl sybil failed"
log "joins: admitted $(metric supernode_dht_joins_total 'reason="admitted"'), prefix" \
	"$(metric supernode_dht_joins_total 'reason="rejected_prefix"'), sybil" \
	"$(metric supernode_dht_joins_total 'reason="rejected_sybil"'), evictions liveness" \
	"$(metric supernode_dht_evictions_total 'reason="liveness"')"

finish
