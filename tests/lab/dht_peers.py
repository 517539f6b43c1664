"""dht_peers.py: real OpenDHT nodes (python3-opendht) that live next to the appliance for a
while (tests/lab/test_restart_all.sh, tests/soak/soak.sh). Run inside the lab namespace with
/usr/bin/python3:

  dht_peers.py APP4 APP6 --stop-file F [--nodes 2] [--max-seconds 60] [--every 2]
               [--port 4222] [--network 94] [--stats-file F]

Starts --nodes nodes, bootstrapped alternately via APP4 and APP6, so the appliance has them
in its routing table. Every --every seconds node i puts a small value on a fresh key and
node i+1 gets it back (through the appliance, the only node they know); each put and get is
blocking with the binding's own deadline. Runs until F exists or --max-seconds passed.
Prints `dht_peers: puts=a/s gets=a/s` and writes the same counters to --stats-file (every
round). Exit 0 unless no put succeeded while some were tried (the appliance never stored).
"""
import argparse
import os
import sys
import time

import opendht as dht


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app4")
    ap.add_argument("app6")
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--every", type=float, default=2)
    ap.add_argument("--port", type=int, default=4222)
    ap.add_argument("--network", type=int, default=94)
    ap.add_argument("--stats-file")
    args = ap.parse_args()

    nodes = []
    for i in range(max(2, args.nodes)):
        r = dht.DhtRunner()
        c = dht.DhtConfig()
        c.setNetwork(args.network)
        r.run(port=0, config=c)
        r.bootstrap(args.app4 if i % 2 == 0 else args.app6, str(args.port))
        nodes.append(r)
    print("READY", flush=True)
    st = {"puts_sent": 0, "puts_ok": 0, "gets_sent": 0, "gets_ok": 0}

    def write_stats():
        if not args.stats_file:
            return
        tmp = args.stats_file + ".tmp"
        with open(tmp, "w") as f:
            for k, v in st.items():
                f.write("%s=%d\n" % (k, v))
        os.replace(tmp, args.stats_file)

    end = time.monotonic() + args.max_seconds
    i = 0
    try:
        while not os.path.exists(args.stop_file) and time.monotonic() < end:
            t0 = time.monotonic()
            a, b = nodes[i % len(nodes)], nodes[(i + 1) % len(nodes)]
            key = dht.InfoHash.get("supernode-peers-%s-%d" % (os.urandom(4).hex(), i))
            data = os.urandom(48)
            st["puts_sent"] += 1
            if a.put(key, dht.Value(data)):
                st["puts_ok"] += 1
                st["gets_sent"] += 1
                st["gets_ok"] += any(v.data == data for v in b.get(key))
            i += 1
            write_stats()
            left = args.every - (time.monotonic() - t0)
            # short steps so the stop file is seen soon
            while left > 0 and not os.path.exists(args.stop_file):
                time.sleep(min(left, 0.2))
                left -= 0.2
    finally:
        write_stats()
        for r in nodes:
            r.join()
    print("dht_peers: puts=%d/%d gets=%d/%d" % (st["puts_ok"], st["puts_sent"], st["gets_ok"],
                                                 st["gets_sent"]), flush=True)
    return 1 if st["puts_sent"] and not st["puts_ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
