"""dht_flood_legit.py: the legitimate DHT work of test_flood.sh, run while the flood goes on.
Two python3-opendht nodes bootstrap from the appliance (one over IPv4, one over IPv6); until
--seconds have passed, node A puts a fresh value and node B gets it back (each op with the
nodes' own retransmissions and a deadline of --op-timeout), and a raw OpenDHT client
(dht_wire.py) pings the appliance over both families (up to 3 attempts, as OpenDHT retries).
Run inside the lab namespace with /usr/bin/python3:

  dht_flood_legit.py APP4 APP6 [--seconds 20] [--network 94] [--ready FILE]

--ready: touched once both nodes have joined (the flood starts after it).
Prints one JSON line: {"put_ok","put_fail","get_ok","get_fail","ping_ok","ping_fail"}.
"""
import argparse
import json
import os
import sys
import time

import opendht as dht

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from poll import until  # noqa: E402
import dht_wire  # noqa: E402


def node(boot, network):
    r = dht.DhtRunner()
    c = dht.DhtConfig()
    c.setNetwork(network)
    r.run(port=0, config=c)
    r.bootstrap(boot, "4222")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app4")
    ap.add_argument("app6")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--network", type=int, default=94)
    ap.add_argument("--op-timeout", type=float, default=10)
    ap.add_argument("--ready")
    args = ap.parse_args()
    tag = os.urandom(4).hex()
    st = dict(put_ok=0, put_fail=0, get_ok=0, get_fail=0, ping_ok=0, ping_fail=0)
    a = node(args.app4, args.network)
    b = node(args.app6, args.network)
    pingers = [dht_wire.Client(args.app4, network=args.network),
               dht_wire.Client(args.app6, network=args.network)]
    try:
        k0 = dht.InfoHash.get("flood-warmup-" + tag)
        if not until(20, lambda: a.put(k0, dht.Value(b"warmup")), 0.5):
            print(json.dumps(dict(st, error="nodes did not join")), flush=True)
            return 1
        if args.ready:
            open(args.ready, "w").close()
        end = time.monotonic() + args.seconds
        i = 0
        while time.monotonic() < end:
            i += 1
            key = dht.InfoHash.get("flood-%s-%d" % (tag, i))
            data = ("legit %s %d" % (tag, i)).encode()
            if a.put(key, dht.Value(data)):
                st["put_ok"] += 1
                got = until(args.op_timeout,
                            lambda: [v for v in b.get(key) if v.data == data], 0.2)
                st["get_ok" if got else "get_fail"] += 1
            else:
                st["put_fail"] += 1
            for c in pingers:
                for _ in range(5):
                    ok = False
                    for attempt in range(3):
                        r = c.call("ping", {}, timeout=1.0)
                        if r and r.get("y") == "r":
                            ok = True
                            break
                    st["ping_ok" if ok else "ping_fail"] += 1
    finally:
        for c in pingers:
            c.close()
        a.join()
        b.join()
    print(json.dumps(st), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
