"""dht_bad_input.py: hostile and broken OpenDHT datagrams against the appliance. Run inside
the lab namespace with /usr/bin/python3:

  dht_bad_input.py APP [--port 4222] [--network 94] [--puts 300]

Sends, from one UDP socket (one source address):
  - datagrams the fast path must drop with a reason: truncated msgpack, nesting 40 deep, wrong
    types (id as a string, t as a map, not a map at all, 0xc1), huge declared lengths
    (bin32/str32/array32/map32 headers far past the datagram), a wrong network id and none;
  - requests control must refuse with OpenDHT's error codes: put and listen with a bad token
    (401), get and put without h (203), a value with id 0 (203), refresh of an unknown key
    (404);
  - a value of 65537 bytes announced for fragments (over OpenDHT's 64 KiB: refused), a
    fragment nobody waits for, a put with a value that does not parse;
  - --puts small values with one token, more than the per-source value quota allows.
Then checks that the appliance still answers a ping. Prints one line per check; exit 0 when
every expected answer came (drops are checked by the caller in the metrics).
"""
import argparse
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dht_wire as w  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app")
    ap.add_argument("--port", type=int, default=4222)
    ap.add_argument("--network", type=int, default=94)
    ap.add_argument("--puts", type=int, default=300)
    args = ap.parse_args()
    c = w.Client(args.app, args.port, args.network)
    failed = 0

    def check(name, ok, detail=""):
        nonlocal failed
        print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
        failed += 0 if ok else 1

    def error_of(r):
        return tuple(r["e"][:2]) if r and "e" in r and isinstance(r["e"], list) else None

    check("appliance answers a ping", c.call("ping", {}) is not None)

    # ---- dropped by the fast path (no answer) ----
    ping = w.pack({"a": {"id": c.id}, "q": "ping", "t": 1, "y": "q", "v": "RNG1",
                   "n": args.network})
    junk = {
        "truncated": [ping[:len(ping) // 2], ping[:-1]],
        "too_deep": [w.pack({"a": {"id": c.id, "x": w.Raw(b"\x91" * 40 + b"\xc0")},
                             "q": "ping", "t": 2, "y": "q", "v": "RNG1", "n": args.network})],
        "malformed": [
            w.pack({"a": {"id": "not-a-bin-id"}, "q": "ping", "t": 3, "y": "q",
                    "n": args.network}),
            w.pack({"a": {"id": c.id}, "q": "ping", "t": {"x": 1}, "y": "q",
                    "n": args.network}),
            b"\x93\x01\x02\x03",
            b"\x81\xc1\xc0",
        ],
        "huge_lengths": [
            b"\x81\xa1a\xc6\xff\xff\xff\xf0" + b"x" * 8,      # bin32 of 4 GiB
            b"\x81\xa1a\xdb\x7f\xff\xff\xff" + b"x" * 8,      # str32
            b"\x81\xa1a\xdd\x7f\xff\xff\xff\xc0",            # array32 of 2^31 elements
            b"\xdf\x7f\xff\xff\xff\xa1a\xc0",                 # map32 at the top
        ],
        "wrong_network": [
            w.pack({"a": {"id": c.id}, "q": "ping", "t": 4, "y": "q", "v": "RNG1",
                    "n": args.network + 1}),
            w.pack({"a": {"id": c.id}, "q": "ping", "t": 5, "y": "q", "v": "RNG1"}),
        ],
    }
    for kind, datagrams in junk.items():
        answered = 0
        for d in datagrams:
            c.send_raw(d)
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                # control may ping us (liveness check of a new node): only replies count
                data, m = c.recv(end - time.monotonic())
                if data is not None and (m is None or m.get("y") != "q"):
                    answered += 1
        check("no answer to %d %s datagram(s)" % (len(datagrams), kind), answered == 0)

    # ---- refused by control with OpenDHT's error codes ----
    key = os.urandom(20)
    bad_token = os.urandom(32)
    r = c.call("put", {"h": key, "values": [w.plain_value(7, b"x")], "token": bad_token})
    check("put with a wrong token: 401", error_of(r) == (401, "Put with wrong token"),
          repr(error_of(r)))
    r = c.call("listen", {"ve": 1, "h": key, "token": bad_token, "sid": 1})
    check("listen with a wrong token: 401", error_of(r) == (401, "Listen with wrong token"),
          repr(error_of(r)))
    r = c.call("get", {})
    check("get without h: 203", error_of(r) == (203, "Get_values with no info_hash"),
          repr(error_of(r)))
    token = c.token(key)
    check("get gives a 32-byte token", isinstance(token, bytes) and len(token) == 32)
    # a token made for another port is not ours
    other = w.Client(args.app, args.port, args.network)
    r = other.call("put", {"h": key, "values": [w.plain_value(8, b"x")], "token": token})
    check("put with another port's token: 401", error_of(r) == (401, "Put with wrong token"),
          repr(error_of(r)))
    other.close()
    r = c.call("put", {"values": [w.plain_value(7, b"x")], "token": token})
    check("put without h: 203", error_of(r) == (203, "Put with no info_hash"),
          repr(error_of(r)))
    r = c.call("put", {"h": key, "values": [w.plain_value(0, b"x")], "token": token})
    check("put of value id 0: 203", error_of(r) == (203, "Put with invalid id"),
          repr(error_of(r)))
    r = c.call("refresh", {"h": os.urandom(20), "vid": 5, "token": token})
    check("refresh of an unknown key: 404",
          error_of(r) == (404, "Access operation for unknown storage"), repr(error_of(r)))
    r = c.call("put", {"h": key, "values": [{"id": 9, "dat": {"nobody": 1}}], "token": token})
    check("put of a value that does not parse: no confirmation", r is None or "e" in r)

    # ---- a value over 64 KiB announced for fragments (OpenDHT skips sizes over 64 KiB +
    # 32; the appliance's parser refuses the put): no answer, the fragments are orphans ----
    big = w.pack(w.plain_value(11, os.urandom(65537)))
    tid = c.next_tid()
    c.send_raw(w.pack({"a": {"id": c.id, "h": key, "values": [len(big)], "token": token},
                       "q": "put", "t": tid, "y": "q", "v": "RNG1", "n": args.network}))
    for off in range(0, len(big), 1280):
        c.send_raw(w.pack({"n": args.network, "y": "p", "t": tid,
                           "p": {0: {"o": off, "d": big[off:off + 1280]}}}))
        time.sleep(0.002)  # pace: stays under the per-source punt rate
    r = c.wait(tid, 1.0)
    check("oversized value: no confirmation", r is None)
    r = c.call("get", {"h": key})
    vals = (r or {}).get("r", {}).get("values") or []
    check("oversized value not stored", not any(
        isinstance(v, dict) and v.get("id") == 11 for v in vals))
    # a fragment nobody waits for
    c.send_raw(w.pack({"n": args.network, "y": "p", "t": 999999,
                       "p": {0: {"o": 0, "d": b"orphan"}}}))

    # ---- per-source quota ----
    qkey = os.urandom(20)
    qtoken = c.token(qkey)
    for i in range(args.puts):
        c.query("put", {"h": qkey, "values": [w.plain_value(1000 + i, b"q%d" % i)],
                        "token": qtoken})
        time.sleep(0.002)
        while c.recv(0.0)[0] is not None:  # drain confirmations
            pass
    end = time.monotonic() + 5
    while time.monotonic() < end and c.recv(0.2)[0] is not None:
        pass
    # a get selecting the ids only ("fileds" answer); the count is checked in the metrics
    r = c.call("get", {"h": qkey, "q": {"w": [], "s": [1]}})
    fields = (r or {}).get("r", {}).get("fileds")
    check("get with a field selection answers ids", isinstance(fields, dict) and
          fields.get("f") == [1] and len(fields.get("v", [])) > 0)
    check("appliance still answers a ping", c.call("ping", {}) is not None)
    print("%d failed" % failed, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
