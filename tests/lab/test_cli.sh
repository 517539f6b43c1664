#!/usr/bin/env bash
# test_cli.sh: ./supernode status and supernodectl, running and stopped.
#   running: every listing command (status, ports, workers, dispatch, config, reload,
#            allocations, routes, dht, bans, promotions, and sybil when this build has it)
#            answers with a valid JSON object (exit 0) under --json and with human-readable
#            text (not JSON) by default; the status shows the dataplane's pid; an unknown
#            command is an error (exit 1, JSON error);
#   stopped: every command `supernodectl help --json` listed exits 3 and says "not running" (stderr), with --json also an
#            object {"error": "not running"} on stdout; ./supernode status exits 3.
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

# Every command, both formats. `reload` re-reads the unchanged config: harmless.
help=$("$SN" ctl help --json) || fail "ctl help --json exits $?"
mapfile -t CMDS < <(jq -r '.commands[].name' <<<"$help")
[[ ${#CMDS[@]} -ge 10 ]] || fail "ctl help --json lists only ${#CMDS[@]} commands: $help"
for c in status ports workers dispatch config reload allocations routes dht; do
	printf '%s\n' "${CMDS[@]}" | grep -qxF "$c" || fail "ctl help does not list '$c'"
done
# The listing commands (the others change state or need arguments: ban, unban, suspect...).
LIST=(help status ports workers dispatch config reload allocations routes dht)
# issue 8's admin commands: bans (guard) and promotions are required; sybil once it exists
for c in bans promotions; do
	printf '%s\n' "${CMDS[@]}" | grep -qxF "$c" || fail "ctl help does not list '$c'"
	LIST+=("$c")
done
if printf '%s\n' "${CMDS[@]}" | grep -qxF sybil; then
	LIST+=(sybil)
else
	log "admin command 'sybil' not in this build"
fi
for c in "${LIST[@]}"; do
	rc=0
	out=$("$SN" ctl "$c" --json 2>/dev/null) || rc=$?
	[[ $rc -eq 0 ]] || fail "ctl $c --json exits $rc: $(head -c 400 <<<"$out")"
	jq -e 'type == "object" and (has("error") | not)' <<<"$out" >/dev/null ||
		fail "ctl $c --json is not a JSON object without error: $(head -c 400 <<<"$out")"
	rc=0
	out=$("$SN" ctl "$c" 2>/dev/null) || rc=$?
	[[ $rc -eq 0 ]] || fail "ctl $c exits $rc: $(head -c 400 <<<"$out")"
	[[ -n $out && ${out:0:1} != "{" ]] || fail "ctl $c does not print human-readable text: $(head -c 200 <<<"$out")"
done
log "${#LIST[@]} commands answer in both formats: ${LIST[*]}"

rc=0
out=$("$SN" ctl no-such-command --json 2>/dev/null) || rc=$?
[[ $rc -eq 1 ]] || fail "an unknown command exits $rc, not 1"
jq -e 'has("error")' <<<"$out" >/dev/null || fail "an unknown command gives no JSON error: $out"

stop_appliance

for c in "${CMDS[@]}"; do
	rc=0
	out=$("$SN" ctl "$c" --json 2>/dev/null) || rc=$?
	[[ $rc -eq 3 ]] || fail "ctl $c --json after stop exits $rc, not 3 (output: $out)"
	jq -e '.error == "not running"' <<<"$out" >/dev/null ||
		fail "ctl $c --json after stop: no {\"error\": \"not running\"}: $out"
	rc=0
	err=$("$SN" ctl "$c" 2>&1 >/dev/null) || rc=$?
	[[ $rc -eq 3 ]] || fail "ctl $c after stop exits $rc, not 3"
	grep -q 'not running' <<<"$err" || fail "ctl $c after stop does not say 'not running': $err"
done
rc=0
"$SN" status >&2 || rc=$?
[[ $rc -eq 3 ]] || fail "./supernode status after stop exits $rc, not 3"

check_sanitizer_logs
SN_FINISHED=1
log "PASS"
