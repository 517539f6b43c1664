"""compare.py: `supernode-bench compare` (issue 7), run with /usr/bin/python3.

Runs in one go, on this machine, each step bounded in time:
  1. pcap       supernode-bench pcap: the channeldata / dht-ping / dht-find frames
  2. testpmd    supernode-bench testpmd: dpdk-testpmd macswap on the same virtual ports
                (the upper bound of a DPDK forwarder on this machine)
  3. appliance  supernode-bench dataplane: channeldata (--allocations, default 100,000),
                dht-ping, dht-find
  4. latency    supernode-bench latency: channeldata at half the measured appliance rate
  5. coturn     bench/ref_coturn.py: coturn turnserver on 127.0.0.1 driven by turnutils_uclient
  6. opendht    bench/ref_opendht.py: an OpenDHT node on 127.0.0.1 driven by ping / find

then prints a table (scenario, pps, pps per core, cycles per packet, ratio), writes
<results>/bench-results/compare-<UTC date>.json and .png (bar plot, python3-matplotlib),
replaces the part of docs/benchmarks.md between `<!-- compare:begin -->` and
`<!-- compare:end -->` with the table and date (unless --no-doc), and with --json ends with
one JSON line: the ratios, the raw figures, memory per allocation / routing entry / policed
source, latency p50/p99, and a pass/miss flag per target.

A step whose tool is missing or fails is reported as failed with its reason; the ratios
that need it are null and their targets "n/a". No figure is ever made up.

  compare.py --bench BIN [--json] [--seconds T] [--allocations N] [--quick]
             [--results DIR] [--doc FILE | --no-doc] [--skip STEP,...]
  (STEP: pcap, testpmd, appliance, latency, coturn, opendht)

Ratios (per worker core, packets per second over packets per second). Every per-core
figure is per CPU-second the process or lcore actually got: for testpmd and the appliance,
pps / the CPU share of the worker lcore thread (rte-worker-N, a poll loop that spins, so its
share is what the shared machine left it; sampled from /proc/PID/task/TID/stat while the
step runs; `pps_per_core` of the harness is kept as it is and used when no share was
sampled); for coturn and OpenDHT, packets / their process's CPU seconds.
  relay_vs_testpmd = appliance channeldata per core / testpmd per core
  relay_vs_coturn  = appliance channeldata per core / coturn relayed pps per core
  dht_vs_testpmd   = min(dht-ping, dht-find) per core / testpmd per core
  dht_vs_opendht   = min over ping, find of appliance per core / an OpenDHT node's answers
                     per second to the same query (the issue's target: "100 times an
                     OpenDHT node's answers per second"; the node's own rate limiter caps
                     them at 8192/s, which is what a deployed OpenDHT node gives).
                     dht_vs_opendht_per_cpu: over the node's answers per CPU-second
                     instead, reported without a target.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import ref_coturn  # noqa: E402
import ref_opendht  # noqa: E402

TARGETS = [  # (name, key, comparison, bound)
    ("relay >= 25% of testpmd per core", "relay_vs_testpmd", ">=", 0.25),
    ("relay >= 40x coturn per core", "relay_vs_coturn", ">=", 40.0),
    ("DHT ping/find >= 15% of testpmd per core", "dht_vs_testpmd", ">=", 0.15),
    ("DHT ping/find per core >= 100x OpenDHT answers/s", "dht_vs_opendht", ">=", 100.0),
    ("memory <= 256 B per allocation", "bytes_per_allocation", "<=", 256.0),
    ("memory <= 64 B per policed source", "bytes_per_policed_source", "<=", 64.0),
]
BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"


def log(msg):
    print("compare: %s" % msg, file=sys.stderr, flush=True)


def last_json(text):
    """The last line of text that parses as a JSON object, or None."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                v = json.loads(line)
            except ValueError:
                continue
            if isinstance(v, dict):
                return v
    return None


def tail(text, n=3):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])[-400:]


