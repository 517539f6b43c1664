# tests/lab/lib.sh: helpers for the lab tests (bash). A test sources it first:
#
#   . "$(dirname "$0")/lib.sh"
#   start_appliance
#   ...checks, `fail MSG` on a problem...
#   finish            # stops the appliance, checks the sanitizer logs, prints PASS
#
# Every packet goes into the lab namespace the launcher creates (SN_NETNS, default snlab) or
# to loopback (metrics on 127.0.0.1). A trap on EXIT always stops what the test started and
# removes the namespace, even when the test fails or is killed (INT, TERM, HUP).
#
# Helpers:
#   wait_for DEADLINE_S CMD...   runs CMD every 0.1 s until it succeeds; 1 after DEADLINE_S
#   metric NAME [LABELS]         sum of NAME's samples whose labels include LABELS
#                                (`reason="runt"`, or `port="sn0",lcore="1"`); 0 when none;
#                                exit 1 when /metrics does not answer
#   metric_present NAME [LABELS] true when such a sample exists
#   metric_at_least MIN NAME [LABELS]  true when metric >= MIN (for wait_for)
#   in_ns CMD...                 runs CMD in the lab namespace
#   start_appliance / stop_appliance   via ./supernode start/stop
#   check_sanitizer_logs         fails on "runtime error", AddressSanitizer, LeakSanitizer
#                                in the dataplane and control logs
#   fail MSG                     prints MSG and the logs' last lines, exits 1
#   finish                       stop_appliance, check_sanitizer_logs, PASS line
#
# Environment: SN_BUILD_DIR (default build-asan when it has the binaries, else build),
# SN_CONFIG (default configs/lab.yaml), SN_NETNS.

set -euo pipefail

SN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SN="$SN_ROOT/supernode"
TEST_NAME=$(basename "$0" .sh)

if [[ -z ${SN_BUILD_DIR:-} ]]; then
	if [[ -x $SN_ROOT/build-asan/dataplane/supernode-dataplane ]]; then
		SN_BUILD_DIR=build-asan
	else
		SN_BUILD_DIR=build
	fi
fi
export SN_BUILD_DIR
export SN_CONFIG=${SN_CONFIG:-$SN_ROOT/configs/lab.yaml}
export SN_NETNS=${SN_NETNS:-snlab}
# Sanitized binaries stop at the first report; the report lands in the logs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# SN_RUNDIR, SN_METRICS_URL, SN_APP4, SN_APP6, SN_PEER4, SN_PEER6, SN_LAB_IFACE, SN_BUILD,
# SN_DP_LOG, SN_CTL_LOG, SN_DP_PIDFILE, SN_CTL_PIDFILE, ...
eval "$("$SN" env)"
PEER4_ADDR=${SN_PEER4%/*}
PEER6_ADDR=${SN_PEER6%/*}

SN_OWNED=0     # 1 once this test started the appliance (only then does cleanup stop it)
SN_NS_BEFORE=0 # the namespace existed before the test
SN_FINISHED=0

log() { printf '[%s] %s\n' "$TEST_NAME" "$*" >&2; }

dump_logs() {
	local f
	for f in "$SN_DP_LOG" "$SN_CTL_LOG"; do
		[[ -s $f ]] || continue
		printf '[%s] ---- last lines of %s ----\n' "$TEST_NAME" "$f" >&2
		tail -n 40 "$f" >&2 || true
	done
}

fail() {
	log "FAIL: $*"
	dump_logs
	exit 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_for DEADLINE_S CMD...: polls CMD every 0.1 s; bounded in time and in count.
wait_for() {
	local deadline=$1
	shift
	local end=$(($(now_ms) + deadline * 1000)) i
	for ((i = 0; i < deadline * 10 + 10; i++)); do
		if "$@"; then return 0; fi
		(($(now_ms) < end)) || return 1
		sleep 0.1
	done
	return 1
}

metrics_text() { curl -s --max-time 5 "$SN_METRICS_URL"; }

# Sums the samples of NAME whose label set contains every k="v" of LABELS.
_metric_sum() { # NAME LABELS
	awk -v name="$1" -v labels="$2" '
	BEGIN { n = split(labels, want, /,[ ]*/); found = 0; sum = 0 }
	/^#/ || NF < 2 { next }
	{
		m = $1; lab = ""
		i = index($0, "{")
		if (i > 0) {
			m = substr($0, 1, i - 1)
			j = index($0, "}")
			lab = "," substr($0, i + 1, j - i - 1) ","
		}
		if (m != name) next
		for (k = 1; k <= n; k++)
			if (want[k] != "" && index(lab, "," want[k] ",") == 0) next
		found = 1; sum += $NF
	}
	END { printf "%.0f\n", sum; exit(found ? 0 : 3) }'
}

