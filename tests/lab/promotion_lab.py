"""promotion_lab.py: simulated clients of different behaviour for test_promotion.sh (run in the
lab namespace with /usr/bin/python3; the addresses must already be on the lab interface).

  promotion_lab.py APP4 --ctl "SUPERNODE ctl" [--network 94] [--probe-port 4300]

Clients, each from its own address (198.18.0.x), with raw OpenDHT messages (dht_wire.py) and
raw STUN/TURN (long-term credentials of the lab user):
  .31 .32 .33  long-lived and active: a get every 0.3 s; answer every query (open address)
  .35          NATed: as active, but drops datagrams that do not come from the DHT port
  .40          Sybil suspect (promotion.suspects in the test config); active, open
  .42          Sybil suspect marked with `supernodectl suspect` (the trust module), when
               --trust-suspect is given; active, open
  .41          misbehaving: active, open, and puts with wrong tokens (answered 401)
  .34          short-lived: two gets, then gone
  .50          TURN only: allocations that raise the load past the threshold, then one
               allocation deleted and re-created again and again (load hovering at it)
Phases: (1) the DHT clients run with the load below load_high: no invitation; (2) .50's
allocations raise it past load_high: .31, .32, .33 are invited, nobody else; (3) the load
hovers across load_high: the state changes no more and no client is invited twice.
Prints one line per check and, at the end, `INVITED <node id hex>` for .31; exit 0 when all
checks pass.
"""
import argparse
import hashlib
import hmac
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dht_wire as dw  # noqa: E402

failures = 0


