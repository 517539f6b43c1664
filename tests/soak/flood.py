"""flood.py: a bounded UDP flood burst at the appliance for the soak (tests/soak/soak.sh),
used when `supernode-bench flood` is not available. Run inside the lab namespace with
/usr/bin/python3:

  flood.py APP4 APP6 [--src4 IP] [--src6 IP] [--seconds 5] [--pps 10000]

For --seconds, at about --pps packets per second (paced in batches of 64), round-robin over
four kinds, each dropped by the dataplane with its own reason:
  closed   UDP to port 9 (no dispatch entry)           -> udp_port_closed
  turn     0xff... to port 3478 (neither STUN nor ChannelData) -> turn_demux
  dht      0xc1... to port 4222 (a byte msgpack never uses)    -> dht_malformed
  relay    to relay ports 49152+ (no allocation there)  -> turn_no_allocation
alternating IPv4 and IPv6, from --src4/--src6 when given (addresses of the namespace that
hold no TURN permission, so relay-port packets are never relayed). Prints `flood: sent=N closed=a turn=b dht=c relay=d errors=e`
(errors: sendto failures, e.g. a full socket buffer; those never left the host).
"""
import argparse
import os
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app4")
    ap.add_argument("app6")
    ap.add_argument("--src4", default="0.0.0.0")
    ap.add_argument("--src6", default="::")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--pps", type=int, default=10000)
    args = ap.parse_args()
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s4.bind((args.src4, 0))
    s6.bind((args.src6, 0))
    s4.setblocking(False)
    s6.setblocking(False)
    kinds = [
        ("closed", lambda i: 9, b"\x00" * 32),
        ("turn", lambda i: 3478, b"\xff" * 48),
        ("dht", lambda i: 4222, b"\xc1" + os.urandom(40)),
        ("relay", lambda i: 49152 + i % 16000, b"\x80" * 172),
    ]
    counts = {k[0]: 0 for k in kinds}
    errors = 0
    sent = 0
    batch = 64
    t0 = time.monotonic()
    end = t0 + args.seconds
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - t0) * args.pps)
        if sent >= due:
            time.sleep(min(batch / max(args.pps, 1), end - now))
            continue
        for _ in range(batch):
            name, port, payload = kinds[sent % len(kinds)]
            v6 = (sent // len(kinds)) % 2 == 1
            try:
                if v6:
                    s6.sendto(payload, (args.app6, port(sent)))
                else:
                    s4.sendto(payload, (args.app4, port(sent)))
                counts[name] += 1
            except (BlockingIOError, OSError):
                errors += 1
            sent += 1
    s4.close()
    s6.close()
    print("flood: sent=%d %s errors=%d" % (sum(counts.values()),
                                            " ".join("%s=%d" % kv for kv in counts.items()),
                                            errors), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
