#!/usr/bin/env bash
# test_cli.sh: ./supernode status and ./supernode ctl status --json, running and stopped.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || fail "jq missing (./supernode setup installs it)"
start_appliance

"$SN" status >&2 || fail "./supernode status exits $? while running"

json=$("$SN" ctl status --json) || fail "./supernode ctl status --json exits $? while running"
jq . <<<"$json" >/dev/null || fail "ctl status --json is not JSON: $json"
dp_pid=$(pid_of "$SN_DP_PIDFILE") || fail "no dataplane pid file"
jq -e --argjson p "$dp_pid" '[.. | numbers] | index($p) != null' <<<"$json" >/dev/null ||
	fail "ctl status --json does not show the dataplane pid $dp_pid: $json"
text=$("$SN" ctl status) || fail "./supernode ctl status exits $? while running"
[[ -n $text ]] || fail "./supernode ctl status printed nothing"
log "ctl status: $(head -c 300 <<<"$json")"

stop_appliance

rc=0
out=$("$SN" ctl status --json 2>/dev/null) || rc=$?
[[ $rc -eq 3 ]] || fail "ctl status --json after stop exits $rc, not 3 (output: $out)"
jq -e 'has("error")' <<<"$out" >/dev/null || fail "ctl status --json after stop: no error object: $out"
rc=0
"$SN" status >&2 || rc=$?
[[ $rc -eq 3 ]] || fail "./supernode status after stop exits $rc, not 3"

check_sanitizer_logs
SN_FINISHED=1
log "PASS"
