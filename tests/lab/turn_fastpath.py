#!/usr/bin/python3
"""turn_fastpath.py: the TURN fast path end to end, run inside the lab namespace while no
supernode-control is connected (the test installs allocations itself with turn_inject.py).

    ip netns exec NS turn_fastpath.py --channel RUNDIR/channel.sock \\
        --app4 198.18.0.1 --app6 2001:db8:5e::1 --peer4 198.18.0.2 --peer6 2001:db8:5e::2

Clients and peers are UDP sockets on the kernel side of the lab port. For an IPv4 client and
an IPv6 client, each with IPv4 and IPv6 relayed addresses, it checks: ChannelData client ->
peer and peer -> client (IPv4 and IPv6 peers), Send indication -> peer and peer -> Data
indication (no channel bound), each with the relayed address as the peer sees it and the
XOR-PEER-ADDRESS the client sees; the drops the fast path must make (no permission, expired
permission, unbound channel, deleted allocation); and the per-allocation counters of the
DUMP. Every wait polls with a deadline; the first packet to an unknown neighbour may be
dropped while the dataplane resolves it, so sends are retried until the deadline."""
import argparse
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_inject as ti  # noqa: E402

COOKIE = 0x2112A442
FAILS = []


def log(msg):
    print("[turn_fastpath] %s" % msg, file=sys.stderr, flush=True)


def check(cond, what):
    if cond:
        log("ok   %s" % what)
    else:
        log("FAIL %s" % what)
        FAILS.append(what)


def udp(family, ip):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((ip, 0))
    s.setblocking(False)
    return s


def recv_until(sock, deadline, want=None):
    """First datagram (data, addr) accepted by want(data, addr), or None at the deadline."""
    while time.monotonic() < deadline:
        try:
            data, a = sock.recvfrom(65536)
        except BlockingIOError:
            time.sleep(0.005)
            continue
        if want is None or want(data, a):
            return data, a
    return None