def check(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures += 1


# ---------- TURN (raw STUN, as test_turn_bad.sh) ----------

REALM = "supernode.lab"
MAGIC = 0x2112A442


def stype(method, cls):
    return ((method & 0xf) | ((method & 0x70) << 1) | ((method & 0xf80) << 2) | ((cls & 1) << 4)
            | ((cls & 2) << 7))


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def build(method, attrs, key=None):
    tid = os.urandom(12)
    body = b"".join(attrs)
    if key:
        hdr = struct.pack("!HHI", stype(method, 0), len(body) + 24, MAGIC) + tid
        body += attr(0x0008, hmac.new(key, hdr + body, hashlib.sha1).digest())
    hdr = struct.pack("!HHI", stype(method, 0), len(body) + 8, MAGIC) + tid
    body += attr(0x8028, struct.pack("!I", (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xffffffff))
    return struct.pack("!HHI", stype(method, 0), len(body), MAGIC) + tid + body


def parse(b):
    if len(b) < 20:
        return None
    _, ln, _ = struct.unpack("!HHI", b[:8])
    attrs, off = {}, 20
    while off + 4 <= 20 + ln:
        at, al = struct.unpack("!HH", b[off:off + 4])
        attrs.setdefault(at, b[off + 4:off + 4 + al])
        off += 4 + al + (4 - al % 4) % 4
    code = None
    if 0x0009 in attrs:
        e = attrs[0x0009]
        code = (e[2] & 7) * 100 + e[3]
    return {"tid": b[8:20], "attrs": attrs, "code": code}


class Turn:
    def __init__(self, server, local):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((local, 0))
        self.server = (server, 3478)
        self.key = hashlib.md5(("lab:%s:lab-password" % REALM).encode()).digest()
        self.nonce = None

    def ask(self, b, timeout=1.0):
        tid = b[8:20]
        for _ in range(3):
            self.s.sendto(b, self.server)
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                self.s.settimeout(max(0.01, end - time.monotonic()))
                try:
                    m = parse(self.s.recv(4096))
                except socket.timeout:
                    break
                if m and m["tid"] == tid:
                    return m
        return None

    def request(self, method, attrs):
        if not self.nonce:
            # padded: a 401 is never larger than the request it answers
            m = self.ask(build(3, [attr(0x0019, b"\x11\0\0\0"), attr(0x0026, b"\0" * 96)]))
            if not m or m["code"] != 401:
                return None
            self.nonce = m["attrs"][0x0015]
        auth = [attr(0x0006, b"lab"), attr(0x0014, REALM.encode()), attr(0x0015, self.nonce)]
        return self.ask(build(method, attrs + auth, key=self.key))

    def allocate(self):
        m = self.request(3, [attr(0x0019, b"\x11\0\0\0")])
        return bool(m and m["code"] is None)

    def delete(self):
        m = self.request(4, [attr(0x000D, struct.pack("!I", 0))])
        return bool(m and m["code"] is None)

    def close(self):
        self.s.close()


# ---------- DHT clients ----------


class Sim:
    def __init__(self, ip, app, network, probe_ok=True, misbehave=False, period=0.3):
        self.ip = ip
        self.app = app
        self.network = network
        self.id = dw.random_id()
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((ip, 0))
        self.probe_ok = probe_ok
        self.misbehave = misbehave
        self.period = period
        self.next = 0.0
        self.tid = 1
        self.n = 0
        self.probes_answered = 0
        self.probes_dropped = 0

    def query(self, q, args):
        self.tid += 1
        a = {"id": self.id}
        a.update(args)
        msg = {"a": a, "q": q, "t": self.tid, "y": "q", "v": "RNG1", "n": self.network}
        self.s.sendto(dw.pack(msg), self.app)

    def tick(self, now):
        if now < self.next:
            return
        self.next = now + self.period
        self.n += 1
        self.query("get", {"h": os.urandom(20)})
        if self.misbehave and self.n % 3 == 0:
            # a put with a made-up token: control answers 401
            self.query("put", {"h": os.urandom(20), "token": os.urandom(32),
                               "values": [dw.plain_value(self.n, b"x")]})

    def on_readable(self):
        try:
            data, src = self.s.recvfrom(65536)
        except OSError:
            return
        try:
            m = dw.unpack(data)
        except ValueError:
            return
        if not isinstance(m, dict) or m.get("y") != "q":
            return
        if src[1] != self.app[1] and not self.probe_ok:
            self.probes_dropped += 1  # a NAT drops what comes from another port
            return
        if src[1] != self.app[1]:
            self.probes_answered += 1
        reply = {"r": {"id": self.id}, "t": m.get("t"), "y": "r", "v": "RNG1",
                 "n": self.network}
        self.s.sendto(dw.pack(reply), src)

    def close(self):
        self.s.close()


def ctl(cmd):
    out = subprocess.run(cmd + ["promotions", "--json"], capture_output=True, text=True,
                         timeout=10)
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {}


def run_for(sims, seconds, extra=None):
    end = time.monotonic() + seconds
    while True:
        now = time.monotonic()
        if now >= end:
            return
        for s in sims:
            s.tick(now)
        if extra:
            extra(now)
        r, _, _ = select.select([s.s for s in sims], [], [], 0.05)
        for s in sims:
            if s.s in r:
                s.on_readable()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app4")
    ap.add_argument("--ctl", required=True, help="command prefix, e.g. './supernode ctl'")
    ap.add_argument("--network", type=int, default=94)
    ap.add_argument("--port", type=int, default=4222)
    ap.add_argument("--trust-suspect", default=None,
                    help="an address the trust module was told is a suspect")
    args = ap.parse_args()
    cmd = args.ctl.split()
    app = (args.app4, args.port)

    good = [Sim("198.18.0.%d" % h, app, args.network) for h in (31, 32, 33)]
    nat = Sim("198.18.0.35", app, args.network, probe_ok=False)
    sus = Sim("198.18.0.40", app, args.network)
    bad = Sim("198.18.0.41", app, args.network, misbehave=True)
    short = Sim("198.18.0.34", app, args.network, period=0.5)
    sims = good + [nat, sus, bad, short]
    if args.trust_suspect:
        sims.append(Sim(args.trust_suspect, app, args.network))

    # (1) below the threshold: 7 (or 8) DHT clients of capacity 20 -> load 350 (400)
    run_for(sims, 2.0)
    short.close()
    sims.remove(short)
    run_for(sims, 3.0)
    j = ctl(cmd)
    check(j.get("enabled") is True, "promotion is on")
    load0 = j.get("load", {}).get("permille", -1)
    check(0 < load0 < j.get("load_high", 0), "load %d below load_high %d with %d DHT clients"
          % (load0, j.get("load_high", 0), len(sims) + 1))
    check(j.get("state") == "low" and j.get("decisions_total") == 0,
          "state low, no decision below the threshold (state %s, decisions %s)"
          % (j.get("state"), j.get("decisions_total")))
    by_addr = {c["addr"]: c for c in j.get("clients", [])}
    check(by_addr.get("198.18.0.35", {}).get("reach") == "closed",
          "NATed client marked unreachable by the dial-back probe")
    check(all(by_addr.get(s.ip, {}).get("reach") == "open" for s in good + [sus, bad]),
          "open clients answered the dial-back probe")

    # (2) TURN allocations raise the load past load_high (500 = 10 clients)
    turn = [Turn(args.app4, "198.18.0.50") for _ in range(10 - len(sims) - 1)]
    for i, t in enumerate(turn):
        check(t.allocate(), "allocation %d from 198.18.0.50" % (i + 1))
        run_for(sims, 0.5)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        run_for(sims, 0.5)
        j = ctl(cmd)
        if j.get("decisions_total", 0) >= 3:
            break
    invited = sorted(d["addr"] for d in j.get("decisions", []))
    check(j.get("state") == "high", "state high at load %s" % j.get("load", {}).get("permille"))
    check(invited == ["198.18.0.31", "198.18.0.32", "198.18.0.33"],
          "the long-lived active open clients are invited: %s" % invited)
    for d in j.get("decisions", []):
        check(set(d.get("inputs", {})) == {"uptime", "activity", "history", "bandwidth",
                                           "trust"} and d.get("stored") is True
              and d.get("load", 0) >= j.get("load_high", 1),
              "decision %s explained (inputs %s, weights %s, score %.3f) and stored"
              % (d.get("addr"), d.get("inputs"), d.get("weights"), d.get("score", 0)))
    status = {c["addr"]: c["status"] for c in j.get("clients", [])}
    for ip, want in (("198.18.0.35", "unreachable"), ("198.18.0.40", "suspect"),
                     ("198.18.0.41", "misbehaved"), ("198.18.0.34", "short_lived"),
                     ("198.18.0.50", "no_node_id")) + (
                         ((args.trust_suspect, "suspect"),) if args.trust_suspect else ()):
        check(status.get(ip) == want, "%s not invited: %s (want %s)" % (ip, status.get(ip), want))
    changes = j.get("state_changes", -1)

    # (3) the load hovers across load_high: one allocation deleted and re-created
    loads = set()

    def hover(now, state={"next": 0.0, "up": True}):
        if now < state["next"]:
            return
        state["next"] = now + 0.7
        t = turn[-1]
        if state["up"]:
            t.delete()
            t.close()
            turn[-1] = Turn(args.app4, "198.18.0.50")
        else:
            turn[-1].allocate()
        state["up"] = not state["up"]

    end = time.monotonic() + 8
    while time.monotonic() < end:
        run_for(sims, 0.4, hover)
        j2 = ctl(cmd)
        loads.add(j2.get("load", {}).get("permille"))
    hi = j2.get("load_high", 0)
    check(any(x is not None and x < hi for x in loads) and any(x is not None and x >= hi
                                                               for x in loads),
          "load hovered across load_high %d: %s" % (hi, sorted(x for x in loads if x is not None)))
    check(j2.get("state") == "high" and j2.get("state_changes") == changes,
          "no flapping: state %s, changes %s -> %s" % (j2.get("state"), changes,
                                                      j2.get("state_changes")))
    check(j2.get("decisions_total") == 3, "no new decision while hovering (%s)"
          % j2.get("decisions_total"))
    for t in turn:
        t.delete()
        t.close()
    print("INVITED %s" % good[0].id.hex(), flush=True)
    for s in sims:
        s.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
