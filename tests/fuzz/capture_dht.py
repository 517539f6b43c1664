#!/usr/bin/python3
"""Capture real OpenDHT 2.4.12 messages on loopback into tests/fuzz/corpus/dht/.

Run with Debian's interpreter (/usr/bin/python3), which has python3-opendht:

    /usr/bin/python3 tests/fuzz/capture_dht.py [--out DIR] [--timeout SECONDS]

What it does, all inside this one process and on 127.0.0.1 / ::1 only:

  * starts four opendht.DhtRunner nodes with network id 94: B (the observed node),
    C and D (bootstrap to B directly) and A, which bootstraps to a recording UDP
    relay instead of to B. The relay forwards A<->B like a NAT (A sees B at the relay's
    A-facing port, B sees A at the relay's B-facing port) and records every datagram.
  * A does put (a small value and a 3000-byte one, which travels as value fragments),
    get and listen; C puts under the listened key so that B pushes an update to A.
  * a probe socket (IPv4 and IPv6) sends hand-made requests to B and records B's real
    replies: ping, find with and without `w`, get, get without `h` (error 203), listen
    and put with a bad token (error 401), refresh of an unknown value (error 404) and of
    a stored one, and a ping with the wrong network id (B stays silent).

Files are named NNN_<direction>_<kind>.bin: direction a2b / b2a (relayed real traffic)
or b2probe (B's reply to a probe); probe requests themselves are not real OpenDHT output
and are stored as NNN_probe2b_<kind>.bin. kind is q-<query>, r-<query answered>,
e-<code>, p (value fragment data) or u. The unit test test_dht_msg.c relies on these
names. Every wait polls a condition with a deadline; the whole run is bounded by
--timeout (SIGALRM). Nothing is started outside this process.
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

import opendht as dht

NETID = 94
AF_INET, AF_INET6 = 2, 10


# --- a small msgpack codec, enough for OpenDHT messages ----------------------------------

class Raw(bytes):
    """Already packed msgpack bytes."""


def pack(o):
    if isinstance(o, Raw):
        return bytes(o)
    if o is None:
        return b'\xc0'
    if o is True:
        return b'\xc3'
    if o is False:
        return b'\xc2'
    if isinstance(o, int):
        if 0 <= o < 0x80:
            return bytes([o])
        if 0 <= o <= 0xff:
            return b'\xcc' + bytes([o])
        if 0 <= o <= 0xffff:
            return b'\xcd' + struct.pack('>H', o)
        if 0 <= o <= 0xffffffff:
            return b'\xce' + struct.pack('>I', o)
        if o >= 0:
            return b'\xcf' + struct.pack('>Q', o)
        if o >= -32:
            return struct.pack('b', o)
        return b'\xd3' + struct.pack('>q', o)
    if isinstance(o, str):
        b = o.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        if len(b) <= 0xff:
            return b'\xd9' + bytes([len(b)]) + b
        return b'\xda' + struct.pack('>H', len(b)) + b
    if isinstance(o, (bytes, bytearray)):
        if len(o) <= 0xff:
            return b'\xc4' + bytes([len(o)]) + bytes(o)
        return b'\xc5' + struct.pack('>H', len(o)) + bytes(o)
    if isinstance(o, (list, tuple)):
        h = bytes([0x90 | len(o)]) if len(o) < 16 else b'\xdc' + struct.pack('>H', len(o))
        return h + b''.join(pack(x) for x in o)
    if isinstance(o, dict):
        h = bytes([0x80 | len(o)]) if len(o) < 16 else b'\xde' + struct.pack('>H', len(o))
        return h + b''.join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError(type(o))


def unpack(b, i=0):
    """Returns (object, next offset). str keys/values decode to str, bin to bytes."""
    t = b[i]
    i += 1
    if t < 0x80:
        return t, i
    if t >= 0xe0:
        return t - 0x100, i
    if 0x80 <= t <= 0x8f:
        return _map(b, i, t & 0xf)
    if 0x90 <= t <= 0x9f:
        return _arr(b, i, t & 0xf)
    if 0xa0 <= t <= 0xbf:
        n = t & 0x1f
        return b[i:i + n].decode(errors='replace'), i + n
    if t == 0xc0:
        return None, i
    if t in (0xc2, 0xc3):
        return t == 0xc3, i
    fixed = {0xcc: '>B', 0xcd: '>H', 0xce: '>I', 0xcf: '>Q',
             0xd0: '>b', 0xd1: '>h', 0xd2: '>i', 0xd3: '>q', 0xca: '>f', 0xcb: '>d'}
    if t in fixed:
        f = fixed[t]
        n = struct.calcsize(f)
        return struct.unpack(f, b[i:i + n])[0], i + n
    lens = {0xc4: 1, 0xc5: 2, 0xc6: 4, 0xd9: 1, 0xda: 2, 0xdb: 4}
    if t in lens:
        ln = lens[t]
        n = int.from_bytes(b[i:i + ln], 'big')
        i += ln
        v = b[i:i + n]
        return (bytes(v) if t <= 0xc6 else v.decode(errors='replace')), i + n
    if t in (0xdc, 0xdd):
        ln = 2 if t == 0xdc else 4
        return _arr(b, i + ln, int.from_bytes(b[i:i + ln], 'big'))
    if t in (0xde, 0xdf):
        ln = 2 if t == 0xde else 4
        return _map(b, i + ln, int.from_bytes(b[i:i + ln], 'big'))
    raise ValueError('msgpack type 0x%02x' % t)


def _arr(b, i, n):
    out = []
    for _ in range(n):
        v, i = unpack(b, i)
        out.append(v)
    return out, i


def _map(b, i, n):
    out = {}
    for _ in range(n):
        k, i = unpack(b, i)
        v, i = unpack(b, i)
        out[k if not isinstance(k, list) else str(k)] = v
    return out, i


def decode(b):
    try:
        m, end = unpack(b)
        return m if isinstance(m, dict) and end == len(b) else None
    except (ValueError, IndexError, struct.error):
        return None


# --- recording ----------------------------------------------------------------------------

class Recorder:
    def __init__(self, outdir):
        self.outdir = outdir
        self.seq = 0
        self.lock = threading.Lock()
        # (sender, tid) -> query name, to label replies with the query they answer
        self.pending = {}
        self.names = []

    def kind(self, direction, m, sender, receiver):
        if m is None:
            return 'raw'
        tid = m.get('t')
        if 'e' in m:
            e = m['e']
            code = e[0] if isinstance(e, list) and e else 'x'
            return 'e-%s' % code
        if 'r' in m:
            q = self.pending.get((receiver, tid), 'unknown')
            return 'r-' + q
        if 'p' in m:
            return 'p'
        if 'u' in m:
            return 'u'
        q = m.get('q', 'none')
        self.pending[(sender, tid)] = q
        return 'q-' + str(q)

    def record(self, direction, data, sender, receiver):
        with self.lock:
            k = self.kind(direction, decode(data), sender, receiver)
            name = '%03d_%s_%s.bin' % (self.seq, direction, k)
            self.seq += 1
            with open(os.path.join(self.outdir, name), 'wb') as f:
                f.write(data)
            self.names.append(name)
            return name


class Relay(threading.Thread):
    """Forwards A<->B and records each datagram. A talks to port P, B hears from port Q."""

    def __init__(self, rec, b_addr):
        super().__init__(daemon=True)
        self.rec = rec
        self.b_addr = b_addr
        self.pa = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.pa.bind(('127.0.0.1', 0))
        self.qb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.qb.bind(('127.0.0.1', 0))
        self.a_addr = None
        self.stop = False

    def port(self):
        return self.pa.getsockname()[1]

    def run(self):
        while not self.stop:
            r, _, _ = select.select([self.pa, self.qb], [], [], 0.1)
            for s in r:
                data, src = s.recvfrom(65536)
                if s is self.pa:
                    self.a_addr = src
                    self.rec.record('a2b', data, 'a', 'b')
                    self.qb.sendto(data, self.b_addr)
                elif src == self.b_addr and self.a_addr:
                    self.rec.record('b2a', data, 'b', 'a')
                    self.pa.sendto(data, self.a_addr)


def wait_for(cond, deadline, what):
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    print('capture_dht: gave up waiting for %s' % what, file=sys.stderr)
    return False


def start_node(ipv6=True):
    cfg = dht.DhtConfig()
    cfg.setNetwork(NETID)
    n = dht.DhtRunner()
    n.run(port=0, ipv4='127.0.0.1', ipv6='::1' if ipv6 else '', config=cfg)
    return n


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--out', default=os.path.join(here, 'corpus', 'dht'))
    ap.add_argument('--timeout', type=int, default=90)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.out):
        if f.endswith('.bin'):
            os.unlink(os.path.join(args.out, f))

    def on_alarm(signum, frame):
        print('capture_dht: timeout', file=sys.stderr)
        os._exit(2)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.timeout)

    rec = Recorder(args.out)
    b = start_node()
    b_port = b.getBound(AF_INET).getPort()
    nid = b.getNodeId()
    b_id = bytes.fromhex(nid.decode() if isinstance(nid, bytes) else str(nid))
    relay = Relay(rec, ('127.0.0.1', b_port))
    relay.start()
    c = start_node()
    d = start_node()
    for n in (c, d):
        n.bootstrap('127.0.0.1', str(b_port))
        n.bootstrap('::1', str(b_port))
    a = start_node(ipv6=False)
    a.bootstrap('127.0.0.1', str(relay.port()))

    t0 = time.monotonic()
    wait_for(lambda: 'good' in a.getRoutingTablesLog(AF_INET), t0 + 15, 'A to join')
    wait_for(lambda: c.getRoutingTablesLog(AF_INET6).count('good') >= 1, t0 + 15, 'C ipv6')

    done = {}

    def done_cb(name):
        def cb(ok, nodes=None):
            done[name] = ok
        return cb

    k1 = dht.InfoHash.get('supernode-small')
    k2 = dht.InfoHash.get('supernode-large')
    k3 = dht.InfoHash.get('supernode-listen')
    small = dht.Value(b'hello from A')
    a.put(k1, small, done_cb('put1'))
    a.put(k2, dht.Value(b'L' * 3000), done_cb('put2'))
    wait_for(lambda: 'put1' in done and 'put2' in done, time.monotonic() + 20, 'puts')
    got = []
    a.get(k2, lambda v: got.append(v) or True, done_cb('get2'))
    wait_for(lambda: 'get2' in done, time.monotonic() + 20, 'get')
    heard = []
    a.listen(k3, lambda v, expired: heard.append(v) or True)
    # C's put must reach B after B confirmed A's listen, or B has nobody to push to
    wait_for(lambda: any(n.endswith('_b2a_r-listen.bin') for n in rec.names),
             time.monotonic() + 20, 'listen confirmation')
    c.put(k3, dht.Value(b'pushed to listeners'), done_cb('put3'))
    wait_for(lambda: 'put3' in done and heard, time.monotonic() + 20, 'listen push')

    # B's own searches make C and D answer it, which is what makes them "good" in B's
    # tables (a node only lists nodes that replied to it) and fills n4/n6 in its replies.
    for key in (k1, k3):
        name = 'bget-' + str(key)
        b.get(key, lambda v: True, done_cb(name))
        wait_for(lambda: name in done, time.monotonic() + 20, 'B get')
    wait_for(lambda: b.getRoutingTablesLog(AF_INET6).count('good') >= 2,
             time.monotonic() + 10, 'B ipv6 table')

    # --- probes: hand-made requests to B; B's replies are real OpenDHT output ---
    probe_id = bytes(range(1, 21))
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s4.bind(('127.0.0.1', 0))
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.bind(('::1', 0))
    tid = [1000]

    def probe(sock, dst, q, args, netid=NETID, expect=True):
        tid[0] += 1
        msg = {'a': args, 'q': q, 't': tid[0], 'y': 'q', 'v': 'RNG1'}
        if netid:
            msg['n'] = netid
        data = pack(msg)
        rec.record('probe2b', data, 'probe', 'b')
        sock.sendto(data, dst)
        deadline = time.monotonic() + (3 if expect else 0.5)
        while time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], 0.1)
            if not r:
                continue
            rep, _ = sock.recvfrom(65536)
            m = decode(rep)
            if m is None or m.get('t') != tid[0]:
                continue
            rec.record('b2probe', rep, 'b', 'probe')
            return m
        if expect:
            print('capture_dht: no reply to probe %s' % q, file=sys.stderr)
        return None

    b4 = ('127.0.0.1', b_port)
    b6 = ('::1', b_port)
    probe(s4, b4, 'ping', {'id': probe_id})
    probe(s6, b6, 'ping', {'id': probe_id})
    r = probe(s4, b4, 'find', {'id': probe_id, 'target': b_id, 'w': [AF_INET, AF_INET6]})
    token = r['r'].get('token', b'') if r else b''
    probe(s4, b4, 'find', {'id': probe_id, 'target': bytes.fromhex(str(k1))})
    probe(s6, b6, 'find', {'id': probe_id, 'target': bytes.fromhex(str(k2))})
    probe(s6, b6, 'find', {'id': probe_id, 'target': bytes(20), 'w': [AF_INET6]})
    probe(s4, b4, 'get', {'id': probe_id, 'h': bytes.fromhex(str(k1))})
    probe(s4, b4, 'get', {'id': probe_id, 'h': bytes.fromhex(str(k2)), 'w': [AF_INET]})
    probe(s4, b4, 'get', {'id': probe_id, 'h': bytes(20)})
    probe(s4, b4, 'listen', {'id': probe_id, 've': 1, 'h': bytes.fromhex(str(k1)),
                             'token': b'\x00' * 32, 'sid': 7})
    probe(s4, b4, 'listen', {'id': probe_id, 've': 1, 'h': bytes.fromhex(str(k1)),
                             'token': token, 'sid': 8})
    value = pack({'id': 4242, 'dat': {'body': {'type': 0, 'data': b'probe value'}}})
    probe(s4, b4, 'put', {'id': probe_id, 'h': bytes.fromhex(str(k1)),
                          'values': [Raw(value)], 'token': b'\x01' * 32})
    probe(s4, b4, 'put', {'id': probe_id, 'h': bytes.fromhex(str(k1)),
                          'values': [Raw(value)], 'token': token})
    probe(s4, b4, 'refresh', {'id': probe_id, 'h': bytes.fromhex(str(k1)), 'vid': 4242,
                              'token': token})
    probe(s4, b4, 'refresh', {'id': probe_id, 'h': bytes(range(20, 40)), 'vid': 99,
                              'token': token})
    probe(s4, b4, 'ping', {'id': probe_id}, netid=95, expect=False)
    probe(s4, b4, 'ping', {'id': probe_id}, netid=0, expect=False)

    relay.stop = True
    relay.join(2)
    for n in (a, c, d, b):
        n.shutdown()
    signal.alarm(0)
    print('capture_dht: %d messages in %s (%.1f s)' % (len(rec.names), args.out,
                                                       time.monotonic() - t0))
    for n in rec.names:
        print('  ' + n)
    return 0


if __name__ == '__main__':
    sys.exit(main())
