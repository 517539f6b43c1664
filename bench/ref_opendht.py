"""ref_opendht.py: the OpenDHT reference of `supernode-bench compare` (run with /usr/bin/python3).

Starts one OpenDHT 2.4 node (Debian's python3-opendht DhtRunner, default config, network id 94)
bound on 127.0.0.1 only, in a child process of its own so its CPU time can be read from
/proc/PID/stat, then drives it with raw-wire OpenDHT ping or find queries (the msgpack shapes
of tests/lab/dht_wire.py) from many loopback source addresses (127.0.1.1, 127.0.1.2, ...) so
the node's per-source cap (1024 requests/s) does not bind before its global one (8192/s).
Counts answers (`y: r` with our transaction ids) per phase, each phase bounded in time:

  * per-core phase: offered just under the node's global cap (--core-rate, default 7800/s),
    every request is answered; answers per CPU-second of the node's process is the per-core
    figure (work per answer, not drops).
  * cap phase: offered --cap-rate (default 24000/s, three times the cap); answers per wall
    second is what the node serves at most (raw answers/s).

  ref_opendht.py [--seconds T] [--port 14222] [--sources 64] [--json]
  ref_opendht.py node --port P --network N --seconds T   (internal: the node process)

Prints a table, or with --json one JSON object line:
  {"reference":"opendht", "ping":{...}, "find":{...}, "answers_per_s":..., "answers_per_core":...}
Exit 0 when both phases of both query kinds ran; 1 with {"error": "..."} otherwise.
Everything goes to 127.0.0.0/8; every loop has a deadline; the node is killed by its PID.
"""
import argparse
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lab"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import dht_wire as w  # noqa: E402

PY = "/usr/bin/python3"
TID_MARK = 0xDEADBEEF  # packed as ce de ad be ef: patched per query


def node_main(args):
    """The node process: a DhtRunner on 127.0.0.1:port until --seconds or SIGTERM."""
    import opendht as dht

    cfg = dht.DhtConfig()
    cfg.setNetwork(args.network)
    r = dht.DhtRunner()
    r.run(port=args.port, ipv4="127.0.0.1", ipv6="", config=cfg)
    print("bound %s" % r.getBound(), flush=True)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    end = time.monotonic() + args.seconds
    while not stop[0] and time.monotonic() < end:
        time.sleep(0.1)
    r.join()
    return 0


