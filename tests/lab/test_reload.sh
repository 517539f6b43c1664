#!/usr/bin/env bash
# test_reload.sh: config reload without restart. The appliance runs from a temporary copy of
# the lab config (`./supernode start --config TMPFILE`, every lab default kept); the test then
#   1. adds UDP port 9 as echo, removes port 7 and raises the log level in the file, and
#      `./supernode ctl reload` applies it: port 9 echoes, port 7 no longer does, and a
#      changed restart-only field (dataplane.burst) is reported, not applied;
#   2. writes a file with an error next to more changes (port 10 as echo, log level): the
#      reload is refused with the loader's file:line: field message, supernodectl exits 1,
#      and nothing changes (port 9 still echoes, port 10 does not, `ctl config` the same);
#   3. fixes the file and sends SIGHUP to control: port 10 echoes;
# and the reload counters on /metrics follow. The dataplane's pid never changes.
set -euo pipefail
_base=${SN_CONFIG:-$(cd "$(dirname "$0")/../.." && pwd)/configs/lab.yaml}
RELOAD_TMP=$(mktemp -d /tmp/sn-test-reload.XXXXXX)
cp "$_base" "$RELOAD_TMP/supernode.yaml"
export SN_CONFIG=$RELOAD_TMP/supernode.yaml
. "$(dirname "$0")/lib.sh"

# lib.sh's cleanup stops the appliance (it needs the config file), then the temp dir goes.
_reload_cleanup() {
	local rc=$?
	trap - EXIT
	(
		set +e
		(exit "$rc")
		_cleanup
	) || true
	rm -rf "$RELOAD_TMP"
	exit "$rc"
}
trap _reload_cleanup EXIT

CFG=$SN_CONFIG
ECHO=$SN_ROOT/tests/lab/udp_echo.py

# Edits of the config file: python3 on exact lines, so a wrong edit fails loudly.
edit_cfg() { # PYTHON-EXPRESSIONS on `s` (the file's text)
	/usr/bin/python3 - "$CFG" "$1" <<'EOF'
import sys
path, code = sys.argv[1], sys.argv[2]
s = open(path).read()
def sub(old, new):
    global s
    if s.count(old) != 1:
        sys.exit("edit_cfg: %r occurs %d times in %s" % (old, s.count(old), path))
    s = s.replace(old, new)
exec(code)
open(path + ".new", "w").write(s)
EOF
	mv -f "$CFG.new" "$CFG"
}

echoes() { # PORT: a few datagrams come back
	in_ns /usr/bin/python3 "$ECHO" "$SN_APP4" "$1" 5 --timeout 0.3 --min-ratio 0.6 >/dev/null 2>&1
}
no_echo() { # PORT: not one of a few datagrams comes back
	local out
	out=$(in_ns /usr/bin/python3 "$ECHO" "$SN_APP4" "$1" 3 --timeout 0.3 --min-ratio 0 2>&1) || true
	[[ $out == *"received 0 "* ]]
}
ctl() { "$SN" ctl "$@"; }

start_appliance
dp_pid=$(pid_of "$SN_DP_PIDFILE")
echoes 7 || fail "port 7 does not echo before the reload"
no_echo 9 || fail "port 9 echoes before the reload"
[[ $(metric supernode_control_config_reloads_total) == 0 ]] || fail "reloads_total not 0 at start"

# ---- 1. a good reload -------------------------------------------------------------------
edit_cfg '
sub("  dispatch:\n    - {port: 7, handler: echo}\n", "  dispatch:\n    - {port: 9, handler: echo}\n")
sub("\nlog_level: info\n", "\nlog_level: debug\n")
sub("\n  burst: 32\n", "\n  burst: 64\n")
'
out=$(ctl reload 2>&1) || fail "ctl reload failed: $out"
log "ctl reload: $(tr '\n' '|' <<<"$out")"
grep -qF "dataplane.dispatch: +9 echo" <<<"$out" || fail "reload reply lacks '+9 echo': $out"
grep -qF "dataplane.dispatch: -7 echo" <<<"$out" || fail "reload reply lacks '-7 echo': $out"
grep -qF "log_level: info -> debug" <<<"$out" || fail "reload reply lacks the log level: $out"
grep -qF "restart required for dataplane.burst" <<<"$out" ||
	fail "reload reply does not report dataplane.burst as restart-required: $out"
