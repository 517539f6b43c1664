#!/usr/bin/env bash
# tests/run.sh: the project's one test command (`./supernode test [unit|lab|fuzz|all]`).
#
#   setup   installs missing Debian packages (./supernode setup's step)
#   build   build/ (gcc, --werror), build-asan/ (gcc, ASan+UBSan, --werror) and, for fuzz,
#           build-fuzz/ (clang, -Dfuzz=true, ASan+UBSan, --werror); each configured only
#           when it has no build.ninja, reconfigured when meson asks
#   unit    meson test --suite unit in build-asan/ and in build/
#   lab     every tests/lab/test_*.sh in order, against build-asan/'s binaries, each under a
#           timeout (SN_LAB_TIMEOUT, default 300 s)
#   fuzz    every fuzz_* executable of build-fuzz/ for SN_FUZZ_SECONDS (default 20) on a
#           scratch copy of tests/fuzz/corpus/<name without fuzz_>/ under build-fuzz/fuzz-work
#
# Prints a PASS or FAIL line per test and, alone on the last line, `N passed, N failed`.
# Exit 1 when anything failed. Needs root (packages, network namespaces).
set -uo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$ROOT"
SN=$ROOT/supernode
WHAT=${1:-all}
case $WHAT in
unit | lab | fuzz | all) ;;
*)
	echo "usage: ./supernode test [unit|lab|fuzz|all]" >&2
	exit 64
	;;
esac

LAB_TIMEOUT=${SN_LAB_TIMEOUT:-300}
FUZZ_SECONDS=${SN_FUZZ_SECONDS:-20}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export DEBIAN_FRONTEND=noninteractive

PASSED=0
FAILED=0
T0=$SECONDS
declare -A BUILD_OK=()

note() { printf '== %s (%ds)\n' "$*" $((SECONDS - T0)); }
pass() {
	printf 'PASS %s\n' "$*"
	PASSED=$((PASSED + 1))
}
failed() {
	printf 'FAIL %s\n' "$*"
	FAILED=$((FAILED + 1))
}

# One test run at a time: the lab tests share the namespace, the runtime dir and port 9641.
LOCKDIR=/run/lock
[[ -d $LOCKDIR && -w $LOCKDIR ]] || LOCKDIR=/tmp
exec 9>"$LOCKDIR/supernode-test.lock"
if ! flock -n 9; then
	echo "another ./supernode test is running" >&2
	failed "runner: another test run holds the lock"
	echo "$PASSED passed, $FAILED failed"
	exit 1
fi

# ---- setup and builds ----------------------------------------------------------------

note "setup"
if ! "$SN" setup --no-build </dev/null 9>&-; then
	failed "setup: package install"
fi

# A build that works is not counted as a test; one that fails counts as a failure.
build() { # FLAVOR DIR
	local log
	log=$(mktemp)
	note "build $2"
	if "$SN" build "$1" </dev/null >"$log" 2>&1 9>&-; then
		BUILD_OK[$2]=1
		tail -n 2 "$log"
		printf 'ok   build %s\n' "$2"
	else
		BUILD_OK[$2]=0
		tail -n 80 "$log"
		failed "build $2"
	fi
	rm -f "$log"
}

case $WHAT in
unit)
	build plain build
	build asan build-asan
	;;
lab) build asan build-asan ;;
fuzz) build fuzz build-fuzz ;;
all)
	build plain build
	build asan build-asan
	build fuzz build-fuzz
	;;
esac

# ---- unit ----------------------------------------------------------------------------

# meson test's summary: "Ok: N", "Fail: N", "Unexpected Pass: N", "Timeout: N".
summary_count() { # LABEL FILE
	awk -v l="$1" '{ line = $0; sub(/^[ \t]+/, "", line) }
		index(line, l ":") == 1 { v = line; sub(/^[^:]*:[ \t]*/, "", v); sub(/[ \t].*$/, "", v); n = v }
		END { print n + 0 }' "$2"
}

unit_in() { # DIR
	local dir=$1 log ok fail xpass tmo rc=0
	if [[ ${BUILD_OK[$dir]:-0} != 1 ]]; then
		failed "unit/$dir (not run: the build failed)"
		return
	fi
	note "unit tests in $dir"
	log=$(mktemp)
	meson test -C "$dir" --suite unit --print-errorlogs </dev/null 9>&- 2>&1 | tee "$log" || rc=$?
	ok=$(summary_count "Ok" "$log")
	fail=$(summary_count "Fail" "$log")
	xpass=$(summary_count "Unexpected Pass" "$log")
	tmo=$(summary_count "Timeout" "$log")
	# One line per test from meson's JSON log.
	if [[ -r $dir/meson-logs/testlog.json ]]; then
		python3 - "$dir" "$dir/meson-logs/testlog.json" <<'EOF' || true
import json, sys
for line in open(sys.argv[2]):
    try:
        t = json.loads(line)
    except ValueError:
        continue
    res = t.get("result", "?")
    word = "PASS" if res in ("OK", "EXPECTEDFAIL") else ("SKIP" if res == "SKIP" else "FAIL")
    print("  %s unit/%s/%s (%s, %.1fs)" % (word, sys.argv[1], t.get("name", "?"), res,
                                           t.get("duration", 0.0)))
EOF
	fi
	rm -f "$log"
	PASSED=$((PASSED + ok))
	FAILED=$((FAILED + fail + xpass + tmo))
	if [[ $rc -ne 0 && $((fail + xpass + tmo)) -eq 0 ]]; then
		failed "unit/$dir: meson test exited $rc"
	elif [[ $((fail + xpass + tmo)) -eq 0 ]]; then
		printf 'PASS unit/%s: %d tests\n' "$dir" "$ok"
	else
		printf 'FAIL unit/%s: %d ok, %d failed\n' "$dir" "$ok" $((fail + xpass + tmo))
	fi
}

