"""dht_joins.py: join admission of the appliance's DHT routing table (RFC 5765 2.4), driven by
small raw OpenDHT nodes (dht_wire.py) that each own one source address in the lab namespace.
Run inside the namespace with /usr/bin/python3:

  dht_joins.py APP4 CTL EDGES [--port 4222] [--network 94] [--timeout 30]

CTL is the supernodectl command line (run from inside the namespace: the admin socket is a
file, so it works across namespaces). EDGES is where the trust edge list is written (the
appliance's sybil.file must name it; it is written before the nodes start).

Nodes (each answers ping/find from the appliance with its id, and pings the appliance once a
second so that it is heard):
  A0..A3  198.18.0.10-13   one /24, honest: at most max_per_prefix4 (2) of them are admitted
  B       198.18.1.10      honest, another /24: admitted
  D       198.18.3.10      honest, admitted, then stops answering: evicted (liveness)
  S       198.18.2.10      in a Sybil region behind one attack edge of the edge list: never
                           admitted, and never in a find answer
and, first, a signed vouch (an RSA key made with the openssl command, a signed value under
InfoHash("supernode-vouch") naming an id) puts the vouched id into the trust graph.
Checks, each with a deadline (polling, no fixed sleeps), print one line each; exit 0 when all
pass, 1 otherwise.
"""
import argparse
import hashlib
import json
import os
import random
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from poll import until  # noqa: E402
import dht_signed  # noqa: E402
import dht_wire as w  # noqa: E402

NODES = {
    "A0": "198.18.0.10", "A1": "198.18.0.11", "A2": "198.18.0.12", "A3": "198.18.0.13",
    "B": "198.18.1.10", "D": "198.18.3.10", "S": "198.18.2.10",
}
N_HONEST_EXTRA = 30  # graph-only honest nodes (addresses 10.9.x.y)
N_SYBIL_EXTRA = 15   # graph-only Sybil ids around S


class Node(threading.Thread):
    """A minimal OpenDHT node on one address: answers queries, pings the appliance."""

    def __init__(self, name, addr, app, port, network, node_id):
        super().__init__(daemon=True)
        self.name, self.addr, self.app = name, addr, (app, port)
        self.network, self.id = network, node_id
        self.answer = True
        self.stop = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 0))
        self.sock.settimeout(0.2)
        self.tid = random.randint(1, 1 << 20)

    def send(self, msg):
        if self.network:
            msg["n"] = self.network
        self.sock.sendto(w.pack(msg), self.app)

    def run(self):
        next_ping = 0.0
        while not self.stop:
            now = time.monotonic()
            if now >= next_ping and self.answer:
                self.tid += 1
                self.send({"a": {"id": self.id}, "q": "ping", "t": self.tid, "y": "q",
                           "v": "RNG1"})
                next_ping = now + 1.0
            try:
                data, src = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                m = w.unpack(data)
            except ValueError:
                continue
            if not self.answer or not isinstance(m, dict) or m.get("y") != "q":
                continue
            r = {"id": self.id}
            if m.get("q") in ("find", "get"):
                r["n4"] = b""
            self.send({"r": r, "t": m.get("t"), "y": "r", "v": "RNG1"})


def routes(ctl):
    """{node id hex: address} of the appliance's IPv4 routing table."""
    out = subprocess.run(ctl + ["routes", "--json"], capture_output=True, text=True,
                         timeout=10)
    if out.returncode != 0:
        return None
    j = json.loads(out.stdout)
    got = {}
    for fam in j.get("families", []):
        for r in fam.get("routes", []):
            got[r.get("id")] = (r.get("address") or r.get("addr") or "", r.get("bucket"),
                                r.get("good"), r.get("dataplane"))
    return got


