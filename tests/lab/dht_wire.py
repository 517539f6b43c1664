"""dht_wire.py: a raw OpenDHT 2.4.12 UDP client for the lab tests (run with /usr/bin/python3).

Debian's Python has no msgpack module, so this file carries a small MessagePack encoder and
decoder (the subset OpenDHT uses: nil, bool, ints, str, bin, array, map). Keys are str, ids
and tokens bin, as OpenDHT sends them. Every receive has a deadline; nothing loops forever.
"""
import os
import socket
import struct
import time

# ---------- msgpack ----------


class Raw(bytes):
    """Bytes that are already MessagePack (written as they are)."""


def pack(o):
    if isinstance(o, Raw):
        return bytes(o)
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 0x80:
            return bytes([o])
        if o >= 0:
            for fmt, tag, lim in (("B", 0xcc, 1 << 8), (">H", 0xcd, 1 << 16), (">I", 0xce, 1 << 32)):
                if o < lim:
                    return bytes([tag]) + struct.pack(fmt, o)
            return b"\xcf" + struct.pack(">Q", o)
        if o >= -32:
            return struct.pack("b", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, str):
        b = o.encode()
        n = len(b)
        if n < 32:
            return bytes([0xa0 | n]) + b
        if n < 256:
            return b"\xd9" + bytes([n]) + b
        return b"\xda" + struct.pack(">H", n) + b
    if isinstance(o, (bytes, bytearray)):
        n = len(o)
        if n < 256:
            return b"\xc4" + bytes([n]) + bytes(o)
        if n < 65536:
            return b"\xc5" + struct.pack(">H", n) + bytes(o)
        return b"\xc6" + struct.pack(">I", n) + bytes(o)
    if isinstance(o, (list, tuple)):
        n = len(o)
        h = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return h + b"".join(pack(x) for x in o)
    if isinstance(o, dict):
        n = len(o)
        h = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return h + b"".join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError(type(o))


class Unpacker:
    def __init__(self, data):
        self.d = data
        self.i = 0

    def take(self, n):
        if self.i + n > len(self.d):
            raise ValueError("truncated")
        b = self.d[self.i:self.i + n]
        self.i += n
        return b

    def value(self, depth=0):
        if depth > 64:
            raise ValueError("too deep")
        t = self.take(1)[0]
        if t < 0x80:
            return t
        if t >= 0xe0:
            return t - 256
        if 0x80 <= t <= 0x8f:
            return self.map(t & 15, depth)
        if 0x90 <= t <= 0x9f:
            return [self.value(depth + 1) for _ in range(t & 15)]
        if 0xa0 <= t <= 0xbf:
            return self.take(t & 31).decode(errors="replace")
        simple = {0xc0: None, 0xc2: False, 0xc3: True}
        if t in simple:
            return simple[t]
        lens = {0xc4: 1, 0xc5: 2, 0xc6: 4}
        if t in lens:
            n = int.from_bytes(self.take(lens[t]), "big")
            return bytes(self.take(n))
        ints = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h",
                0xd2: ">i", 0xd3: ">q"}
        if t in ints:
            return struct.unpack(ints[t], self.take(struct.calcsize(ints[t])))[0]
        strs = {0xd9: 1, 0xda: 2, 0xdb: 4}
        if t in strs:
            n = int.from_bytes(self.take(strs[t]), "big")
            return self.take(n).decode(errors="replace")
        if t in (0xdc, 0xdd):
            n = int.from_bytes(self.take(2 if t == 0xdc else 4), "big")
            return [self.value(depth + 1) for _ in range(n)]
        if t in (0xde, 0xdf):
            n = int.from_bytes(self.take(2 if t == 0xde else 4), "big")
            return self.map(n, depth)
        raise ValueError("type 0x%02x" % t)

    def map(self, n, depth):
        out = {}
        for _ in range(n):
            k = self.value(depth + 1)
            out[k if not isinstance(k, list) else tuple(k)] = self.value(depth + 1)
        return out


def unpack(data):
    u = Unpacker(data)
    v = u.value()
    if u.i != len(data):
        raise ValueError("trailing bytes")
    return v


def value_spans(data):
    """The packed elements of the first top-level array found under key path a/r.values:
    returns a list of raw element bytes (values are kept packed, as they were signed)."""
    u = Unpacker(data)
    return u


# ---------- OpenDHT ----------

def random_id():
    return os.urandom(20)


class Client:
    """One UDP socket talking OpenDHT to one node (the appliance)."""

    def __init__(self, host, port=4222, network=94, family=None, node_id=None):
        self.family = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.addr = (host, port)
        self.network = network
        self.id = node_id or random_id()
        self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
        self.sock.bind(("::" if self.family == socket.AF_INET6 else "0.0.0.0", 0))
        self.tid = int.from_bytes(os.urandom(2), "big") + 1

    def close(self):
        self.sock.close()

    def next_tid(self):
        self.tid += 1
        return self.tid

    def send_raw(self, data):
        self.sock.sendto(data, self.addr)

    def query(self, q, args, tid=None, network=None):
        tid = tid if tid is not None else self.next_tid()
        a = {"id": self.id}
        a.update(args)
        msg = {"a": a, "q": q, "t": tid, "y": "q", "v": "RNG1"}
        net = self.network if network is None else network
        if net:
            msg["n"] = net
        self.send_raw(pack(msg))
        return tid

    def recv(self, timeout=2.0):
        """Next datagram as (raw bytes, decoded message or None), or (None, None)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None, None
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                return None, None
            try:
                return data, unpack(data)
            except ValueError:
                return data, None

    def wait(self, tid, timeout=2.0):
        """The reply or error with transaction id tid, with its values reassembled from p
        fragments when they come that way. None on timeout."""
        end = time.monotonic() + timeout
        reply = None
        sizes = None
        parts = {}
        while time.monotonic() < end:
            data, m = self.recv(end - time.monotonic())
            if m is None:
                if data is None:
                    break
                continue
            if m.get("t") != tid:
                continue
            if m.get("y") == "p":
                for idx, part in m.get("p", {}).items():
                    buf = parts.setdefault(idx, bytearray())
                    if part.get("o") == len(buf):
                        buf += part.get("d", b"")
            else:
                reply = m
                vals = (m.get("r") or {}).get("values")
                if isinstance(vals, list) and vals and all(isinstance(v, int) for v in vals):
                    sizes = vals
            if reply is not None and (sizes is None or all(
                    len(parts.get(i, b"")) >= s for i, s in enumerate(sizes))):
                if sizes is not None:
                    reply["r"]["values"] = [unpack(bytes(parts[i])) for i in range(len(sizes))]
                return reply
        return reply if sizes is None else None

    def call(self, q, args, timeout=2.0, **kw):
        return self.wait(self.query(q, args, **kw), timeout)

    def token(self, key, timeout=2.0):
        r = self.call("get", {"h": key}, timeout)
        if not r or "r" not in r:
            return None
        return r["r"].get("token")


def plain_value(vid, data, vtype=0):
    return {"id": vid, "dat": {"body": {"type": vtype, "data": data}}}