metric() {
	local text
	text=$(metrics_text) || return 1
	[[ -n $text ]] || return 1
	_metric_sum "$1" "${2:-}" <<<"$text" || true
}

metric_present() {
	local text
	text=$(metrics_text) || return 1
	_metric_sum "$1" "${2:-}" <<<"$text" >/dev/null
}

metric_at_least() { # MIN NAME [LABELS]
	local v
	v=$(metric "$2" "${3:-}") || return 1
	[[ -n $v ]] && ((v >= $1))
}

metric_equals() { # VALUE NAME [LABELS]
	local v
	v=$(metric "$2" "${3:-}") || return 1
	[[ -n $v && $v == "$1" ]]
}

in_ns() { ip netns exec "$SN_NETNS" "$@"; }

netns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF "$1"; }

proc_named() { # PID NAME
	local w
	[[ -r /proc/$1/cmdline ]] || return 1
	while IFS= read -r -d '' w; do
		[[ $w == "$2" || $w == */"$2" ]] && return 0
	done </proc/"$1"/cmdline
	return 1
}

pid_of() { # PIDFILE -> pid
	[[ -r $1 ]] || return 1
	tr -dc '0-9' <"$1"
}

_cleanup() {
	local rc=$?
	trap - EXIT
	if [[ $rc -ne 0 && $SN_FINISHED -eq 0 ]]; then
		log "cleaning up after failure (exit $rc)"
	fi
	if [[ $SN_OWNED -eq 1 ]]; then
		"$SN" stop >&2 || log "stop failed"
		SN_OWNED=0
	fi
	if [[ $SN_NS_BEFORE -eq 0 ]] && netns_exists "$SN_NETNS"; then
		ip netns del "$SN_NETNS" 2>/dev/null || log "could not remove namespace $SN_NETNS"
	fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

start_appliance() {
	[[ $(id -u) -eq 0 ]] || fail "the lab tests need root (network namespaces)"
	[[ -x $SN_DP_BIN ]] || fail "$SN_DP_BIN not built"
	[[ -x $SN_CTL_BIN ]] || fail "$SN_CTL_BIN not built"
	if netns_exists "$SN_NETNS"; then SN_NS_BEFORE=1; fi
	log "starting the appliance ($SN_BUILD_DIR)"
	local rc=0
	"$SN" start >&2 || rc=$?
	case $rc in
	0) SN_OWNED=1 ;;
	2) fail "an appliance is already running (not started by this test); stop it first" ;;
	*) fail "./supernode start failed (exit $rc)" ;;
	esac
	# Control connects to the dataplane in the background: wait for the channel.
	wait_for 30 metric_equals 1 supernode_control_channel_connected ||
		fail "control did not connect to the dataplane within 30 s"
}

stop_appliance() {
	if [[ $SN_OWNED -eq 1 ]]; then
		log "stopping the appliance"
		"$SN" stop >&2 || fail "./supernode stop failed"
		SN_OWNED=0
	fi
	if [[ $SN_NS_BEFORE -eq 0 ]] && netns_exists "$SN_NETNS"; then
		fail "namespace $SN_NETNS still exists after stop"
	fi
}

check_sanitizer_logs() {
	local f found=0
	for f in "$SN_DP_LOG" "$SN_CTL_LOG"; do
		[[ -r $f ]] || continue
		if grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' "$f"; then
			log "sanitizer report in $f:"
			grep -n -m 5 -A 30 -E 'runtime error|AddressSanitizer|LeakSanitizer' "$f" >&2 || true
			found=1
		fi
	done
	[[ $found -eq 0 ]] || fail "sanitizer reports in the logs"
}

finish() {
	stop_appliance
	check_sanitizer_logs
	SN_FINISHED=1
	log "PASS"
}

# The MAC of the dataplane's port, as the namespace's kernel learned it (ping first).
dataplane_mac() {
	in_ns ping -n -q -c 1 -W 1 "$SN_APP4" >/dev/null 2>&1 || true
	in_ns ip neigh show "$SN_APP4" dev "$SN_LAB_IFACE" |
		grep -oE 'lladdr ([0-9a-f]{2}:){5}[0-9a-f]{2}' | awk '{print $2}'
}