def verdict(ctl, hexid):
    out = subprocess.run(ctl + ["sybil", "--json"], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        return None
    for n in json.loads(out.stdout).get("nodes_list", []):
        if n.get("id") == hexid:
            return n.get("verdict")
    return "absent"


def write_edges(path, ids):
    """Honest region: a ring with chords over the honest nodes and N_HONEST_EXTRA addresses;
    Sybil region: a clique of S and N_SYBIL_EXTRA ids; one attack edge. Seeds: A0, B."""
    rnd = random.Random(5)
    honest = [ids[n].hex() for n in ("A0", "A1", "A2", "A3", "B", "D")]
    honest += ["10.9.%d.%d" % (i // 200, i % 200 + 1) for i in range(N_HONEST_EXTRA)]
    sybil = [ids["S"].hex()] + [("%02x" % (0xa0 + i)) * 20 for i in range(N_SYBIL_EXTRA)]
    lines = ["# dht_joins.py test graph"]
    n = len(honest)
    for i in range(n):
        lines.append("%s %s" % (honest[i], honest[(i + 1) % n]))
        for _ in range(2):
            j = rnd.randrange(n)
            if j != i:
                lines.append("%s %s" % (honest[i], honest[j]))
    for i in range(len(sybil)):
        for j in range(i + 1, len(sybil)):
            lines.append("%s %s" % (sybil[i], sybil[j]))
    lines.append("%s %s" % (honest[7], sybil[3]))  # the one attack edge
    lines.append("seed %s" % ids["A0"].hex())
    lines.append("seed %s" % ids["B"].hex())
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app4")
    ap.add_argument("ctl")
    ap.add_argument("edges")
    ap.add_argument("--port", type=int, default=4222)
    ap.add_argument("--network", type=int, default=94)
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()
    ctl = shlex.split(args.ctl)
    failed = 0

    def check(name, ok, detail=""):
        nonlocal failed
        print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
        failed += 0 if ok else 1

    # ids share their first byte so that they all fall in one bucket until it splits
    ids = {n: bytes([0x5a]) + os.urandom(19) for n in NODES}
    write_edges(args.edges, ids)
    hexs = {n: ids[n].hex() for n in NODES}
    check("trust verdict of S is suspect",
          until(args.timeout, lambda: verdict(ctl, hexs["S"]) == "suspect"),
          verdict(ctl, hexs["S"]) or "")
    check("trust verdict of B is trusted",
          until(5, lambda: verdict(ctl, hexs["B"]) == "trusted"), verdict(ctl, hexs["B"]) or "")

    # a signed vouch (trust.h): signed value under InfoHash("supernode-vouch") naming an id
    if shutil.which("openssl"):
        vouched = bytes([0x77]) * 20
        with tempfile.TemporaryDirectory() as tmp:
            der, sign = dht_signed.openssl_signer(tmp)
            data = b"vouch:" + vouched.hex().encode()
            key = hashlib.sha1(b"supernode-vouch").digest()
            c = w.Client(args.app4, args.port, args.network)
            try:
                token = c.token(key)
                v = {"id": 4242, "dat": {"body": {"seq": 0, "owner": der, "type": 0,
                                                  "data": data},
                                         "sig": sign(dht_signed.signed_body(0, der, 0, data))}}
                r = c.call("put", {"h": key, "values": [v], "token": token}, 2.0)
                check("signed vouch stored", r is not None and "r" in r, str(r)[:80])
            finally:
                c.close()
        check("vouch edge in the trust graph",
              until(10, lambda: verdict(ctl, vouched.hex()) not in (None, "absent")),
              verdict(ctl, vouched.hex()) or "")
    else:
        print("skip the signed vouch: no openssl command", flush=True)

    nodes = {n: Node(n, a, args.app4, args.port, args.network, ids[n]) for n, a in NODES.items()}
    for n in nodes.values():
        n.start()
    try:
        def admitted():
            r = routes(ctl) or {}
            a = [n for n in ("A0", "A1", "A2", "A3") if hexs[n] in r]
            return r if hexs["B"] in r and hexs["D"] in r and len(a) >= 2 else None
        r = until(args.timeout, admitted) or routes(ctl) or {}
        a_in = [n for n in ("A0", "A1", "A2", "A3") if hexs[n] in r]
        check("B and D admitted", hexs["B"] in r and hexs["D"] in r, str(sorted(r)))
        check("two of A0-A3 (one /24) admitted", len(a_in) == 2, str(a_in))
        # give the other two As and S more chances to be (wrongly) admitted
        until(4, lambda: False)
        r = routes(ctl) or {}
        a_in = [n for n in ("A0", "A1", "A2", "A3") if hexs[n] in r]
        check("still at most two of one /24 in the bucket", len(a_in) <= 2, str(a_in))
        check("S (Sybil suspect) not admitted", hexs["S"] not in r)

        # find answers (fast path) must never name S
        c = w.Client(args.app4, args.port, args.network)
        try:
            def find_has(who):
                rep = c.call("find", {"target": ids[who], "w": [2]}, timeout=1.0)
                if not rep or "r" not in rep:
                    return None
                n4 = rep["r"].get("n4", b"")
                got = [n4[i:i + 20] for i in range(0, len(n4) - 25, 26)]
                return (ids[who] in got, len(got))
            has_b = until(10, lambda: (find_has("B") or (False, 0))[0])
            check("find answer names B", bool(has_b))
            s = find_has("S")
            check("find answer does not name S", s is not None and not s[0], str(s))
        finally:
            c.close()

        # D goes silent: liveness pings fail and it is evicted
        nodes["D"].answer = False
        gone = until(60, lambda: hexs["D"] not in (routes(ctl) or {hexs["D"]: 1}), step=0.5)
        check("silent D evicted", bool(gone))
    finally:
        for n in nodes.values():
            n.stop = True
        for n in nodes.values():
            n.join(timeout=2)
            n.sock.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