def cpu_seconds(pid):
    """utime + stime of every thread of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def templates(kind, node_id, network):
    """(prefix, suffix) of a packed query whose transaction id goes between them."""
    a = {"id": node_id}
    if kind == "find":
        a.update({"target": w.random_id(), "w": [2]})
    msg = {"a": a, "q": kind, "t": TID_MARK, "y": "q", "v": "RNG1", "n": network}
    raw = w.pack(msg)
    mark = b"\xce" + struct.pack(">I", TID_MARK)
    i = raw.index(mark)
    return raw[:i + 1], raw[i + 5:]


def drive(port, kind, rate, seconds, nsrc, network, pid):
    """Offers `rate` queries/s of `kind` for `seconds` from nsrc loopback sources; returns
    sent, answered, wall seconds, node CPU seconds."""
    socks, tmpl = [], []
    try:
        for i in range(nsrc):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.1.%d" % (1 + i % 250), 0) if i < 250 else ("127.0.2.%d" % (i - 249), 0))
            s.setblocking(False)
            s.connect(("127.0.0.1", port))
            socks.append(s)
            tmpl.append(templates(kind, w.random_id(), network))
        ep = select.epoll()
        fd_idx = {}
        for i, s in enumerate(socks):
            ep.register(s.fileno(), select.EPOLLIN)
            fd_idx[s.fileno()] = i
        sent = answered = 0
        tid = 1
        c0 = cpu_seconds(pid)
        t0 = time.monotonic()
        end = t0 + seconds
        next_src = 0
        while True:
            now = time.monotonic()
            if now >= end:
                break
            due = int((now - t0) * rate) - sent
            for _ in range(min(due, 512)):
                p, sfx = tmpl[next_src]
                try:
                    socks[next_src].send(p + struct.pack(">I", tid) + sfx)
                    sent += 1
                except (BlockingIOError, ConnectionRefusedError):
                    pass
                tid = tid + 1 if tid < 0xFFFFFFF0 else 1
                next_src = (next_src + 1) % nsrc
            for fd, _ in ep.poll(0.0005):
                s = socks[fd_idx[fd]]
                for _ in range(64):
                    try:
                        d = s.recv(4096)
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    if b"\xa1y\xa1r" in d:
                        answered += 1
        wall = time.monotonic() - t0
        cpu = cpu_seconds(pid) - c0
        # late answers of the last milliseconds are not counted (a bounded undercount)
        return sent, answered, wall, cpu
    finally:
        for s in socks:
            s.close()


def wait_bound(port, deadline):
    c = w.Client("127.0.0.1", port, 94)
    try:
        while time.monotonic() < deadline:
            if c.call("ping", {}, timeout=0.3) is not None:
                return True
        return False
    finally:
        c.close()


def run(seconds=4.0, port=14222, sources=64, core_rate=7800, cap_rate=24000, network=94,
        logdir="/tmp/br"):
    """The whole reference; returns a dict (with "error" when it could not run)."""
    try:
        import opendht  # noqa: F401
    except ImportError:
        return {"reference": "opendht", "error": "python3-opendht is not installed"}
    os.makedirs(logdir, exist_ok=True)
    log = open(os.path.join(logdir, "opendht-node.log"), "w")
    node = subprocess.Popen([PY, os.path.abspath(__file__), "node", "--port", str(port),
                             "--network", str(network), "--seconds", str(12 * seconds + 30)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = {"reference": "opendht", "node": "python3-opendht DhtRunner (libopendht %s), "
           "default config, 127.0.0.1:%d, network %d" % (opendht_version(), port, network),
           "sources": sources, "seconds_per_phase": seconds}
    try:
        if not wait_bound(port, time.monotonic() + 10):
            return dict(out, error="the OpenDHT node did not answer a ping on 127.0.0.1:%d "
                        "within 10 s (log %s)" % (port, log.name))
        for kind in ("ping", "find"):
            s1, a1, w1, c1 = drive(port, kind, core_rate, seconds, sources, network, node.pid)
            s2, a2, w2, c2 = drive(port, kind, cap_rate, seconds, sources, network, node.pid)
            out[kind] = {
                "core_phase": {"offered_per_s": core_rate, "sent": s1, "answered": a1,
                               "wall_s": round(w1, 3), "cpu_s": round(c1, 3)},
                "cap_phase": {"offered_per_s": cap_rate, "sent": s2, "answered": a2,
                              "wall_s": round(w2, 3), "cpu_s": round(c2, 3)},
                "answers_per_s": round(a2 / w2),
                "answers_per_core": round(a1 / c1) if c1 > 0 else None,
                "cpu_cores_used_at_cap": round(c2 / w2, 3),
            }
            if a1 == 0 or a2 == 0:
                return dict(out, error="the OpenDHT node answered no %s" % kind)
        # the mixed figure the ratio uses: mean of ping and find
        out["answers_per_s"] = round((out["ping"]["answers_per_s"] + out["find"]["answers_per_s"]) / 2)
        out["answers_per_core"] = round((out["ping"]["answers_per_core"] +
                                         out["find"]["answers_per_core"]) / 2)
        return out
    finally:
        if node.poll() is None:
            node.terminate()
            try:
                node.wait(5)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        log.close()


def opendht_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-opendht"],
                             capture_output=True, text=True, timeout=5).stdout
        return out or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "node":
        ap = argparse.ArgumentParser()
        ap.add_argument("node")
        ap.add_argument("--port", type=int, default=14222)
        ap.add_argument("--network", type=int, default=94)
        ap.add_argument("--seconds", type=float, default=60)
        return node_main(ap.parse_args())
    ap = argparse.ArgumentParser(description="OpenDHT reference for supernode-bench compare")
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds per phase (4 phases)")
    ap.add_argument("--port", type=int, default=14222)
    ap.add_argument("--sources", type=int, default=64)
    ap.add_argument("--core-rate", type=int, default=7800)
    ap.add_argument("--cap-rate", type=int, default=24000)
    ap.add_argument("--logdir", default="/tmp/br")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = run(a.seconds, a.port, a.sources, a.core_rate, a.cap_rate, logdir=a.logdir)
    if a.json:
        print(json.dumps(r))
    elif "error" in r:
        print("opendht reference failed: %s" % r["error"])
    else:
        for k in ("ping", "find"):
            print("%-5s answers/s %7d   answers per core-second %8d   cores used at cap %.2f" %
                  (k, r[k]["answers_per_s"], r[k]["answers_per_core"],
                   r[k]["cpu_cores_used_at_cap"]))
    return 1 if "error" in r else 0


if __name__ == "__main__":
    sys.exit(main())
