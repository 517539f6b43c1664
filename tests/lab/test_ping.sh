#!/usr/bin/env bash
# test_ping.sh: the appliance answers ICMP and ICMPv6 echo from the lab namespace, and the
# dataplane counts the replies.
. "$(dirname "$0")/lib.sh"

start_appliance

v4_before=$(metric supernode_dataplane_icmp_echo_replies_total) || fail "no /metrics"
v6_before=$(metric supernode_dataplane_icmp6_echo_replies_total) || fail "no /metrics"

in_ns ping -n -c 3 -W 1 "$SN_APP4" >&2 || fail "ping $SN_APP4 failed"
in_ns ping -6 -n -c 3 -W 1 "$SN_APP6" >&2 || fail "ping -6 $SN_APP6 failed"

wait_for 10 metric_at_least $((v4_before + 3)) supernode_dataplane_icmp_echo_replies_total ||
	fail "icmp_echo_replies did not rise by 3 (before $v4_before, now $(metric supernode_dataplane_icmp_echo_replies_total))"
wait_for 10 metric_at_least $((v6_before + 3)) supernode_dataplane_icmp6_echo_replies_total ||
	fail "icmp6_echo_replies did not rise by 3 (before $v6_before, now $(metric supernode_dataplane_icmp6_echo_replies_total))"
log "echo replies: IPv4 $v4_before -> $(metric supernode_dataplane_icmp_echo_replies_total)," \
	"IPv6 $v6_before -> $(metric supernode_dataplane_icmp6_echo_replies_total)"

finish
