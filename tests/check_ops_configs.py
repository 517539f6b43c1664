#!/usr/bin/python3
"""check_ops_configs.py: checks the operations configs against each other and the sources.

    check_ops_configs.py [ROOT]            run every check (unit test; exit 1 on a problem)
    check_ops_configs.py [ROOT] --exprs    print every PromQL expression of the Grafana
                                           dashboard and the alert rules, one JSON object a
                                           line, dashboard variables substituted (the
                                           Prometheus lab test runs them on a live server)
    check_ops_configs.py [ROOT] --names    print the metric names those expressions select
                                           by name (the lab test checks a live /metrics
                                           has every one)

Checks (stdlib only; ROOT defaults to the repository this file is in):
  - configs/grafana/supernode-dashboard.json is JSON, panel ids are unique, every panel has
    a datasource and targets, and every metric its expressions name exists in the sources
    (control/*.c literals, the per-lcore counters of common/sn_stats.h) unless it belongs
    to the TURN or DHT families (supernode_turn_*, supernode_dht_*,
    supernode_dataplane_turn_*, supernode_dataplane_dht_*), which their modules may not
    export yet in every build: the lab test checks those against a live /metrics;
  - the same for the expressions of configs/prometheus/alerts.yml;
  - the systemd units: Type=simple, control has Restart=on-failure and no Requires=,
    BindsTo= or PartOf= on the dataplane, both read the config path that
    configs/production.example.yaml names, RuntimeDirectory= matches its runtime_dir;
  - configs/prometheus/prometheus.yml scrapes the metrics port of the production example.
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLACEHOLDER = re.compile(r"^supernode_(turn|dht|dataplane_turn|dataplane_dht)_")
problems = []


def problem(msg):
    problems.append(msg)


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def source_metric_names():
    """Metric family names the sources can export."""
    names = set()
    cdir = os.path.join(ROOT, "control")
    for fn in sorted(os.listdir(cdir)):
        if fn.endswith(".c"):
            names.update(re.findall(r'"(supernode_[a-z0-9_]+)"', read("control/" + fn)))
    stats = read("common/sn_stats.h")
    block = re.search(r"#define SN_LCORE_COUNTERS\(X\)(.*?)\n\n", stats, re.S)
    if not block:
        problem("common/sn_stats.h: SN_LCORE_COUNTERS not found")
    else:
        for suffix in re.findall(r'X\(\s*[A-Z0-9_]+\s*,\s*"([a-z0-9_]+)"', block.group(1)):
            names.add("supernode_dataplane_%s_total" % suffix)
    return names


def expr_metric_names(expr):
    """supernode_* names an expression selects (quoted strings, e.g. regexes, left out)."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(re.findall(r"\b(supernode_[a-z0-9_]+)\b", bare))


def dashboard_exprs():
    dash = json.loads(read("configs/grafana/supernode-dashboard.json"))
    out = []
    ids = set()
    for p in dash.get("panels", []):
        if p.get("type") == "row":
            continue
        pid = p.get("id")
        if pid in ids:
            problem("dashboard: panel id %s used twice" % pid)
        ids.add(pid)
        if not p.get("datasource"):
            problem("dashboard: panel %r has no datasource" % p.get("title"))
        if not p.get("targets"):
            problem("dashboard: panel %r has no targets" % p.get("title"))
        for t in p.get("targets", []):
            if not t.get("expr"):
                problem("dashboard: panel %r has a target without expr" % p.get("title"))
            else:
                out.append(("dashboard panel %r" % p.get("title"), t["expr"]))
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("expr"):
            out.append(("dashboard annotation %r" % a.get("name"), a["expr"]))
    names = [v.get("name") for v in dash.get("templating", {}).get("list", [])]
    for want in ("datasource", "instance", "lcore"):
        if want not in names:
            problem("dashboard: no template variable %s" % want)
    return out


def alert_exprs():
    """expr: of every rule (single line or a `|` block)."""
    out = []
    lines = read("configs/prometheus/alerts.yml").split("\n")
    alert = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*- alert: (\S+)", line)
        if m:
            alert = m.group(1)
        m = re.match(r"(\s*)expr: (.*)$", line)
        if m:
            ind, rest = len(m.group(1)), m.group(2).strip()
            if rest in ("|", ">", "|-", ">-"):
                body = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or
                                          len(lines[i]) - len(lines[i].lstrip()) > ind):
                    body.append(lines[i].strip())
                    i += 1
                out.append(("alert %s" % alert, " ".join(b for b in body if b)))
                continue
            out.append(("alert %s" % alert, rest))
        i += 1
    if not out:
        problem("alerts.yml: no expr found")
    return out


