#!/usr/bin/env bash
# test_promotion.sh: passive upgrades (RFC 5765 7.1, docs/operations.md "Promotions"). The
# appliance runs from a copy of the lab config with a promotion section whose capacity is
# tiny (20 clients = load 1000, load_high 500, load_low 250, dwell 3 s) and probe port 4300
# dispatched to punt. promotion_lab.py drives simulated clients from 198.18.0.31-.50 (added
# on the kernel side of the lab interface): long-lived active open clients, a NATed one, a
# Sybil suspect (promotion.suspects; a second one marked with `supernodectl suspect` when the
# trust module is there), a misbehaving one (wrong-token puts), a short-lived one,
# and a TURN-only one whose allocations raise the load past load_high and then make it hover
# across it. Checks: no decision below the threshold; exactly the three long-lived active
# open clients invited, each decision explained and stored; the others classified as
# unreachable / suspect / misbehaved / short_lived / no_node_id; no state change and no new
# decision while the load hovers; then a python3-opendht client reads .31's invitation from
# the appliance's DHT storage and verifies its Ed25519 signature with the published key; and
# the supernode_promotion_* / supernode_load_* metrics agree.
set -euo pipefail
_base=${SN_CONFIG:-$(cd "$(dirname "$0")/../.." && pwd)/configs/lab.yaml}
PROMO_TMP=$(mktemp -d /tmp/sn-test-promotion.XXXXXX)
cp "$_base" "$PROMO_TMP/supernode.yaml"
export SN_CONFIG=$PROMO_TMP/supernode.yaml
. "$(dirname "$0")/lib.sh"

_promo_cleanup() {
	local rc=$?
	trap - EXIT
	(
		set +e
		(exit "$rc")
		_cleanup
	) || true
	rm -rf "$PROMO_TMP"
	exit "$rc"
}
trap _promo_cleanup EXIT

/usr/bin/python3 - "$SN_CONFIG" <<'EOF'
import sys
path = sys.argv[1]
s = open(path).read()
old = "    - {port: 4222, handler: dht}\n"
if s.count(old) != 1:
    sys.exit("test_promotion: %r occurs %d times in %s" % (old, s.count(old), path))
s = s.replace(old, old + "    - {port: 4300, handler: punt}\n")
old = """promotion:
  # Passive upgrades (RFC 5765 7.1): off in the lab by default; tests/lab/test_promotion.sh
  # turns it on with a tiny capacity and probe port 4300 dispatched to punt.
  enabled: false
  interval_ms: 1000
  # Load in permille of the capacities: high state at 800, back to low at 600, 30 s dwell.
  load_high: 800
  load_low: 600
  dwell_s: 30
  capacity_clients: 10000
  capacity_kbps: 1000000
  # Dial-back probes from this port (must be dispatched to punt when enabled).
  probe_port: 4300
"""
if s.count(old) != 1:
    sys.exit("test_promotion: the lab promotion section is not in %s" % path)
s = s.replace(old, """promotion:
  enabled: true
  interval_ms: 200
  load_high: 500
  load_low: 250
  dwell_s: 3
  capacity_clients: 20
  capacity_kbps: 1000000
  min_uptime_s: 3
  uptime_full_s: 30
  activity_full: 50
  invites_per_interval: 1
  max_invites: 8
  probe_port: 4300
  probe_timeout_ms: 1000
  probes_per_interval: 16
  max_clients: 256
  invitation_lifetime_s: 600
  suspects: [198.18.0.40/32]
""")
open(path, "w").write(s)
EOF

start_appliance
wait_for 30 metric_at_least 1 supernode_dht_state_installs_total ||
	fail "control did not install the DHT state in the dataplane"
metric_equals 0 supernode_promotion_state || fail "promotion metrics missing or not low"
app_id=$("$SN" ctl dht --json | sed -n 's/.*"node_id":"\([0-9a-f]\{40\}\)".*/\1/p')
[[ -n $app_id ]] || fail "no node id from supernodectl dht"

for h in 31 32 33 34 35 40 41 42 50; do
	in_ns ip addr add "198.18.0.$h/32" dev "$SN_LAB_IFACE"
done

# A suspect marked through the trust module (supernodectl suspect), when this build has it.
trust=()
if "$SN" ctl suspect 198.18.0.42 >&2; then
	trust=(--trust-suspect 198.18.0.42)
else
	log "no trust module marks in this build: promotion.suspects only"
fi
out=$(in_ns /usr/bin/python3 "$SN_ROOT/tests/lab/promotion_lab.py" "$SN_APP4" \
	--ctl "$SN ctl" "${trust[@]}" 2>&1) || {
	printf '%s\n' "$out" >&2
	fail "promotion scenario failed"
}
printf '%s\n' "$out" >&2
node=$(sed -n 's/^INVITED \([0-9a-f]\{40\}\)$/\1/p' <<<"$out")
[[ -n $node ]] || fail "the driver printed no invited node id"

pub=$SN_RUNDIR/promotion.key.pub
[[ -s $pub ]] || fail "no public key at $pub"
"$SN" ctl promotions | grep -q '^state high' || fail "ctl promotions (text) does not say high"
in_ns /usr/bin/python3 "$SN_ROOT/tests/lab/promotion_verify.py" "$SN_APP4" "$node" "$pub" \
	--appliance "$app_id" --timeout 20 >&2 ||
	fail "python3-opendht could not read and verify the invitation"

metric_equals 3 supernode_promotion_decisions_total 'reason="invited"' ||
	fail "supernode_promotion_decisions_total is not 3"
metric_equals 1 supernode_promotion_state_changes_total || fail "state changed more than once"
metric_equals 3 supernode_promotion_invitations_active || fail "3 active invitations expected"
metric_at_least 1 supernode_promotion_probes_total 'reason="closed"' || fail "no closed probe"
metric_at_least 6 supernode_promotion_probes_total 'reason="open"' || fail "open probes missing"
metric_present supernode_load_permille || fail "supernode_load_permille missing"
metrics_text | grep -E '^(# (HELP|TYPE) )?supernode_(promotion|load)_' >"$PROMO_TMP/metrics.txt"
/usr/bin/python3 "$SN_ROOT/tests/check_metrics_doc.py" --file "$PROMO_TMP/metrics.txt" \
	--doc "$SN_ROOT/docs/operations.md" >&2 || fail "promotion metrics not in docs/operations.md"
log "load $(metric supernode_load_permille) permille, probes open" \
	"$(metric supernode_promotion_probes_total 'reason="open"') closed" \
	"$(metric supernode_promotion_probes_total 'reason="closed"')"

finish