TICK = os.sysconf("SC_CLK_TCK")


def uptime_ticks():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) * TICK


def descendants(root):
    """Pids of every process below root (from each process's ppid)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def sample_workers(root, seen):
    """Appends, for every DPDK lcore thread (rte-worker-N / lcore-worker-N) below root, the
    moment and its CPU ticks: seen[(pid, tid)] = [(uptime ticks, cpu ticks), ...]."""
    now = uptime_ticks()
    for pid in descendants(root):
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    st = f.read()
            except OSError:
                continue
            comm = st[st.index("(") + 1:st.rindex(")")]
            if not (comm.startswith("rte-worker") or comm.startswith("lcore-worker")):
                continue
            fl = st.rsplit(")", 1)[1].split()
            seen.setdefault((pid, tid), []).append((now, int(fl[11]) + int(fl[12])))


def per_core(r):
    """A DPDK step's packets per second per CPU-second of its worker lcore, falling back to
    its pps per (wall-clock) core when the lcore thread could not be sampled."""
    v = num(r, "pps_per_cpu_second")
    return v if v is not None else num(r, "pps_per_core")


def worker_share(seen, seconds):
    """CPU share the busiest lcore thread got while it forwarded (a poll-mode lcore spins,
    so anything under 1.0 is time the machine gave to others), or None. The measurement is
    the last `seconds` before the process ended, give or take its teardown, so this is the
    highest share over 1-second spans of the last seconds + 2: the conservative choice (it
    gives the lowest rate per CPU-second)."""
    best = None
    for series in seen.values():
        if best is None or series[-1][1] > best[-1][1]:
            best = series
    if not best or len(best) < 2:
        return None
    last = best[-1][0]
    pts = [x for x in best if x[0] >= last - (seconds + 2) * TICK]
    top = None
    for i, (t0, c0) in enumerate(pts):
        for t1, c1 in pts[i + 1:]:
            if t1 - t0 >= TICK:
                r = (c1 - c0) / (t1 - t0)
                top = r if top is None else max(top, r)
                break
    return round(min(1.0, top), 3) if top else None


def bench_step(bench, name, args, timeout, logdir, want_json=True, seconds=0):
    """Runs `bench args` and returns its JSON object (or {"ok": true, "note": ...} when
    want_json is false and it printed none), or {"error": reason}."""
    if not bench or not os.access(bench, os.X_OK):
        return {"error": "supernode-bench binary not found (%s)" % bench}
    cmd = [bench] + args
    t0 = time.monotonic()
    log("%s: %s" % (name, " ".join(cmd)))
    seen = {}
    try:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    except OSError as e:
        return {"error": "could not run %s: %s" % (bench, e)}
    # drain the pipes in the background while the lcore threads are sampled
    import threading
    outs = {}

    def drain(key, stream):
        outs[key] = stream.read()

    th = [threading.Thread(target=drain, args=(k, st), daemon=True)
          for k, st in (("out", p.stdout), ("err", p.stderr))]
    for t in th:
        t.start()
    end = t0 + timeout
    while p.poll() is None and time.monotonic() < end:
        sample_workers(p.pid, seen)
        time.sleep(0.2)
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        for t in th:
            t.join(5)
        return {"error": "%s did not finish within %d s" % (" ".join(cmd[1:3]), timeout),
                "output": tail(outs.get("out", ""))}
    for t in th:
        t.join(10)
    p.stdout, p.stderr = outs.get("out", ""), outs.get("err", "")
    with open(os.path.join(logdir, "%s.log" % name), "w") as f:
        f.write("$ %s\n%s\n--- stderr\n%s" % (" ".join(cmd), p.stdout, p.stderr))
    if "unknown subcommand" in p.stderr:
        return {"error": "supernode-bench has no '%s' subcommand (not built yet)" % args[0]}
    v = last_json(p.stdout)
    if p.returncode != 0:
        r = {"error": "exit %d: %s" % (p.returncode, tail(p.stderr or p.stdout))}
        if v:
            r["result"] = v
        return r
    if v is None and not want_json:
        return {"ok": True, "note": tail(p.stderr or p.stdout, 1),
                "elapsed_s": round(time.monotonic() - t0, 1)}
    if v is None:
        return {"error": "no JSON line in the output: %s" % tail(p.stdout + p.stderr)}
    if "error" in v:
        return v
    v["elapsed_s"] = round(time.monotonic() - t0, 1)
    share = worker_share(seen, seconds) if seconds else None
    v["worker_cpu_share"] = share
    pc = num(v, "pps_per_core")
    # per CPU-second of the worker core, like the references' per-core figures
    v["pps_per_cpu_second"] = round(pc / share) if pc is not None and share else None
    # the harness counts TSC cycles, which run on while the lcore is preempted
    cy = num(v, "cycles_per_packet")
    v["cycles_per_packet_cpu"] = round(cy * share, 1) if cy is not None and share else None
    return v


def cycles(r):
    """Cycles per packet of CPU the lcore got (TSC cycles x CPU share), else the harness's."""
    v = num(r, "cycles_per_packet_cpu")
    return v if v is not None else num(r, "cycles_per_packet")