def substitute(expr):
    return (expr.replace("$__rate_interval", "1m").replace("$instance", ".*")
            .replace("$lcore", ".*"))


def unit_values(text):
    vals = {}
    for line in text.split("\n"):
        m = re.match(r"^([A-Za-z]+)=(.*)$", line.strip())
        if m:
            vals.setdefault(m.group(1), []).append(m.group(2).strip())
    return vals


def check_units_and_scrape():
    prod = read("configs/production.example.yaml")
    m = re.search(r"^runtime_dir:\s*(\S+)", prod, re.M)
    runtime_dir = m.group(1) if m else "/run/supernode"
    m = re.search(r"Copy to (/\S+?\.yaml)", prod)
    if not m:
        problem("production.example.yaml: no 'Copy to /etc/...yaml' line")
        cfg_path = None
    else:
        cfg_path = m.group(1)
    m = re.search(r"^control:\n(?:.*\n)*?  metrics:\n(?:.*\n)*?    port:\s*(\d+)", prod, re.M)
    port = m.group(1) if m else "9641"

    units = {}
    for name in ("supernode-dataplane.service", "supernode-control.service"):
        units[name] = unit_values(read("configs/systemd/" + name))
    for name, v in units.items():
        if v.get("Type") != ["simple"]:
            problem("%s: Type=%s, not simple" % (name, v.get("Type")))
        exe = (v.get("ExecStart") or [""])[0]
        if cfg_path and "--config " + cfg_path not in exe:
            problem("%s: ExecStart does not read %s: %s" % (name, cfg_path, exe))
        if not runtime_dir.startswith("/run/") or \
                v.get("RuntimeDirectory") != [runtime_dir[len("/run/"):]]:
            problem("%s: RuntimeDirectory=%s does not create runtime_dir %s" %
                    (name, v.get("RuntimeDirectory"), runtime_dir))
        if v.get("RuntimeDirectoryPreserve") != ["yes"]:
            problem("%s: RuntimeDirectoryPreserve=yes missing (a stop would remove the "
                    "other unit's sockets)" % name)
    ctl = units["supernode-control.service"]
    if ctl.get("Restart") != ["on-failure"]:
        problem("supernode-control.service: Restart=%s, not on-failure" % ctl.get("Restart"))
    for key in ("Requires", "BindsTo", "PartOf", "Requisite"):
        if any("supernode-dataplane" in x for x in ctl.get(key, [])):
            problem("supernode-control.service: %s= ties control to the dataplane" % key)
    if not any("supernode-dataplane.service" in x for x in ctl.get("After", [])):
        problem("supernode-control.service: not After=supernode-dataplane.service")

    prom = read("configs/prometheus/prometheus.yml")
    if not re.search(r'targets:\s*\[\s*"127\.0\.0\.1:%s"' % port, prom):
        problem("prometheus.yml does not scrape 127.0.0.1:%s (control.metrics.port of the "
                "production example)" % port)
    if not re.search(r"scrape_interval:\s*5s", prom):
        problem("prometheus.yml: scrape_interval is not 5s")


def main():
    global ROOT
    args = sys.argv[1:]
    want_exprs = "--exprs" in args
    want_names = "--names" in args
    args = [a for a in args if a not in ("--exprs", "--names")]
    if args:
        ROOT = os.path.abspath(args[0])
    exprs = dashboard_exprs() + alert_exprs()
    if want_exprs:
        for where, e in exprs:
            print(json.dumps({"where": where, "expr": substitute(e)}))
        return 0 if not problems else 1
    if want_names:
        for n in sorted(set().union(*(expr_metric_names(e) for _, e in exprs))):
            print(n)
        return 0 if not problems else 1
    known = source_metric_names()
    for where, e in exprs:
        for n in sorted(expr_metric_names(e)):
            if n not in known and not PLACEHOLDER.match(n):
                problem("%s: metric %s is not exported by the sources" % (where, n))
    check_units_and_scrape()
    for p in problems:
        print("check_ops_configs: " + p)
    print("check_ops_configs: %d expressions, %d known metrics, %d problems" %
          (len(exprs), len(known), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