def exchange(tx, dst, payload, rx, want, timeout=3.0):
    """Sends payload from tx to dst until rx gets a datagram `want` accepts (the first packets
    may meet an unresolved neighbour). Returns (data, addr) or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tx.sendto(payload, dst)
        got = recv_until(rx, min(deadline, time.monotonic() + 0.25), want)
        if got:
            return got
    return None


def silent(tx, dst, payload, rx, window=0.4):
    """True when nothing arrives at rx for `window` s after sending payload (drops are
    checked by absence here, by counters in the shell test)."""
    tx.sendto(payload, dst)
    return recv_until(rx, time.monotonic() + window) is None


def drain(*socks):
    for s in socks:
        while True:
            try:
                s.recvfrom(65536)
            except BlockingIOError:
                break


def chandata(channel, data):
    return struct.pack(">HH", channel, len(data)) + data


def xor_addr(ip, port, tid):
    fam, a = ti.addr(ip)
    xport = port ^ (COOKIE >> 16)
    if fam == socket.AF_INET:
        x = bytes(b ^ k for b, k in zip(a[:4], struct.pack(">I", COOKIE)))
        return struct.pack(">BBH", 0, 1, xport) + x
    key = struct.pack(">I", COOKIE) + tid
    x = bytes(b ^ k for b, k in zip(a, key))
    return struct.pack(">BBH", 0, 2, xport) + x


def attr(t, v):
    return struct.pack(">HH", t, len(v)) + v + bytes((4 - len(v) % 4) % 4)


def send_indication(peer_ip, peer_port, data):
    tid = os.urandom(12)
    body = attr(0x0012, xor_addr(peer_ip, peer_port, tid)) + attr(0x0013, data)
    return struct.pack(">HHI", 0x0016, len(body), COOKIE) + tid + body


def parse_data_indication(msg):
    """(peer_ip, peer_port, data) of a Data indication, or None."""
    if len(msg) < 20:
        return None
    mtype, length, cookie = struct.unpack(">HHI", msg[:8])
    if mtype != 0x0017 or cookie != COOKIE or length + 20 != len(msg):
        return None
    tid = msg[8:20]
    off, peer, data = 20, None, None
    while off + 4 <= len(msg):
        t, ln = struct.unpack(">HH", msg[off:off + 4])
        v = msg[off + 4:off + 4 + ln]
        if t == 0x0012:
            fam, xport = v[1], struct.unpack(">H", v[2:4])[0] ^ (COOKIE >> 16)
            if fam == 1:
                ip = bytes(b ^ k for b, k in zip(v[4:8], struct.pack(">I", COOKIE)))
            else:
                ip = bytes(b ^ k for b, k in zip(v[4:20], struct.pack(">I", COOKIE) + tid))
            peer = (socket.inet_ntop(socket.AF_INET if fam == 1 else socket.AF_INET6, ip), xport)
        elif t == 0x0013:
            data = v
        off += 4 + ln + (4 - ln % 4) % 4
    if peer is None or data is None:
        return None
    return peer[0], peer[1], data


def norm(a):
    """(ip, port) of a socket address, IPv6 flow info and scope dropped."""
    return (a[0], a[1])


def run(args):
    ch = ti.Channel(args.channel)
    ti_ok = ch.clear()
    check(ti_ok[0] == 0, "TURN tables cleared")
    peer4 = udp(socket.AF_INET, args.peer4)
    peer6 = udp(socket.AF_INET6, args.peer6)
    p4 = norm(peer4.getsockname())
    p6 = norm(peer6.getsockname())
    relay = {1: (50000, 50001), 2: (50002, 50003)}
    clients = {
        1: (udp(socket.AF_INET, args.peer4), args.app4),
        2: (udp(socket.AF_INET6, args.peer6), args.app6),
    }
    for aid, (cs, server_ip) in clients.items():
        c = norm(cs.getsockname())
        ch.check("alloc %d" % aid,
                 ch.alloc_add(aid, c, (server_ip, 3478), relay[aid][0], relay[aid][1], 600))
        ch.check("perm %d v4" % aid, ch.perm_add(aid, args.peer4, 300))
        ch.check("perm %d v6" % aid, ch.perm_add(aid, args.peer6, 300))
        ch.check("chan %d v4" % aid, ch.chan_add(aid, 0x4000, p4, 600))
        ch.check("chan %d v6" % aid, ch.chan_add(aid, 0x5001, p6, 600))
    sent = {1: [0, 0, 0, 0], 2: [0, 0, 0, 0]}  # to_peer pkts, bytes, to_client pkts, bytes

    for aid, (cs, server_ip) in clients.items():
        fam = "IPv4" if cs.family == socket.AF_INET else "IPv6"
        server = (server_ip, 3478)
        r4 = (args.app4, relay[aid][0])
        r6 = (args.app6, relay[aid][1])
        for pname, ps, paddr, chan, raddr in (("IPv4", peer4, p4, 0x4000, r4),
                                              ("IPv6", peer6, p6, 0x5001, r6)):
            what = "%s client, %s peer" % (fam, pname)
            drain(cs, peer4, peer6)
            # ChannelData client -> peer: the data, from the relayed address.
            data = os.urandom(160)
            got = exchange(cs, server, chandata(chan, data), ps, lambda d, a: d == data)
            check(got is not None and norm(got[1]) == raddr,
                  "%s: ChannelData 0x%04x -> peer from relayed %s" % (what, chan, raddr))
            if got:
                sent[aid][0] += 1
                sent[aid][1] += len(data)
            # Peer -> client: ChannelData on the bound channel, from the server address.
            data = os.urandom(77)
            got = exchange(ps, raddr, data, cs, lambda d, a: d == chandata(chan, data))
            check(got is not None and norm(got[1]) == server,
                  "%s: peer -> client as ChannelData 0x%04x" % (what, chan))
            if got:
                sent[aid][2] += 1
                sent[aid][3] += len(data)
        # Send indication to a peer address with no channel, and the Data indication back.
        for pname, ps, ip, raddr in (("IPv4", peer4, args.peer4, r4), ("IPv6", peer6, args.peer6, r6)):
            other = udp(ps.family, ip)
            oaddr = norm(other.getsockname())
            data = os.urandom(33)
            got = exchange(cs, server, send_indication(oaddr[0], oaddr[1], data), other,
                           lambda d, a: d == data)
            check(got is not None and norm(got[1]) == raddr,
                  "%s client, %s peer: Send indication -> peer" % (fam, pname))
            if got:
                sent[aid][0] += 1
                sent[aid][1] += len(data)
            data = os.urandom(41)
            got = exchange(other, raddr, data, cs,
                           lambda d, a: (parse_data_indication(d) or (0, 0, b""))[2] == data)
            ok = got is not None
            if ok:
                pip, pport, _ = parse_data_indication(got[0])
                ok = (ipaddr_eq(pip, oaddr[0]) and pport == oaddr[1] and
                      norm(got[1]) == server and len(got[0]) % 4 == 0)
                sent[aid][2] += 1
                sent[aid][3] += len(data)
            check(ok, "%s client, %s peer: peer -> client as Data indication (XOR-PEER-ADDRESS, "
                  "padded)" % (fam, pname))
            other.close()

    # Drops: no permission, expired permission, unbound channel, deleted allocation.
    cs, server_ip = clients[1]
    server = (server_ip, 3478)
    r4 = (args.app4, relay[1][0])
    ch.check("perm del", ch.perm_del(1, args.peer4))
    drain(cs, peer4)
    check(silent(peer4, r4, b"no permission", cs), "peer without permission: dropped")
    check(silent(cs, server, chandata(0x4000, b"no permission"), peer4),
          "ChannelData to a peer without permission: dropped")
    ch.check("perm expired", ch.perm_add(1, args.peer4, expires_ns=ti.now_ns() - 1))
    check(silent(peer4, r4, b"expired", cs), "peer with an expired permission: dropped")
    ch.check("perm again", ch.perm_add(1, args.peer4, 300))
    check(silent(cs, server, chandata(0x4abc, b"unbound"), peer4),
          "ChannelData on an unbound channel: dropped")
    got = exchange(cs, server, chandata(0x4000, b"again"), peer4, lambda d, a: d == b"again")
    check(got is not None, "permission back: relayed again")
    if got:
        sent[1][0] += 1
        sent[1][1] += 5

    # Per-allocation counters in the dump (summed over workers by the main lcore).
    dump = {struct.unpack("<I", k)[0]: ti.parse_alloc_value(v)
            for k, v in ch.dump(ti.SN_TABLE_TURN_ALLOC)}
    for aid in (1, 2):
        d = dump.get(aid)
        want = sent[aid]
        have = d and [d["to_peer_packets"], d["to_peer_bytes"], d["to_client_packets"],
                      d["to_client_bytes"]]
        # exchange() may have sent a packet more than once (first one dropped while the
        # neighbour was resolved, or a duplicate): at least what was received.
        check(d is not None and all(h >= w for h, w in zip(have, want)) and
              have[0] <= want[0] + 20,
              "alloc %d dump counters %s >= received %s" % (aid, have, want))
    check(dump.get(1) and dump[1]["client"] == norm(clients[1][0].getsockname()),
          "dump: alloc 1 client tuple")
    n_perm = len(ch.dump(ti.SN_TABLE_TURN_PERM))
    n_chan = len(ch.dump(ti.SN_TABLE_TURN_CHANNEL))
    check(n_perm == 4 and n_chan == 4, "dump: 4 permissions, 4 channels (%d, %d)" % (n_perm, n_chan))

    # Peers at addresses the dataplane has never heard from: the first packets meet an
    # unknown neighbour (dropped, neigh_unresolved), the worker asks the main lcore for an
    # ARP request / neighbour solicitation, and the retries get through.
    for far in (args.far4, args.far6):
        if not far:
            continue
        fs = udp(socket.AF_INET6 if ":" in far else socket.AF_INET, far)
        faddr = norm(fs.getsockname())
        ch.check("perm far", ch.perm_add(1, far, 300))
        ch.check("chan far", ch.chan_add(1, 0x4100 if ":" not in far else 0x4101, faddr, 600))
        num = 0x4100 if ":" not in far else 0x4101
        raddr = (args.app4, relay[1][0]) if ":" not in far else (args.app6, relay[1][1])
        got = exchange(cs, server, chandata(num, b"far away"), fs, lambda d, a: d == b"far away",
                       timeout=5.0)
        check(got is not None and norm(got[1]) == raddr,
              "peer at %s (unknown neighbour): resolved, then relayed" % far)
        if got:
            sent[1][0] += 1
            sent[1][1] += 8
        ch.check("chan far del", ch.chan_del(1, num))
        ch.check("perm far del", ch.perm_del(1, far))
        fs.close()

    ch.check("alloc del", ch.alloc_del(1))
    check(silent(cs, server, chandata(0x4000, b"deleted"), peer4),
          "ChannelData after the allocation was deleted: dropped")
    check(silent(peer4, r4, b"deleted", cs), "peer data after the allocation was deleted: dropped")
    check(len(ch.dump(ti.SN_TABLE_TURN_PERM)) == 2, "deleting the allocation removed its permissions")
    if not args.keep:
        ch.clear()
    ch.close()
    return 1 if FAILS else 0


def ipaddr_eq(a, b):
    return socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a) == \
        socket.inet_pton(socket.AF_INET6 if ":" in b else socket.AF_INET, b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--channel", required=True)
    ap.add_argument("--app4", default="198.18.0.1")
    ap.add_argument("--app6", default="2001:db8:5e::1")
    ap.add_argument("--peer4", default="198.18.0.2")
    ap.add_argument("--peer6", default="2001:db8:5e::2")
    ap.add_argument("--far4", help="an IPv4 peer address on the lab link the dataplane has not seen")
    ap.add_argument("--far6", help="an IPv6 peer address on the lab link the dataplane has not seen")
    ap.add_argument("--keep", action="store_true", help="leave allocation 2 installed")
    args = ap.parse_args()
    rc = run(args)
    log("%s: %d check(s) failed" % ("FAIL" if rc else "PASS", len(FAILS)))
    return rc


if __name__ == "__main__":
    sys.exit(main())
