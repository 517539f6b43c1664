#!/usr/bin/python3
"""udp_echo.py: a UDP echo client for the lab tests (Debian's /usr/bin/python3, stdlib only).

    udp_echo.py HOST PORT COUNT [--interval S] [--timeout S] [--min-ratio R] [--seed N]

Sends COUNT datagrams to HOST:PORT one after another (stop and wait: the next one goes when
the echo of the previous came back or --timeout passed, and never sooner than --interval
after it), each with a distinct payload (sequence number + deterministic random bytes of
varying length), and counts the echoes whose payload is byte for byte the one sent. Late
echoes of earlier datagrams still count. Prints `sent N received M` and exits 0 when
M >= R * N. Bounded: COUNT <= 100000, at most COUNT * (timeout + interval) seconds.
Run it inside the lab namespace (ip netns exec snlab ...); HOST is the appliance.
"""
import argparse
import random
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("--interval", type=float, default=0.005)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--min-ratio", type=float, default=0.99)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    if not 0 < a.count <= 100000:
        sys.exit("udp_echo.py: COUNT must be 1..100000")

    info = socket.getaddrinfo(a.host, a.port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(info[0], socket.SOCK_DGRAM)
    sock.connect(info[4])
    rng = random.Random(a.seed)
    sent = {}
    received = set()
    bad = 0

    def drain(deadline, want):
        nonlocal bad
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            sock.settimeout(left)
            try:
                data = sock.recv(65535)
            except socket.timeout:
                return
            except ConnectionRefusedError:  # ICMP port unreachable: keep waiting
                continue
            seq = int.from_bytes(data[:4], "big") if len(data) >= 4 else -1
            if seq in sent and sent[seq] == data:
                received.add(seq)
                if seq == want:
                    return
            else:
                bad += 1

    for seq in range(a.count):
        payload = seq.to_bytes(4, "big") + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
        sent[seq] = payload
        start = time.monotonic()
        try:
            sock.send(payload)
        except OSError as e:
            print("send %d: %s" % (seq, e), file=sys.stderr)
        drain(start + a.timeout, seq)
        rest = start + a.interval - time.monotonic()
        if rest > 0:
            time.sleep(rest)  # pacing, so the punt policer sees a steady rate
    drain(time.monotonic() + a.timeout, -1)

    n = len(received)
    print("sent %d received %d bad %d" % (a.count, n, bad))
    sys.exit(0 if n >= a.min_ratio * a.count else 1)


if __name__ == "__main__":
    main()