def num(d, key):
    v = d.get(key) if isinstance(d, dict) else None
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def ratio(a, b):
    return round(a / b, 4) if a is not None and b else None


def first_num(dicts, keys):
    for d in dicts:
        for k in keys:
            v = num(d, k)
            if v is not None:
                return v
    return None


def verdict(value, op, bound):
    if value is None:
        return "n/a"
    ok = value >= bound if op == ">=" else value <= bound
    return "pass" if ok else "miss"


def fmt(v, digits=0):
    if v is None:
        return "-"
    if isinstance(v, float) and digits:
        return "%.*f" % (digits, v)
    return "{:,}".format(int(round(v)))


def build_table(res, summary):
    """Rows (scenario, pps, pps per core, cycles per packet, ratio) as lists of strings."""
    tp = per_core(res["testpmd"])
    rows = []

    def row(label, r, ratio_txt=""):
        if "error" in r:
            rows.append([label, status(r), "-", "-", "-", short(r["error"])])
        else:
            sh = num(r, "worker_cpu_share")
            rows.append([label, fmt(num(r, "pps")), fmt(per_core(r)),
                         "-" if sh is None else "%.2f" % sh,
                         fmt(cycles(r)), ratio_txt])

    row("dpdk-testpmd macswap (upper bound)", res["testpmd"], "1.00 (reference)" if tp else "")
    for key, label in (("channeldata", "supernode relay ChannelData"),
                       ("dht-ping", "supernode DHT ping"), ("dht-find", "supernode DHT find")):
        r = res["appliance"][key]
        txt = ""
        if tp and per_core(r):
            txt = "%.2f of testpmd" % (per_core(r) / tp)
        row(label, r, txt)
    c = res["coturn"]
    if "error" in c:
        rows.append(["coturn (turnserver -m 1)", status(c), "-", "-", "-", short(c["error"])])
    else:
        rows.append(["coturn relayed (turnserver -m 1)", fmt(c["pps"]), fmt(c["pps_per_core"]),
                     "%.2f" % c["cpu_cores_used"], "-", "" if summary["relay_vs_coturn"] is None else
                     "relay %.1fx coturn" % summary["relay_vs_coturn"]])
    o = res["opendht"]
    for kind in ("ping", "find"):
        if "error" in o:
            rows.append(["OpenDHT node %s" % kind, status(o), "-", "-", "-", short(o["error"])])
            continue
        k = o.get(kind) or {}
        rows.append(["OpenDHT node %s answers" % kind, fmt(num(k, "answers_per_s")),
                     fmt(num(k, "answers_per_core")),
                     "%.2f" % (k["core_phase"]["cpu_s"] / k["core_phase"]["wall_s"]), "-",
                     "" if summary["dht_%s_vs_opendht_per_cpu" % kind] is None else
                     "DHT %s %.1fx OpenDHT per CPU-s" %
                     (kind, summary["dht_%s_vs_opendht_per_cpu" % kind])])
    return rows