wait_for 10 echoes 9 || fail "port 9 does not echo after the reload"
wait_for 10 no_echo 7 || fail "port 7 still echoes after it was removed"
metric_equals 1 supernode_control_config_reloads_total || fail "reloads_total is not 1"
metric_equals 0 supernode_control_config_reload_errors_total || fail "reload_errors_total is not 0"
metric_equals 1 supernode_control_config_last_reload_successful || fail "last_reload_successful is not 1"
metric_equals 1 supernode_control_config_restart_required || fail "restart_required is not 1"
ts=$(metric supernode_control_config_last_reload_success_timestamp_seconds)
((ts > $(date +%s) - 120)) || fail "last reload timestamp $ts is not recent"
cfg_text=$(ctl config) || fail "ctl config failed"
grep -qF "dataplane.dispatch[0]: {port: 9, handler: echo}" <<<"$cfg_text" ||
	fail "ctl config does not show port 9: $cfg_text"
grep -qxF "dataplane.burst: 32" <<<"$cfg_text" || fail "ctl config should keep burst 32 (in effect)"
grep -qxF "log_level: debug" <<<"$cfg_text" || fail "ctl config does not show log_level debug"
ctl config --json | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)["config"]
assert c["dataplane"]["dispatch"][0] == {"port": 9, "handler": "echo"}, c["dataplane"]["dispatch"]
assert c["dataplane"]["burst"] == 32
' || fail "ctl config --json is wrong"
ctl dispatch | grep -qE '^ *9 +ipv4 +echo' || fail "ctl dispatch does not list port 9"

# ---- 2. an invalid file: rejected whole --------------------------------------------------
before=$(ctl config | grep -v '^#')
cp "$CFG" "$RELOAD_TMP/good.yaml"
edit_cfg '
sub("  dispatch:\n    - {port: 9, handler: echo}\n", "  dispatch:\n    - {port: 9, handler: echo}\n    - {port: 10, handler: echo}\n")
sub("\nlog_level: debug\n", "\nlog_level: warn\n")
sub("      mtu: 1500\n", "      mtu: 99999\n")
'
line=$(grep -n '      mtu: 99999' "$CFG" | cut -d: -f1)
rc=0
out=$(ctl reload 2>&1) || rc=$?
log "ctl reload (invalid file): exit $rc: $out"
[[ $rc -eq 1 ]] || fail "ctl reload of an invalid file exited $rc, not 1"
grep -qF "error: $CFG:$line: dataplane.ports[0].mtu" <<<"$out" ||
	fail "the error does not name $CFG:$line: dataplane.ports[0].mtu: $out"
grep -qF "unchanged" <<<"$out" || fail "the error does not say the running config is unchanged"
metric_equals 1 supernode_control_config_reload_errors_total || fail "reload_errors_total is not 1"
metric_equals 1 supernode_control_config_reloads_total || fail "reloads_total moved on a rejected reload"
metric_equals 0 supernode_control_config_last_reload_successful || fail "last_reload_successful is not 0"
after=$(ctl config | grep -v '^#')
[[ $before == "$after" ]] || fail "the running config changed: $(diff <(echo "$before") <(echo "$after"))"
echoes 9 || fail "port 9 stopped echoing after a rejected reload"
no_echo 10 || fail "port 10 echoes although the reload was rejected"
ctl config | grep -qF "# last reload rejected: $CFG:$line: dataplane.ports[0].mtu" ||
	fail "ctl config does not show the rejected reload"

# ---- 3. fixed file, SIGHUP ----------------------------------------------------------------
cp "$RELOAD_TMP/good.yaml" "$CFG"
edit_cfg 'sub("    - {port: 9, handler: echo}\n", "    - {port: 9, handler: echo}\n    - {port: 10, handler: echo}\n")'
ctl_pid=$(pid_of "$SN_CTL_PIDFILE")
proc_named "$ctl_pid" supernode-control || fail "no control at pid $ctl_pid"
kill -HUP "$ctl_pid"
wait_for 10 metric_equals 2 supernode_control_config_reloads_total ||
	fail "SIGHUP did not reload (reloads_total $(metric supernode_control_config_reloads_total))"
wait_for 10 echoes 10 || fail "port 10 does not echo after SIGHUP"
echoes 9 || fail "port 9 stopped echoing after SIGHUP"
grep -qF "SIGHUP: reloading $CFG" "$SN_CTL_LOG" || fail "control did not log the SIGHUP reload"
[[ $(pid_of "$SN_CTL_PIDFILE") == "$ctl_pid" ]] || fail "control restarted"
[[ $(pid_of "$SN_DP_PIDFILE") == "$dp_pid" ]] || fail "the dataplane restarted"
proc_named "$dp_pid" supernode-dataplane || fail "the dataplane is gone"

finish
