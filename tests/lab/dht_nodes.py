"""dht_nodes.py: two python3-opendht nodes whose only bootstrap is the appliance (one via its
IPv4 address, one via its IPv6 address) exchange values through it. Run inside the lab
namespace with /usr/bin/python3:

  dht_nodes.py APP4 APP6 [--port 4222] [--network 94] [--timeout 20]

Checks, each with a deadline (polling, no fixed sleeps):
  1. a put on A is returned by a get on B;
  2. a listen on B sees A's later put;
  3. a 5000-byte value (sent in fragments) put on B is returned whole by a get on A;
  4. both nodes have the appliance in their routing tables.
Prints one line per check; exit 0 when all pass, 1 otherwise.
"""
import argparse
import os
import sys
import threading

import opendht as dht

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from poll import until  # noqa: E402


def node(boot, port, network):
    r = dht.DhtRunner()
    c = dht.DhtConfig()
    c.setNetwork(network)
    r.run(port=0, config=c)
    r.bootstrap(boot, str(port))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app4")
    ap.add_argument("app6")
    ap.add_argument("--port", type=int, default=4222)
    ap.add_argument("--network", type=int, default=94)
    ap.add_argument("--timeout", type=float, default=20)
    args = ap.parse_args()
    tag = os.urandom(4).hex()
    failed = 0

    def check(name, ok, detail=""):
        nonlocal failed
        print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
        failed += 0 if ok else 1

    a = node(args.app4, args.port, args.network)
    b = node(args.app6, args.port, args.network)
    try:
        # 1. put on A, get on B
        k1 = dht.InfoHash.get("supernode-lab-put-" + tag)
        data1 = ("hello from A " + tag).encode()
        ok = until(args.timeout, lambda: a.put(k1, dht.Value(data1)), 1.0)
        check("put on A (via %s)" % args.app4, ok)
        got = until(args.timeout, lambda: [v.data for v in b.get(k1) if v.data == data1])
        check("get on B (via %s) returns A's value" % args.app6, bool(got))

        # 2. listen on B, later put on A
        k2 = dht.InfoHash.get("supernode-lab-listen-" + tag)
        data2 = ("pushed " + tag).encode()
        seen = threading.Event()

        def on_value(v, expired):
            if not expired and v.data == data2:
                seen.set()
            return True

        b.listen(k2, on_value)
        # B's search log marks a node it listens on with [l]: wait for the appliance's
        app6 = "[" + args.app6 + "]:%d" % args.port

        def listening():
            return any("[l]" in line and app6 in line
                       for line in b.getSearchesLog(0).splitlines())

        check("B listens on the appliance", bool(until(args.timeout, listening)))
        a.put(k2, dht.Value(data2))
        check("listen on B sees A's later put", seen.wait(args.timeout))
        # (the binding's cancelListen blocks; shutdown ends the listen)

        # 3. a value larger than one datagram, both ways through fragments
        k3 = dht.InfoHash.get("supernode-lab-big-" + tag)
        data3 = bytes((i * 7 + 3) & 0xff for i in range(5000))
        ok = until(args.timeout, lambda: b.put(k3, dht.Value(data3)), 1.0)
        check("put of a 5000-byte value on B", ok)
        got = until(args.timeout, lambda: [v.data for v in a.get(k3) if v.data == data3])
        check("get on A returns the 5000-byte value whole", bool(got))

        # 4. the appliance is in both routing tables
        t4 = a.getRoutingTablesLog(2)
        t6 = b.getRoutingTablesLog(10)
        check("A's IPv4 routing table has the appliance", args.app4 + ":" in t4)
        check("B's IPv6 routing table has the appliance", "[" + args.app6 + "]" in t6)
    finally:
        a.join()  # (the binding's shutdown() blocks; join() stops the node)
        b.join()
    print("%d failed" % failed, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
