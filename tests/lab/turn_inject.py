#!/usr/bin/python3
"""turn_inject.py: install TURN allocations, permissions and channels in a running
supernode-dataplane over its control channel (common/sn_channel.h), as control's TURN side
will, so the fast path can be tested before (or without) control.

The dataplane accepts one control at a time: stop supernode-control first. As a module:

    ch = Channel("/run/supernode/channel.sock")
    ch.alloc_add(1, client=("198.18.0.2", 40000), server=("198.18.0.1", 3478),
                 relay4=50000, relay6=50001, lifetime=600)
    ch.perm_add(1, "198.18.0.2", lifetime=300)
    ch.chan_add(1, 0x4000, ("198.18.0.2", 5000), lifetime=600)
    ch.dump(SN_TABLE_TURN_ALLOC)   # [(key bytes, value bytes), ...]

As a command (one command per invocation; the connection closes after it):

    turn_inject.py SOCKET alloc ID CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT RELAY4 RELAY6 [LIFETIME]
    turn_inject.py SOCKET perm ID PEER_IP [LIFETIME]
    turn_inject.py SOCKET chan ID NUMBER PEER_IP PEER_PORT [LIFETIME]
    turn_inject.py SOCKET del-alloc ID | clear | dump

Times are CLOCK_REALTIME ns, as the dataplane compares them. Exit status 1 when the
dataplane refuses a command (its errno is printed)."""
import errno
import ipaddress
import os
import select
import socket
import struct
import sys
import time

MAGIC = 0x4E53
VERSION = 1
(HELLO, ERROR, TABLE_CMD, TABLE_ACK, DUMP_REQ, DUMP_ENTRY, DUMP_END, PUNT, INJECT,
 KEEPALIVE) = range(1, 11)
SN_TABLE_TURN_ALLOC, SN_TABLE_TURN_PERM, SN_TABLE_TURN_CHANNEL = 2, 3, 4
OP_ADD, OP_DEL, OP_CLEAR = 1, 2, 3
ROLE_CONTROL = 2
HDR = struct.Struct("<HBBIII")
ALLOC_VALUE_LEN = 88


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


def addr(ip):
    """(family, 16 bytes) of an IP string."""
    a = ipaddress.ip_address(ip)
    if a.version == 4:
        return socket.AF_INET, a.packed + bytes(12)
    return socket.AF_INET6, a.packed


def tuple_bytes(src, dst):
    """struct sn_udp_tuple: family, pad, src_port, dst_port (network order), pad2, src, dst."""
    fam, s = addr(src[0])
    fam2, d = addr(dst[0])
    assert fam == fam2, "client and server addresses of one family"
    return (struct.pack("<BB", fam, 0) + struct.pack(">HH", src[1], dst[1]) + bytes(2) + s +
            d)


def parse_tuple(b):
    fam = b[0]
    sport, dport = struct.unpack(">HH", b[2:6])
    n = 4 if fam == socket.AF_INET else 16
    src = str(ipaddress.ip_address(b[8:8 + n]))
    dst = str(ipaddress.ip_address(b[24:24 + n]))
    return fam, (src, sport), (dst, dport)


def parse_alloc_value(v):
    fam, client, server = parse_tuple(v[:40])
    port_idx, r4, r6, flags, expires, tpp, tpb, tcp, tcb = struct.unpack("<HHHHQQQQQ", v[40:88])
    return dict(family=fam, client=client, server=server, port_idx=port_idx, relay4=r4,
                relay6=r6, expires_ns=expires, to_peer_packets=tpp, to_peer_bytes=tpb,
                to_client_packets=tcp, to_client_bytes=tcb)


class ChannelError(Exception):
    pass


