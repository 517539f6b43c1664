"""promotion_verify.py: a python3-opendht client reads a supernode invitation from the DHT and
verifies it with the appliance's public key (docs/operations.md, "Promotions").

  promotion_verify.py APP4 NODE_ID_HEX PUBKEY_PEM [--port 4222] [--network 94]
                      [--appliance APP_ID_HEX] [--timeout 20]

The invitation of node N is a DHT value under InfoHash.get("supernode-invite:" + N in 40
lowercase hex digits) (SHA-1 of that text). Its data is one line of JSON (the payload), a
newline, and the base64 Ed25519 signature of the payload line. Checks: the signature
verifies with PUBKEY_PEM, the payload names N as client (and APP_ID as appliance when given),
it is of type supernode-invite version 1 and not expired. Exit 0 when a valid invitation
was found; prints the payload.
"""
import argparse
import base64
import json
import sys
import time

import opendht as dht
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key


def verify(data, pub, node_hex, app_hex):
    """The payload dict when data is a valid invitation for node_hex, else raises ValueError."""
    try:
        line, sig = data.split(b"\n", 1)
        pub.verify(base64.b64decode(sig.strip(), validate=True), line)
    except (ValueError, InvalidSignature) as e:
        raise ValueError("bad signature: %r" % e)
    p = json.loads(line)
    if p.get("v") != 1 or p.get("type") != "supernode-invite":
        raise ValueError("not a version 1 invitation")
    if p.get("client") != node_hex:
        raise ValueError("for another client: %s" % p.get("client"))
    if app_hex and p.get("appliance") != app_hex:
        raise ValueError("from another appliance: %s" % p.get("appliance"))
    if p.get("expires", 0) <= time.time():
        raise ValueError("expired")
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app4")
    ap.add_argument("node_id")
    ap.add_argument("pubkey")
    ap.add_argument("--port", type=int, default=4222)
    ap.add_argument("--network", type=int, default=94)
    ap.add_argument("--appliance", default=None)
    ap.add_argument("--timeout", type=float, default=20)
    args = ap.parse_args()
    node_hex = args.node_id.lower()
    with open(args.pubkey, "rb") as f:
        pub = load_pem_public_key(f.read())

    r = dht.DhtRunner()
    c = dht.DhtConfig()
    c.setNetwork(args.network)
    r.run(port=0, config=c)
    r.bootstrap(args.app4, str(args.port))
    key = dht.InfoHash.get("supernode-invite:" + node_hex)
    found = None
    errors = []
    end = time.monotonic() + args.timeout
    try:
        while found is None and time.monotonic() < end:
            for v in r.get(key):
                try:
                    found = verify(bytes(v.data), pub, node_hex, args.appliance)
                    break
                except ValueError as e:
                    errors.append(str(e))
            if found is None:
                time.sleep(0.5)
    finally:
        r.join()
    if found is None:
        print("FAIL no valid invitation under %s (%s)" % (key, "; ".join(errors[-3:]) or
                                                          "nothing found"), flush=True)
        return 1
    print("ok   invitation for %s verified: %s" % (node_hex, json.dumps(found)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
