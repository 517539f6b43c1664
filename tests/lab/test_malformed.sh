#!/usr/bin/env bash
# test_malformed.sh: 10,000 malformed frames (sn-lab-frames, frames.c) into the dataplane's
# port; every one is dropped and counted under the reason its category must land in, and
# the appliance keeps answering, with no sanitizer report.
. "$(dirname "$0")/lib.sh"

TOTAL=${SN_MALFORMED_FRAMES:-10000}
SEED=${SN_MALFORMED_SEED:-5765}
FRAMES=$SN_BUILD/tests/lab/sn-lab-frames
[[ -x $FRAMES ]] || fail "$FRAMES not built"

start_appliance

mac=$(dataplane_mac)
[[ -n $mac ]] || fail "the namespace did not learn the dataplane's MAC for $SN_APP4"
log "dataplane port MAC $mac"

# Drop counters before, summed over lcores, for every reason.
declare -A before=()
text=$(metrics_text) || fail "no /metrics"
while read -r reason; do
	before[$reason]=$(_metric_sum supernode_dataplane_drops_total "reason=\"$reason\"" <<<"$text" || true)
done < <(sed -n -E 's/^[[:space:]]*X\([A-Z0-9_]+, "([a-z0-9_]+)"\).*/\1/p' "$SN_ROOT/common/sn_stats.h")

out=$(in_ns "$FRAMES" "$SN_LAB_IFACE" "$mac" 0 "$SEED" "$TOTAL") || fail "sn-lab-frames failed"
declare -A sent=()
total=0
while read -r reason count; do
	[[ -n $reason ]] || continue
	[[ -n ${before[$reason]+x} ]] || fail "sn-lab-frames reports reason '$reason' that common/sn_stats.h lacks"
	sent[$reason]=$count
	total=$((total + count))
done <<<"$out"
((total == TOTAL)) || fail "sn-lab-frames sent $total frames, not $TOTAL"
log "sent $total malformed frames: $(tr '\n' ' ' <<<"$out")"

# Each reason's counter must rise by at least what was sent for it (the kernel adds some
# traffic of its own, so "at least").
all_counted() {
	local text r now
	text=$(metrics_text) || return 1
	for r in "${!sent[@]}"; do
		now=$(_metric_sum supernode_dataplane_drops_total "reason=\"$r\"" <<<"$text" || true)
		((now >= before[$r] + sent[$r])) || return 1
	done
}
if ! wait_for 30 all_counted; then
	text=$(metrics_text || true)
	for r in "${!sent[@]}"; do
		now=$(_metric_sum supernode_dataplane_drops_total "reason=\"$r\"" <<<"$text" || true)
		log "reason $r: sent ${sent[$r]}, counter ${before[$r]} -> $now"
	done
	log "all drops now: $(grep -E '^supernode_dataplane_drops_total' <<<"$text" | awk '$NF > 0' | tr '\n' ' ')"
	fail "drop counters did not rise by what was sent"
fi
for r in "${!sent[@]}"; do
	log "reason $r: sent ${sent[$r]}, counter ${before[$r]} -> $(metric supernode_dataplane_drops_total "reason=\"$r\"")"
done

in_ns ping -n -c 3 -W 1 "$SN_APP4" >&2 || fail "ping $SN_APP4 failed after the malformed frames"
in_ns ping -6 -n -c 3 -W 1 "$SN_APP6" >&2 || fail "ping -6 $SN_APP6 failed after the malformed frames"

finish
