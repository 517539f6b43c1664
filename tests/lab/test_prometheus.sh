#!/usr/bin/env bash
# test_prometheus.sh: a real Prometheus server scrapes the appliance and its PromQL sees the
# traffic. The test
#   1. starts the appliance (default lab config) and its own Prometheus (config, TSDB and
#      log in a temp dir, 127.0.0.1:<free port>, scrape_interval 1s, the rules of
#      configs/prometheus/alerts.yml loaded), stopped by PID in the EXIT trap;
#   2. sends pings and UDP echo datagrams from the lab namespace until
#      sum(rate(supernode_dataplane_rx_packets_total[10s])) > 0 in /api/v1/query;
#   3. when the dataplane exports supernode_dataplane_turn_to_peer_packets_total (the TURN
#      relay), relays a TURN session with coturn's turnutils_uclient/turnutils_peer and polls
#      sum(rate(supernode_dataplane_turn_to_peer_packets_total[10s])) > 0; skipped when the
#      metric is absent or the session cannot be set up;
#   4. runs every expression of the Grafana dashboard and the alert rules on the server (each
#      must parse and evaluate), checks that every alert rule is healthy, and that
#      supernode_dataplane_up, up{job="supernode"} and the reload counters are scraped;
#   5. checks that docs/operations.md mentions every metric family and reason label of the
#      live /metrics (tests/check_metrics_doc.py).
. "$(dirname "$0")/lib.sh"

PROM_TMP=$(mktemp -d /tmp/sn-test-prometheus.XXXXXX)
PROM_PID=""
PEER_PID=""

# Stops what this test started, by PID, then lib.sh's cleanup (appliance, namespace).
stop_pid() { # PID NAME
	local pid=$1 name=$2 i
	[[ -n $pid ]] || return 0
	proc_named "$pid" "$name" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		proc_named "$pid" "$name" || return 0
		sleep 0.1
	done
	log "$name (pid $pid) ignores SIGTERM: SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
}
_prom_cleanup() {
	local rc=$?
	trap - EXIT
	stop_pid "$PEER_PID" turnutils_peer
	stop_pid "$PROM_PID" prometheus
	if [[ $rc -ne 0 && -s $PROM_TMP/prometheus.log ]]; then
		log "---- last lines of the Prometheus log ----"
		tail -n 20 "$PROM_TMP/prometheus.log" >&2 || true
	fi
	(
		set +e
		(exit "$rc")
		_cleanup
	) || true
	rm -rf "$PROM_TMP"
	exit "$rc"
}
trap _prom_cleanup EXIT

command -v prometheus >/dev/null || fail "prometheus is not installed (./supernode setup)"

start_appliance

