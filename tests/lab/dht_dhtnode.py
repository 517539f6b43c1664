"""dht_dhtnode.py: Debian's dhtnode joins the DHT through the appliance. Run inside the lab
namespace with /usr/bin/python3:

  dht_dhtnode.py APP4 APP_ID [--port 4222] [--network 94] [--timeout 20]

A python3-opendht node P joins through the appliance and puts a value; then dhtnode, whose
only bootstrap is the appliance: pings it (`b`), has it as a good node in its routing table
(`lr`, APP_ID is the appliance's node id), learns P from the appliance's find answers, and
looks P's value up (`g`). Prints one line per check; exit 0 when all pass.
"""
import argparse
import os
import sys

import opendht as dht

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from poll import until  # noqa: E402
import dht_cli  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app4")
    ap.add_argument("app_id")
    ap.add_argument("--port", type=int, default=4222)
    ap.add_argument("--network", type=int, default=94)
    ap.add_argument("--timeout", type=float, default=20)
    args = ap.parse_args()
    boot = "%s:%d" % (args.app4, args.port)
    tag = os.urandom(4).hex()
    keyname = "lookup-" + tag
    failed = 0

    def check(name, ok, detail=""):
        nonlocal failed
        print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
        failed += 0 if ok else 1

    p = dht.DhtRunner()
    c = dht.DhtConfig()
    c.setNetwork(args.network)
    p.run(port=0, config=c)
    p.bootstrap(args.app4, str(args.port))
    pid = str(p.getNodeId().decode() if isinstance(p.getNodeId(), bytes) else p.getNodeId())
    node = None
    try:
        value = ("found-through-the-appliance-" + tag).encode()
        check("P puts a value", bool(until(args.timeout, lambda: p.put(
            dht.InfoHash.get(keyname), dht.Value(value)), 1.0)))

        node = dht_cli.DhtNode(args.network, boot, identity=False, log=sys.stderr)
        check("dhtnode is up", node.expect("running on port", args.timeout) is not None)
        node.send("b " + boot)  # ping the appliance

        def table_has(node_id):
            m = node.mark()
            node.send("lr")
            node.expect("IPv6 routing table", 2.0, m)
            return any(node_id in ln and "[good]" in ln for ln in node.lines[m:])
        check("dhtnode has the appliance as a good node", bool(until(args.timeout,
              lambda: table_has(args.app_id), 0.5)))
        check("dhtnode learned P from the appliance", bool(until(args.timeout,
              lambda: table_has(pid), 0.5)), pid)

        def lookup():
            m = node.mark()
            node.send("g " + keyname)
            node.expect("Get: completed", args.timeout, m)
            # dhtnode prints data without a user type in hex
            return any(value.hex() in ln for ln in node.lines[m:])
        check("dhtnode looks P's value up", bool(until(args.timeout, lookup, 0.5)))
        m = node.mark()
        node.send("ll")
        good = node.expect(r"Known nodes: (\d+) good", 5.0, m)
        check("dhtnode reports good nodes", good is not None and int(good.group(1)) >= 1)
    finally:
        if node:
            node.close()
        p.join()
    print("%d failed" % failed, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
