"""dht_load.py: a steady raw-wire OpenDHT load on the appliance, counting every query and its
answer (tests/lab/test_restart_all.sh, tests/soak/soak.sh). Run inside the lab namespace with
/usr/bin/python3:

  dht_load.py APP [APP...] --stop-file F [--max-seconds 60] [--interval-ms 20]
              [--timeout 0.5] [--storage] [--min-queries 1] [--port 4222] [--network 94]
              [--stats-file F]

One client socket per APP address (IPv4 and IPv6 both work). Round-robin over the clients,
one query in flight at a time: ping, then find (both answered by the dataplane's fast path
from its routing snapshot, also while control is down). With --storage every 10th round
also does get (for a token) and put of a small value on a random key (answered by control;
counted separately, its losses are reported and never fail the run). Each query has a
deadline (--timeout); a reply after it counts as lost. Runs until F exists or --max-seconds.
Prints `dht_load: sent=N answered=N lost=N ping=a/s find=a/s storage=a/s max_ms=X` and exits
0 when every ping/find was answered and at least --min-queries were sent, 1 otherwise.
--stats-file gets the same counters as `key=value` lines, rewritten every second (the soak
reads it while the load runs).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dht_wire as w  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("apps", nargs="+")
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--interval-ms", type=float, default=20)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--storage", action="store_true")
    ap.add_argument("--min-queries", type=int, default=1)
    ap.add_argument("--port", type=int, default=4222)
    ap.add_argument("--network", type=int, default=94)
    ap.add_argument("--stats-file")
    args = ap.parse_args()

    clients = [w.Client(a, args.port, args.network) for a in args.apps]
    st = {"ping_sent": 0, "ping_answered": 0, "find_sent": 0, "find_answered": 0,
          "storage_sent": 0, "storage_answered": 0}
    max_ms = 0.0
    end = time.monotonic() + args.max_seconds
    next_send = time.monotonic()
    next_stats = 0.0
    rounds = 0

    def write_stats():
        if not args.stats_file:
            return
        tmp = args.stats_file + ".tmp"
        with open(tmp, "w") as f:
            for k, v in st.items():
                f.write("%s=%d\n" % (k, v))
        os.replace(tmp, args.stats_file)

    def one(c, q, a):
        nonlocal max_ms
        t0 = time.monotonic()
        r = c.call(q, a, args.timeout)
        ok = r is not None and "r" in r
        if ok:
            max_ms = max(max_ms, (time.monotonic() - t0) * 1e3)
        return ok, r

    while not os.path.exists(args.stop_file) and time.monotonic() < end:
        c = clients[rounds % len(clients)]
        st["ping_sent"] += 1
        st["ping_answered"] += one(c, "ping", {})[0]
        st["find_sent"] += 1
        st["find_answered"] += one(c, "find", {"target": w.random_id(), "w": [2, 10]})[0]
        if args.storage and rounds % 10 == 0:
            key = w.random_id()
            st["storage_sent"] += 1
            ok, r = one(c, "get", {"h": key})
            token = (r or {}).get("r", {}).get("token") if ok else None
            if isinstance(token, bytes):
                st["storage_answered"] += 1
                st["storage_sent"] += 1
                ok, _ = one(c, "put", {"h": key, "token": token,
                                       "values": [w.plain_value(1, os.urandom(32))]})
                st["storage_answered"] += ok
        rounds += 1
        now = time.monotonic()
        if now >= next_stats:
            write_stats()
            next_stats = now + 1.0
        next_send += args.interval_ms / 1e3
        if next_send > now:
            time.sleep(next_send - now)
        else:
            next_send = now
    write_stats()
    for c in clients:
        c.close()
    sent = st["ping_sent"] + st["find_sent"]
    answered = st["ping_answered"] + st["find_answered"]
    print("dht_load: sent=%d answered=%d lost=%d ping=%d/%d find=%d/%d storage=%d/%d max_ms=%.1f"
          % (sent, answered, sent - answered, st["ping_answered"], st["ping_sent"],
             st["find_answered"], st["find_sent"], st["storage_answered"], st["storage_sent"],
             max_ms), flush=True)
    return 0 if answered == sent and sent >= args.min_queries else 1


if __name__ == "__main__":
    sys.exit(main())