def status(r):
    return "skipped" if r.get("skipped") else "failed"


def short(err):
    """The first clause of an error, for a table cell (the JSON keeps all of it)."""
    err = re.sub(r"^exit \d+: (supernode-bench: )?", "", err).split(" | ")[0]
    return err if len(err) <= 80 else err[:77] + "..."


def render_table(rows):
    hdr = ["scenario", "pps", "pps per core", "CPU share", "CPU cycles/packet", "ratio"]
    out = ["| " + " | ".join(hdr) + " |", "| " + " | ".join("---" for _ in hdr) + " |"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def plot(res, summary, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "python3-matplotlib is not installed"
    bars = []
    for label, r in (("testpmd", res["testpmd"]), ("relay", res["appliance"]["channeldata"]),
                     ("DHT ping", res["appliance"]["dht-ping"]),
                     ("DHT find", res["appliance"]["dht-find"]), ("coturn", res["coturn"])):
        v = per_core(r)
        if v:
            bars.append((label, v))
    for kind in ("ping", "find"):
        v = num(res["opendht"].get(kind) or {}, "answers_per_core")
        if v:
            bars.append(("OpenDHT %s" % kind, v))
    if not bars:
        return "no figure to plot"
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colors = ["#888888" if b[0] == "testpmd" else "#1f77b4" if b[0] in
              ("relay", "DHT ping", "DHT find") else "#d62728" for b in bars]
    ax.bar([b[0] for b in bars], [b[1] for b in bars], color=colors)
    ax.set_yscale("log")
    ax.tick_params(axis="x", labelrotation=20)
    ax.set_ylabel("packets per second per CPU-second (log)")
    ax.set_title("supernode vs dpdk-testpmd, coturn, OpenDHT (%s)" % summary["date"])
    for i, b in enumerate(bars):
        ax.text(i, b[1], "%.3g" % b[1], ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def update_doc(doc, summary, table, cmdline):
    try:
        with open(doc) as f:
            text = f.read()
    except OSError as e:
        return "cannot read %s: %s" % (doc, e)
    if BEGIN not in text or END not in text:
        return "%s has no %s ... %s markers" % (doc, BEGIN, END)
    lat = summary["latency"]
    lines = [BEGIN,
             "Last run: %s UTC, `%s`, on %s (load average %s when it started; the "
             "machine may be shared)." % (summary["date"], cmdline, summary["machine"],
                                          summary["load_average"]),
             "", table, "",
             "| ratio (per worker core) | value | target | verdict |",
             "| --- | --- | --- | --- |"]
    for name, key, op, bound in TARGETS:
        v = summary[key]
        txt = "-" if v is None else ("%.0f B" % v) if key.startswith("bytes") else "%.3f" % v
        lines.append("| %s | %s | %s %g | %s |" % (key, txt, op, bound,
                                                   summary["targets"][key]))
    raw = summary["dht_vs_opendht_per_cpu"]
    lines.append("| dht_vs_opendht_per_cpu (over the node's answers per CPU-second, no target) | %s | | |" %
                 ("-" if raw is None else "%.1f" % raw))
    if lat.get("p50_us") is not None:
        latency = ("Added latency at half load (%s pps offered, %s achieved, over "
                   "net_memif): p50 %s us, p99 %s us." % (
                       fmt(lat.get("rate")), fmt(lat.get("achieved_rate")),
                       fmt(lat.get("p50_us"), 1), fmt(lat.get("p99_us"), 1)))
    else:
        latency = "Added latency at half load: not measured in this run."
    lines += ["",
              "Memory: %s B per allocation, %s B per routing entry, %s B per policed source. "
              "%s" % (fmt(summary["bytes_per_allocation"]), fmt(summary["bytes_per_route"]),
                      fmt(summary["bytes_per_policed_source"]), latency)]
    failed = ["%s (%s)" % (k, v) for k, v in summary["failed_steps"].items()]
    if failed:
        lines += ["", "Steps that failed in this run: " + "; ".join(failed) + "."]
    lines.append(END)
    a = text.index(BEGIN)
    b = text.index(END) + len(END)
    with open(doc + ".tmp", "w") as f:
        f.write(text[:a] + "\n".join(lines) + text[b:])
    os.replace(doc + ".tmp", doc)
    return None


def main():
    ap = argparse.ArgumentParser(prog="supernode-bench compare",
                                 description="supernode vs dpdk-testpmd, coturn and OpenDHT")
    ap.add_argument("--bench", help="the supernode-bench binary (set by supernode-bench)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    ap.add_argument("--seconds", type=float, help="seconds per appliance/testpmd step "
                    "(default 10, --quick 3)")
    ap.add_argument("--allocations", type=int, default=100000)
    ap.add_argument("--quick", action="store_true", help="shorter steps (< 3 min in all)")
    ap.add_argument("--results", help="results dir (default: the build dir of --bench); "
                    "files go to RESULTS/bench-results/")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    ap.add_argument("--skip", default="", help="comma-separated steps to skip: pcap, "
                    "testpmd, appliance, latency, coturn, opendht")
    a = ap.parse_args()
    seconds = a.seconds or (3.0 if a.quick else 10.0)
    secs = max(1, round(seconds))  # the harness takes whole seconds
    skip = set(s for s in a.skip.split(",") if s)
    bench = os.path.abspath(a.bench) if a.bench else None
    build = os.path.dirname(os.path.dirname(bench)) if bench else os.path.join(ROOT, "build")
    outdir = os.path.join(a.results or build, "bench-results")
    os.makedirs(outdir, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    logdir = os.path.join(outdir, "compare-%s-logs" % stamp)
    os.makedirs(logdir, exist_ok=True)
    step_timeout = int(seconds * 4 + 180)
    t_start = time.monotonic()
    load0 = "%.1f" % os.getloadavg()[0]

    res = {"pcap": {}, "testpmd": {}, "appliance": {}, "latency": {}, "coturn": {},
           "opendht": {}}
    skipped = {"error": "skipped (--skip)", "skipped": True}
    # 1. pcaps
    pcaps = {}
    for sc in ("channeldata", "dht-ping", "dht-find"):
        if "pcap" in skip:
            res["pcap"][sc] = skipped
            continue
        path = os.path.join(outdir, "%s-%d.pcap" % (sc, a.allocations))
        r = bench_step(bench, "pcap-" + sc, ["pcap", "--scenario", sc, "--allocations",
                                              str(a.allocations), "--out", path],
                       step_timeout, logdir, want_json=False)
        res["pcap"][sc] = r
        if "error" not in r and os.path.exists(path):
            pcaps[sc] = path
    # 2. testpmd on the channeldata frames
    if "testpmd" in skip:
        res["testpmd"] = skipped
    elif "channeldata" not in pcaps:
        res["testpmd"] = {"error": "no channeldata pcap: %s" %
                          res["pcap"]["channeldata"].get("error", "?")}
    else:
        res["testpmd"] = bench_step(bench, "testpmd", ["testpmd", "--pcap", pcaps["channeldata"],
                                                       "--seconds", str(secs), "--json"],
                                    step_timeout, logdir, seconds=secs)
    # 3. the appliance
    for sc in ("channeldata", "dht-ping", "dht-find"):
        if "appliance" in skip:
            res["appliance"][sc] = skipped
            continue
        # the frames of step 1 when it wrote them (the same plan: scenario, allocations,
        # default routes and seed), else the dataplane subcommand writes its own
        extra = ["--pcap", pcaps[sc]] if sc in pcaps else []
        res["appliance"][sc] = bench_step(
            bench, "dataplane-" + sc, ["dataplane", "--scenario", sc, "--allocations",
                                       str(a.allocations), "--seconds", str(secs),
                                       "--json"] + extra,
            step_timeout, logdir, seconds=secs)
    # 4. latency at half the measured relay rate
    cd_pps = num(res["appliance"]["channeldata"], "pps")
    if "latency" in skip:
        res["latency"] = skipped
    elif not cd_pps:
        res["latency"] = {"error": "no appliance channeldata rate to halve"}
    else:
        rate = max(1, int(cd_pps / 2))
        res["latency"] = bench_step(bench, "latency", ["latency", "--scenario", "channeldata",
                                                       "--allocations", str(a.allocations),
                                                       "--rate", str(rate), "--seconds",
                                                       str(secs), "--json"],
                                    step_timeout, logdir)
        res["latency"].setdefault("rate", rate)
    # 5. coturn
    if "coturn" in skip:
        res["coturn"] = skipped
    else:
        log("coturn: turnserver + turnutils_uclient on 127.0.0.1")
        res["coturn"] = ref_coturn.run(seconds=12.0 if a.quick else 20.0, allocations=100,
                                       messages=800 if a.quick else 1500, procs=4,
                                       logdir=os.path.join(logdir, "coturn"))
    # 6. OpenDHT
    if "opendht" in skip:
        res["opendht"] = skipped
    else:
        log("opendht: DhtRunner on 127.0.0.1 with ping/find from 64 loopback sources")
        res["opendht"] = ref_opendht.run(seconds=2.0 if a.quick else 4.0,
                                         logdir=os.path.join(logdir, "opendht"))

    # figures and ratios
    app = res["appliance"]
    tp = per_core(res["testpmd"])
    relay = per_core(app["channeldata"])
    ping = per_core(app["dht-ping"])
    find = per_core(app["dht-find"])
    dht = min(ping, find) if ping is not None and find is not None else None
    od = res["opendht"] if "error" not in res["opendht"] else {}
    od_ping_core = num(od.get("ping") or {}, "answers_per_core")
    od_find_core = num(od.get("find") or {}, "answers_per_core")
    od_ping_raw = num(od.get("ping") or {}, "answers_per_s")
    od_find_raw = num(od.get("find") or {}, "answers_per_s")
    ping_vs_od = ratio(ping, od_ping_core)
    find_vs_od = ratio(find, od_find_core)
    coturn_core = num(res["coturn"], "pps_per_core")
    all_app = [app[k] for k in app] + [res["appliance"].get("flood", {})]
    mem_alloc = first_num(all_app, ["bytes_per_allocation"])
    mem_route = first_num(all_app, ["bytes_per_route", "bytes_per_routing_entry"])
    mem_source = first_num(all_app, ["bytes_per_policed_source", "bytes_per_source"])
    lat = res["latency"]
    summary = {
        "date": now.strftime("%Y-%m-%d %H:%M"),
        "machine": "%d CPUs, %s" % (os.cpu_count() or 0, cpu_model()),
        "load_average": load0,
        "quick": a.quick, "seconds": seconds, "allocations": a.allocations,
        "relay_vs_testpmd": ratio(relay, tp),
        "relay_vs_coturn": ratio(relay, coturn_core),
        "dht_vs_testpmd": ratio(dht, tp),
        "dht_vs_opendht": (min(ratio(ping, od_ping_raw), ratio(find, od_find_raw))
                           if ping is not None and find is not None and od_ping_raw
                           and od_find_raw else None),
        "dht_vs_opendht_per_cpu": (min(ping_vs_od, find_vs_od)
                                   if ping_vs_od is not None and find_vs_od is not None
                                   else None),
        "dht_ping_vs_opendht_per_cpu": ping_vs_od, "dht_find_vs_opendht_per_cpu": find_vs_od,
        "testpmd_pps_per_core": tp, "relay_pps_per_core": relay,
        "dht_ping_pps_per_core": ping, "dht_find_pps_per_core": find,
        "worker_cpu_share": {"testpmd": num(res["testpmd"], "worker_cpu_share"),
                             "channeldata": num(app["channeldata"], "worker_cpu_share"),
                             "dht-ping": num(app["dht-ping"], "worker_cpu_share"),
                             "dht-find": num(app["dht-find"], "worker_cpu_share")},
        "relay_cycles_per_packet": cycles(app["channeldata"]),
        "dht_ping_cycles_per_packet": cycles(app["dht-ping"]),
        "dht_find_cycles_per_packet": cycles(app["dht-find"]),
        "testpmd_cycles_per_packet": cycles(res["testpmd"]),
        "coturn_pps": num(res["coturn"], "pps"), "coturn_pps_per_core": coturn_core,
        "opendht_ping_answers_per_s": od_ping_raw, "opendht_find_answers_per_s": od_find_raw,
        "opendht_ping_answers_per_core": od_ping_core,
        "opendht_find_answers_per_core": od_find_core,
        "bytes_per_allocation": mem_alloc, "bytes_per_route": mem_route,
        "bytes_per_policed_source": mem_source,
        "latency": {"rate": num(lat, "rate"), "achieved_rate": num(lat, "achieved_rate"),
                    "p50_us": num(lat, "p50_us"), "p99_us": num(lat, "p99_us")},
        "latency_p50_us": num(lat, "p50_us"), "latency_p99_us": num(lat, "p99_us"),
    }
    summary["targets"] = {key: verdict(summary[key], op, bound)
                          for _, key, op, bound in TARGETS}
    failed, skipped_steps = {}, []
    steps = [(n, res[n]) for n in ("testpmd", "latency", "coturn", "opendht")]
    steps += [("pcap " + k, v) for k, v in res["pcap"].items()]
    steps += [("dataplane " + k, v) for k, v in app.items()]
    for name, v in steps:
        if v.get("skipped"):
            skipped_steps.append(name)
        elif "error" in v:
            failed[name] = v["error"]
    summary["failed_steps"] = failed
    summary["skipped_steps"] = skipped_steps
    summary["elapsed_s"] = round(time.monotonic() - t_start, 1)

    rows = build_table(res, summary)
    table = render_table(rows)
    jpath = os.path.join(outdir, "compare-%s.json" % stamp)
    ppath = os.path.join(outdir, "compare-%s.png" % stamp)
    perr = plot(res, summary, ppath)
    summary["json_file"] = jpath
    summary["png_file"] = None if perr else ppath
    if perr:
        summary["png_error"] = perr
    with open(jpath, "w") as f:
        json.dump({"summary": summary, "steps": res}, f, indent=1)
    cmdline = "supernode-bench compare%s%s%s" % (
        " --quick" if a.quick else "", " --seconds %g" % a.seconds if a.seconds else "",
        " --allocations %d" % a.allocations if a.allocations != 100000 else "")
    if not a.no_doc:
        derr = update_doc(a.doc, summary, table, cmdline)
        if derr:
            summary["doc_error"] = derr
            log(derr)

    print(table)
    print()
    for name, key, op, bound in TARGETS:
        print("  %-44s %-10s %s" % (name, "-" if summary[key] is None else
                                    ("%.3f" % summary[key]), summary["targets"][key]))
    print("  latency at half load: p50 %s us, p99 %s us" % (fmt(summary["latency_p50_us"], 1),
                                                            fmt(summary["latency_p99_us"], 1)))
    for k, v in failed.items():
        print("  FAILED %s: %s" % (k, v))
    print("results: %s%s" % (jpath, "" if perr else ", " + ppath))
    if a.json:
        print(json.dumps(summary, separators=(",", ":")))
    return 1 if failed else 0


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return re.sub(r"\s+", " ", line.split(":", 1)[1].strip())
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