# ---- Prometheus ---------------------------------------------------------------------------
target=${SN_METRICS_URL#http://}
target=${target%%/*}
PROM_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PROM=http://127.0.0.1:$PROM_PORT
cat >"$PROM_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $SN_ROOT/configs/prometheus/alerts.yml
scrape_configs:
  - job_name: supernode
    static_configs:
      - targets: ["$target"]
EOF
promtool check config "$PROM_TMP/prometheus.yml" >/dev/null 2>&1 ||
	fail "promtool check config refuses the test's config: $(promtool check config "$PROM_TMP/prometheus.yml" 2>&1)"
log "starting Prometheus on $PROM, scraping $target"
prometheus --config.file="$PROM_TMP/prometheus.yml" \
	--storage.tsdb.path="$PROM_TMP/data" --storage.tsdb.retention.time=1h \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn \
	</dev/null >"$PROM_TMP/prometheus.log" 2>&1 &
PROM_PID=$!
prom_ready() { curl -sf --max-time 2 -o /dev/null "$PROM/-/ready"; }
wait_for 60 prom_ready || fail "Prometheus did not become ready on $PROM"

# query EXPR -> the API's JSON answer (instant query)
query() { curl -sf --max-time 5 -G "$PROM/api/v1/query" --data-urlencode "query=$1"; }
# value_of EXPR -> the first sample's value (empty when the result is empty)
value_of() {
	query "$1" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
if r.get("status") != "success":
    sys.exit(1)
res = r["data"]["result"]
if r["data"]["resultType"] == "scalar":
    print(res[1])
elif res:
    print(res[0]["value"][1])
'
}
positive() { # EXPR: its value is a number > 0
	local v
	v=$(value_of "$1") || return 1
	[[ -n $v ]] && /usr/bin/python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$v"
}

scraped() { [[ $(value_of 'up{job="supernode"}') == 1 ]]; }
wait_for 30 scraped || fail "Prometheus does not scrape $target (up{job=\"supernode\"} is not 1)"

# ---- traffic and rx rate ------------------------------------------------------------------
RX_RATE='sum(rate(supernode_dataplane_rx_packets_total[10s]))'
traffic_and_rate() {
	in_ns ping -n -q -c 3 -i 0.2 -W 1 "$SN_APP4" >/dev/null 2>&1 || true
	in_ns /usr/bin/python3 "$SN_ROOT/tests/lab/udp_echo.py" "$SN_APP4" 7 20 --min-ratio 0 \
		>/dev/null 2>&1 || true
	positive "$RX_RATE"
}
wait_for 60 traffic_and_rate || fail "$RX_RATE stays 0 (last answer: $(query "$RX_RATE"))"
log "$RX_RATE = $(value_of "$RX_RATE") packets/s"
ECHO_RATE='sum(rate(supernode_dataplane_punts_total{reason="echo"}[10s]))'
wait_for 20 traffic_and_rate || true
wait_for 20 positive "$ECHO_RATE" || fail "$ECHO_RATE stays 0 after UDP echo traffic"

# ---- TURN relayed packets (when the relay exports them) -----------------------------------
TURN_RATE='sum(rate(supernode_dataplane_turn_to_peer_packets_total[10s]))'
if metric_present supernode_dataplane_turn_to_peer_packets_total; then
	if command -v turnutils_uclient >/dev/null && command -v turnutils_peer >/dev/null; then
		# not through in_ns: $! must be the peer itself (ip netns exec execs it)
		ip netns exec "$SN_NETNS" turnutils_peer -L "$PEER4_ADDR" -p 3480 </dev/null \
			>"$PROM_TMP/peer.log" 2>&1 &
		PEER_PID=$!
		turn_session() {
			in_ns timeout 15 turnutils_uclient -u lab -w lab-password -X -c -n 100 -m 1 \
				-l 120 -z 20 -e "$PEER4_ADDR" -r 3480 "$SN_APP4" </dev/null \
				>"$PROM_TMP/uclient.log" 2>&1
		}
		if turn_session && ! grep -qiE 'cannot|error|fail' "$PROM_TMP/uclient.log"; then
			turn_and_rate() { turn_session >/dev/null 2>&1 || true; positive "$TURN_RATE"; }
			wait_for 60 turn_and_rate ||
				fail "$TURN_RATE stays 0 after a TURN session relayed through the appliance"
			log "$TURN_RATE = $(value_of "$TURN_RATE") packets/s"
		else
			log "SKIP $TURN_RATE: no TURN session could be set up (see below)"
			tail -n 5 "$PROM_TMP/uclient.log" >&2 || true
		fi
		stop_pid "$PEER_PID" turnutils_peer
		PEER_PID=""
	else
		log "SKIP $TURN_RATE: coturn's turnutils are not installed"
	fi
	value_of "$TURN_RATE" >/dev/null || fail "$TURN_RATE does not evaluate"
else
	log "SKIP $TURN_RATE: the dataplane does not export supernode_dataplane_turn_to_peer_packets_total"
fi

# ---- the dashboard's and the alerts' expressions ------------------------------------------
n=0
while IFS= read -r line; do
	where=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["where"])' "$line")
	expr=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["expr"])' "$line")
	ans=$(query "$expr") || fail "$where: Prometheus refuses '$expr': $(curl -s -G "$PROM/api/v1/query" --data-urlencode "query=$expr")"
	grep -q '"status":"success"' <<<"$ans" || fail "$where: '$expr' failed: $ans"
	n=$((n + 1))
done < <(/usr/bin/python3 "$SN_ROOT/tests/check_ops_configs.py" "$SN_ROOT" --exprs)
((n > 50)) || fail "only $n expressions from the dashboard and the alerts"
log "$n dashboard and alert expressions evaluate"
# Every metric they name is exported by this build.
live=$(metrics_text) || fail "no answer from $SN_METRICS_URL"
while IFS= read -r name; do
	grep -q "^# TYPE $name " <<<"$live" || fail "the dashboard or the alerts use $name, which /metrics lacks"
done < <(/usr/bin/python3 "$SN_ROOT/tests/check_ops_configs.py" "$SN_ROOT" --names)
# Every alert rule has been evaluated without error, and none fires on a healthy lab.
rules_ok() {
	curl -sf --max-time 5 "$PROM/api/v1/rules" | /usr/bin/python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [(r["name"], r.get("health"), r.get("lastError", "")) for r in rules if r.get("health") != "ok"]
if len(rules) < 8 or bad:
    print("%d rules, not ok: %s" % (len(rules), bad), file=sys.stderr)
    sys.exit(1)
'
}
wait_for 30 rules_ok || fail "alert rules are not all healthy"
firing=$(curl -sf --max-time 5 "$PROM/api/v1/alerts" | /usr/bin/python3 -c '
import json, sys
a = json.load(sys.stdin)["data"]["alerts"]
print(" ".join(sorted({x["labels"]["alertname"] for x in a if x["state"] == "firing" and x["labels"].get("severity") == "critical"})))')
[[ -z $firing ]] || fail "critical alerts fire on a healthy lab: $firing"
for e in 'supernode_dataplane_up' 'supernode_control_channel_connected' \
	'supernode_control_config_last_reload_successful'; do
	[[ $(value_of "$e") == 1 ]] || fail "$e is not 1 in Prometheus"
done
value_of 'supernode_control_config_reloads_total' >/dev/null || fail "no reload counter"
[[ -n $(value_of 'supernode_control_config_last_reload_success_timestamp_seconds') ]] ||
	fail "no supernode_control_config_last_reload_success_timestamp_seconds"

# ---- docs cover every metric ----------------------------------------------------------------
out=$(/usr/bin/python3 "$SN_ROOT/tests/check_metrics_doc.py" --url "$SN_METRICS_URL" \
	--doc "$SN_ROOT/docs/operations.md" 2>&1) || fail "docs/operations.md is incomplete: $out"
log "$out"

finish
