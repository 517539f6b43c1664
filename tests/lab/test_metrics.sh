#!/usr/bin/env bash
# test_metrics.sh: /metrics passes `promtool check metrics` without a word and has the key
# series.
. "$(dirname "$0")/lib.sh"

start_appliance
# Some traffic first, so counters and the port have moved.
in_ns ping -n -q -c 2 -W 1 "$SN_APP4" >/dev/null || fail "ping $SN_APP4 failed"
# Port counters are copied from the NIC about once a second: wait for them to show.
wait_for 10 metric_at_least 1 supernode_port_rx_packets_total "port=\"$SN_LAB_IFACE\"" ||
	fail "supernode_port_rx_packets_total{port=\"$SN_LAB_IFACE\"} stays 0 after pings"

text=$(metrics_text) || fail "no answer from $SN_METRICS_URL"
[[ -n $text ]] || fail "empty answer from $SN_METRICS_URL"
lint=$(promtool check metrics <<<"$text" 2>&1) || fail "promtool check metrics failed: $lint"
[[ -z $lint ]] || fail "promtool check metrics complained: $lint"

has() { # NAME [LABELS] [VALUE]
	_metric_sum "$1" "${2:-}" <<<"$text" >/dev/null || fail "missing: $1{${2:-}}"
	if [[ -n ${3:-} ]]; then
		local v
		v=$(_metric_sum "$1" "${2:-}" <<<"$text" || true)
		[[ $v == "$3" ]] || fail "$1{${2:-}} is $v, not $3"
	fi
}
has supernode_dataplane_up "" 1
has supernode_control_channel_connected "" 1
has supernode_dataplane_drops_total 'reason="runt"'
has supernode_dataplane_drops_total 'reason="ipv4_checksum"'
has supernode_port_rx_packets_total "port=\"$SN_LAB_IFACE\""
grep -qE '^supernode_[a-z_]*mempool[a-z_]*[ {]' <<<"$text" || fail "no mempool metric"
# Every drop reason of common/sn_stats.h is exported.
while read -r reason; do
	has supernode_dataplane_drops_total "reason=\"$reason\""
done < <(sed -n -E 's/^[[:space:]]*X\([A-Z0-9_]+, "([a-z0-9_]+)"\).*/\1/p' "$SN_ROOT/common/sn_stats.h")
log "$(grep -c '^supernode_' <<<"$text") samples, promtool clean"

finish