class Channel:
    def __init__(self, path, timeout=5.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.seq = 1
        self.timeout = timeout
        body = struct.pack("<IIQHHI32s", ROLE_CONTROL, os.getpid(), 0, 0, 0, 0,
                           b"turn_inject.py")
        self._send(HELLO, body)
        t, _, b = self._recv_type(HELLO)
        self.epoch = struct.unpack("<IIQ", b[:16])[2]

    def close(self):
        self.s.close()

    def _send(self, mtype, body):
        seq = self.seq
        self.seq += 1
        self.s.send(HDR.pack(MAGIC, VERSION, mtype, HDR.size + len(body), seq, 0) + body)
        return seq

    def _recv(self):
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelError("no answer from the dataplane")
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                continue
            m = self.s.recv(65536)
            if not m:
                raise ChannelError("dataplane closed the channel")
            magic, ver, mtype, length, seq, _ = HDR.unpack(m[:HDR.size])
            if magic != MAGIC or length != len(m):
                raise ChannelError("bad message from the dataplane")
            return mtype, seq, m[HDR.size:]

    def _recv_type(self, want):
        while True:
            mtype, seq, body = self._recv()
            if mtype == ERROR:
                bad, err = struct.unpack("<Ii", body[:8])
                raise ChannelError("ERROR %d for seq %d: %s" %
                                   (err, bad, body[8:].split(b"\0")[0].decode()))
            if mtype == want:
                return mtype, seq, body
            # PUNTs and KEEPALIVEs are not ours to handle: skip them.

    def table(self, table, op, key=b"", val=b""):
        """Sends one TABLE_CMD; returns (result, entries) from its TABLE_ACK."""
        body = struct.pack("<HBBHH", table, op, 0, len(key), len(val)) + key + val
        seq = self._send(TABLE_CMD, body)
        while True:
            _, _, b = self._recv_type(TABLE_ACK)
            cmd_seq, result, entries = struct.unpack("<IiI", b[:12])
            if cmd_seq == seq:
                return result, entries

    def check(self, what, rc):
        if rc[0] != 0:
            raise ChannelError("%s refused: %s" % (what, errno.errorcode.get(-rc[0], rc[0])))
        return rc

    def alloc_add(self, alloc_id, client, server, relay4, relay6, lifetime=600.0, port_idx=0,
                  expires_ns=None):
        exp = expires_ns if expires_ns is not None else now_ns() + int(lifetime * 1e9)
        val = (tuple_bytes(client, server) +
               struct.pack("<HHHHQ", port_idx, relay4, relay6, 0, exp) + bytes(32))
        assert len(val) == ALLOC_VALUE_LEN
        return self.table(SN_TABLE_TURN_ALLOC, OP_ADD, struct.pack("<I", alloc_id), val)

    def alloc_del(self, alloc_id):
        return self.table(SN_TABLE_TURN_ALLOC, OP_DEL, struct.pack("<I", alloc_id))

    def perm_key(self, alloc_id, peer_ip):
        fam, a = addr(peer_ip)
        return struct.pack("<IB3x", alloc_id, fam) + a

    def perm_add(self, alloc_id, peer_ip, lifetime=300.0, expires_ns=None):
        exp = expires_ns if expires_ns is not None else now_ns() + int(lifetime * 1e9)
        return self.table(SN_TABLE_TURN_PERM, OP_ADD, self.perm_key(alloc_id, peer_ip),
                          struct.pack("<Q", exp))

    def perm_del(self, alloc_id, peer_ip):
        return self.table(SN_TABLE_TURN_PERM, OP_DEL, self.perm_key(alloc_id, peer_ip))

    def chan_add(self, alloc_id, number, peer, lifetime=600.0, expires_ns=None):
        exp = expires_ns if expires_ns is not None else now_ns() + int(lifetime * 1e9)
        fam, a = addr(peer[0])
        val = struct.pack("<BB", fam, 0) + struct.pack(">H", peer[1]) + a + bytes(4) + \
            struct.pack("<Q", exp)
        return self.table(SN_TABLE_TURN_CHANNEL, OP_ADD, struct.pack("<IHH", alloc_id, number, 0),
                          val)

    def chan_del(self, alloc_id, number):
        return self.table(SN_TABLE_TURN_CHANNEL, OP_DEL, struct.pack("<IHH", alloc_id, number, 0))

    def clear(self):
        return self.table(SN_TABLE_TURN_ALLOC, OP_CLEAR)

    def dump(self, table):
        """[(key, value)] of one table."""
        self._send(DUMP_REQ, struct.pack("<HH", table, 0))
        out = []
        while True:
            mtype, _, b = self._recv()
            if mtype == ERROR:
                raise ChannelError("dump refused")
            if mtype == DUMP_ENTRY:
                t, op, _, kl, vl = struct.unpack("<HBBHH", b[:8])
                if t == table:
                    out.append((b[8:8 + kl], b[8 + kl:8 + kl + vl]))
            elif mtype == DUMP_END:
                return out


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    ch = Channel(argv[1])
    cmd, a = argv[2], argv[3:]
    try:
        if cmd == "alloc":
            rc = ch.alloc_add(int(a[0]), (a[1], int(a[2])), (a[3], int(a[4])), int(a[5]),
                              int(a[6]), float(a[7]) if len(a) > 7 else 600.0)
        elif cmd == "perm":
            rc = ch.perm_add(int(a[0]), a[1], float(a[2]) if len(a) > 2 else 300.0)
        elif cmd == "chan":
            rc = ch.chan_add(int(a[0]), int(a[1], 0), (a[2], int(a[3])),
                             float(a[4]) if len(a) > 4 else 600.0)
        elif cmd == "del-alloc":
            rc = ch.alloc_del(int(a[0]))
        elif cmd == "clear":
            rc = ch.clear()
        elif cmd == "dump":
            for t in (SN_TABLE_TURN_ALLOC, SN_TABLE_TURN_PERM, SN_TABLE_TURN_CHANNEL):
                for k, v in ch.dump(t):
                    if t == SN_TABLE_TURN_ALLOC:
                        print("alloc", struct.unpack("<I", k)[0], parse_alloc_value(v))
                    else:
                        print("table", t, k.hex(), v.hex())
            return 0
        else:
            print("unknown command %s" % cmd, file=sys.stderr)
            return 2
    finally:
        ch.close()
    if rc[0] != 0:
        print("refused: %s" % errno.errorcode.get(-rc[0], rc[0]), file=sys.stderr)
        return 1
    print("ok, %d entries" % rc[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
