"""ref_coturn.py: the coturn reference of `supernode-bench compare` (run with /usr/bin/python3).

Starts Debian's coturn `turnserver` on 127.0.0.1 (foreground, no CLI, no TLS/DTLS, no DB:
long-term credentials with one static user, one relay thread with -m 1, loopback peers
allowed, log file in --logdir), one `turnutils_peer` echo per uclient process on loopback,
then --procs `turnutils_uclient` processes in parallel, each with --allocations/--procs
allocations over ChannelData (uclient's default; -c: no RTCP allocations; -X: IPv4 relay)
sending --messages messages of 182 bytes (an SRTP audio packet) with no pacing (-z 0), every
one echoed by the peer back through coturn. Each uclient is bounded by --seconds (SIGTERM at
the deadline; its last progress line is read then).

  relayed packets   = sum over uclients of tot_send_msgs + tot_recv_msgs (each message
                      relayed client -> peer, and its echo peer -> client)
  pps               = relayed packets / seconds the uclients were sending (from their
                      once-a-second progress lines: 1 s resolution; the echoes of messages
                      lost on the way are waited for after that, so the wall time is longer)
  pps_per_core      = relayed packets / coturn CPU seconds (utime + stime of every thread of
                      turnserver from /proc/PID/stat over the run)

  ref_coturn.py [--seconds 15] [--allocations 100] [--messages 4000] [--procs 2] [--json]

Prints a line, or with --json one JSON object line {"reference":"coturn", "pps",
"pps_per_core", ...}; exit 1 with {"error": "..."} when a tool is missing or nothing was
relayed. Everything on 127.0.0.1, ports 13478 (TURN), 13480+ (peers), 40000-49999 (relays);
processes are stopped by their PID.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRESS = re.compile(rb"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)")
TIMED = re.compile(rb"^(\d+): : start_mclient: msz=\d+, tot_send_msgs=(\d+), tot_recv_msgs=(\d+)",
                   re.M)
LOST = re.compile(rb"Total lost packets (\d+)")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(p, grace=3.0):
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def wait_listen(port, deadline):
    """True once something listens on UDP 127.0.0.1:port (from /proc/net/udp)."""
    want = ":%04X" % port
    while time.monotonic() < deadline:
        with open("/proc/net/udp") as f:
            for line in f.readlines()[1:]:
                local = line.split()[1]
                if local.endswith(want):
                    return True
        time.sleep(0.05)
    return False


def run(seconds=15.0, allocations=100, messages=4000, procs=2, length=182, port=13478,
        logdir="/tmp/br"):
    out = {"reference": "coturn"}
    for tool in ("turnserver", "turnutils_uclient", "turnutils_peer"):
        if not shutil.which(tool):
            return dict(out, error="%s not found (Debian package coturn)" % tool)
    os.makedirs(logdir, exist_ok=True)
    procs = max(1, min(procs, allocations))
    server = None
    peers, clients, logs = [], [], []
    try:
        slog = open(os.path.join(logdir, "turnserver.stdout"), "w")
        logs.append(slog)
        server = subprocess.Popen(
            ["turnserver", "-n", "--no-cli", "--no-tls", "--no-dtls", "-L", "127.0.0.1",
             "-E", "127.0.0.1", "--listening-port", str(port), "--min-port", "40000",
             "--max-port", "49999", "--allow-loopback-peers", "-a", "-u", "bench:benchpw",
             "-r", "bench.local", "-m", "1", "--no-rfc5780",
             "--no-stun-backward-compatibility", "--log-file",
             os.path.join(logdir, "turnserver.log"), "--simple-log", "--no-stdout-log",
             "--pidfile", os.path.join(logdir, "turnserver.pid")],
            stdin=subprocess.DEVNULL, stdout=slog, stderr=subprocess.STDOUT)
        if not wait_listen(port, time.monotonic() + 10):
            return dict(out, error="turnserver did not listen on 127.0.0.1:%d within 10 s "
                        "(log %s/turnserver.log)" % (port, logdir))
        for i in range(procs):
            peers.append(subprocess.Popen(["turnutils_peer", "-L", "127.0.0.1", "-p",
                                           str(port + 2 + i)], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for i in range(procs):
            if not wait_listen(port + 2 + i, time.monotonic() + 10):
                return dict(out, error="turnutils_peer did not listen on 127.0.0.1:%d" %
                            (port + 2 + i))
        per = [allocations // procs + (1 if i < allocations % procs else 0) for i in range(procs)]
        c0 = cpu_seconds(server.pid)
        t0 = time.monotonic()
        for i in range(procs):
            f = open(os.path.join(logdir, "uclient-%d.log" % i), "w+b")
            logs.append(f)
            clients.append((subprocess.Popen(
                ["turnutils_uclient", "-u", "bench", "-w", "benchpw", "-X", "-c", "-m",
                 str(per[i]), "-n", str(messages), "-l", str(length), "-z", "0", "-e",
                 "127.0.0.1", "-r", str(port + 2 + i), "-p", str(port), "127.0.0.1"],
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT), f))
        deadline = t0 + seconds
        timed_out = False
        for p, _ in clients:
            left = deadline - time.monotonic()
            try:
                p.wait(max(left, 0.01))
            except subprocess.TimeoutExpired:
                timed_out = True
                stop(p)
        wall = time.monotonic() - t0
        cpu = cpu_seconds(server.pid) - c0
        sent = recv = lost = 0
        active = 0
        for _, f in clients:
            f.seek(0)
            text = f.read()
            # uclient's once-a-second progress lines start with its seconds: the sending
            # window runs from the last line with nothing sent to the first with all sent
            tl = [(int(t), int(a)) for t, a, _ in TIMED.findall(text)]
            if tl:
                final = tl[-1][1]
                start = max([t for t, a in tl if a == 0] or [0])
                end = min([t for t, a in tl if a == final] or [tl[-1][0]])
                active = max(active, end - start, 1)
            m = PROGRESS.findall(text)
            if m:
                sent += int(m[-1][0])
                recv += int(m[-1][1])
            lm = LOST.findall(text)
            if lm:
                lost += int(lm[-1])
        packets = sent + recv
        out.update({
            "server": "coturn %s turnserver -m 1 (one relay thread), UDP, ChannelData, "
                      "127.0.0.1" % coturn_version(),
            "allocations": allocations, "uclient_processes": procs, "messages_per_allocation":
            messages, "payload_bytes": length, "sent": sent, "echoed": recv,
            "relayed_packets": packets, "lost": lost, "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3), "cpu_cores_used": round(cpu / wall, 3) if wall > 0 else None,
            "stopped_at_deadline": timed_out,
            "sending_s": active or None,
            "pps": round(packets / active) if active else round(packets / wall),
            "pps_per_core": round(packets / cpu) if cpu > 0 else None,
        })
        if packets == 0 or cpu <= 0:
            return dict(out, error="coturn relayed nothing (logs in %s)" % logdir)
        return out
    finally:
        for p, _ in clients:
            stop(p)
        for p in peers:
            stop(p)
        stop(server)
        for f in logs:
            f.close()


def coturn_version():
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", "coturn"],
                              capture_output=True, text=True, timeout=5).stdout or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def main():
    ap = argparse.ArgumentParser(description="coturn reference for supernode-bench compare")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--allocations", type=int, default=100)
    ap.add_argument("--messages", type=int, default=4000)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--length", type=int, default=182)
    ap.add_argument("--port", type=int, default=13478)
    ap.add_argument("--logdir", default="/tmp/br")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = run(a.seconds, a.allocations, a.messages, a.procs, a.length, a.port, a.logdir)
    if a.json:
        print(json.dumps(r))
    elif "error" in r:
        print("coturn reference failed: %s" % r["error"])
    else:
        print("coturn: %d relayed packets in %.1f s: %d pps, %d pps per core (%.2f cores used)"
              % (r["relayed_packets"], r["wall_s"], r["pps"], r["pps_per_core"],
                 r["cpu_cores_used"]))
    return 1 if "error" in r else 0


if __name__ == "__main__":
    sys.exit(main())
