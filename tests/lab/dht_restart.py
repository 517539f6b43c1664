"""dht_restart.py: one OpenDHT client socket across a restart of supernode-control. Run inside
the lab namespace with /usr/bin/python3:

  dht_restart.py APP GO_FILE [--port 4222] [--network 94] [--timeout 30]

Gets a write token (control answers the get) and stores a value, prints READY, then waits
(polling, with a deadline) until GO_FILE exists: the caller restarts control meanwhile. After
it: the dataplane answered pings all along, and a put with the token obtained before the
restart is accepted (the new control kept the dataplane's token secrets) and the value stored
before the restart is gone with the old control (storage is control's memory) while the new
one is served. Prints one line per check; exit 0 when all pass.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dht_wire as w  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app")
    ap.add_argument("go_file")
    ap.add_argument("--port", type=int, default=4222)
    ap.add_argument("--network", type=int, default=94)
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()
    c = w.Client(args.app, args.port, args.network)
    failed = 0

    def check(name, ok, detail=""):
        nonlocal failed
        print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
        failed += 0 if ok else 1

    key = os.urandom(20)
    token = c.token(key, 3.0)
    check("token before the restart", isinstance(token, bytes) and len(token) == 32)
    r = c.call("put", {"h": key, "values": [w.plain_value(1, b"before")], "token": token})
    check("put before the restart confirmed", r is not None and (r.get("r") or {}).get("vid") == 1)
    print("READY", flush=True)
    end = time.monotonic() + args.timeout
    pings = answered = 0
    while not os.path.exists(args.go_file) and time.monotonic() < end:
        pings += 1
        answered += c.call("ping", {}, 0.5) is not None
        time.sleep(0.1)
    check("control restarted in time", os.path.exists(args.go_file))
    check("the dataplane answered pings during the restart", pings > 0 and answered == pings,
          "%d/%d" % (answered, pings))
    r = None
    for _ in range(20):  # control may still be resyncing: a few tries, each with a deadline
        r = c.call("put", {"h": key, "values": [w.plain_value(2, b"after")], "token": token}, 1.0)
        if r is not None:
            break
    check("put with the pre-restart token accepted", r is not None and "e" not in r,
          repr(r.get("e") if r else None))
    r = c.call("get", {"h": key}, 2.0)
    vals = [v.get("id") for v in ((r or {}).get("r") or {}).get("values", []) if isinstance(v, dict)]
    check("the new value is served", 2 in vals, repr(vals))
    print("%d failed" % failed, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