if [[ $WHAT == unit || $WHAT == all ]]; then
	unit_in build-asan
	unit_in build
fi

# ---- lab -----------------------------------------------------------------------------

# Processes a lab test left behind in its process group (the group of the timeout that ran
# it, so only processes this runner started): named, then stopped by pid.
reap_group() { # PGID NAME
	local pgid=$1 name=$2 pids i
	pids=$(pgrep -g "$pgid" 2>/dev/null | tr '\n' ' ')
	[[ -n ${pids// /} ]] || return 0
	printf 'WARN %s left processes behind:\n' "$name"
	pgrep -a -g "$pgid" 2>/dev/null | sed 's/^/WARN   /' || true
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		pgrep -g "$pgid" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	pids=$(pgrep -g "$pgid" 2>/dev/null | tr '\n' ' ')
	# shellcheck disable=SC2086
	[[ -z ${pids// /} ]] || kill -KILL $pids 2>/dev/null || true
}

if [[ $WHAT == lab || $WHAT == all ]]; then
	mapfile -t LAB_TESTS < <(find "$ROOT/tests/lab" -maxdepth 1 -name 'test_*.sh' | sort)
	for t in "${LAB_TESTS[@]}"; do
		name=lab/$(basename "$t" .sh)
		if [[ ${BUILD_OK[build-asan]:-0} != 1 ]]; then
			failed "$name (not run: build-asan failed)"
			continue
		fi
		note "$name"
		start=$SECONDS
		rc=0
		# timeout makes itself a process group leader; everything the test starts stays in
		# that group unless it starts a session of its own (the appliance does, and the
		# launcher stops it).
		SN_BUILD_DIR=build-asan timeout -k 15 "$LAB_TIMEOUT" bash "$t" </dev/null 9>&- &
		tpid=$!
		wait "$tpid" || rc=$?
		# Whatever happened, leave nothing running for the next test.
		SN_BUILD_DIR=build-asan "$SN" stop >/dev/null 2>&1 || true
		reap_group "$tpid" "$name"
		if [[ $rc -eq 0 ]]; then
			pass "$name ($((SECONDS - start))s)"
		elif [[ $rc -eq 124 || $rc -eq 137 ]]; then
			failed "$name (timed out after ${LAB_TIMEOUT}s)"
		else
			failed "$name (exit $rc, $((SECONDS - start))s)"
		fi
	done
	[[ ${#LAB_TESTS[@]} -gt 0 ]] || failed "lab: no tests/lab/test_*.sh found"
fi

# ---- fuzz ----------------------------------------------------------------------------

if [[ $WHAT == fuzz || $WHAT == all ]]; then
	if [[ ${BUILD_OK[build-fuzz]:-0} != 1 ]]; then
		failed "fuzz (not run: build-fuzz failed)"
	else
		WORK=$ROOT/build-fuzz/fuzz-work
		rm -rf "$WORK"
		mkdir -p "$WORK"
		mapfile -t FUZZERS < <(find "$ROOT/build-fuzz" -path "$WORK" -prune -o -type f -executable \
			-name 'fuzz_*' -print | sort)
		for f in "${FUZZERS[@]}"; do
			name=$(basename "$f")
			short=${name#fuzz_}
			note "fuzz/$name (${FUZZ_SECONDS}s)"
			corpus=$WORK/$name/corpus
			mkdir -p "$corpus" "$WORK/$name/artifacts"
			if [[ -d $ROOT/tests/fuzz/corpus/$short ]]; then
				cp -a "$ROOT/tests/fuzz/corpus/$short/." "$corpus/"
			fi
			rc=0
			(cd "$WORK/$name" && timeout -k 10 $((FUZZ_SECONDS + 120)) "$f" \
				-max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2048 \
				-print_final_stats=1 -artifact_prefix="$WORK/$name/artifacts/" \
				"$corpus" </dev/null >"$WORK/$name/log" 2>&1 9>&-) || rc=$?
			stats=$(grep -E '^stat::number_of_executed_units' "$WORK/$name/log" | awk '{print $2}')
			if [[ $rc -eq 0 ]]; then
				pass "fuzz/$name (${stats:-?} runs)"
			else
				tail -n 40 "$WORK/$name/log"
				failed "fuzz/$name (exit $rc; artifacts in $WORK/$name/artifacts)"
			fi
		done
		[[ ${#FUZZERS[@]} -gt 0 ]] || failed "fuzz: no fuzz_* executables in build-fuzz"
	fi
fi

note "done"
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
