#!/usr/bin/env bash
# test_turn_bad.sh: bad TURN input from the lab namespace is answered or counted as RFC 8489/
# 8656 and the design say, and never gets an unauthenticated sender more bytes than it sent:
#   - truncated, overlong and misaligned STUN, a wrong FINGERPRINT: no answer, counted;
#   - a 20-byte Allocate: no answer (the smallest challenge is 56 bytes), counted
#     challenge_too_large; coturn's 60-byte first Allocate: a 401 of at most 60 bytes;
#   - wrong password: 401; a nonce that is not ours, or another 5-tuple's: 438; Refresh
#     without an allocation: 437; an unknown comprehension-required attribute: 420;
#   - a user with a quota of 2 (configs/lab.yaml): the third allocation gets 486;
#   - peers in every default-denied class, also IPv4-mapped/-compatible IPv6: 403;
#   - ChannelData on an unbound channel and peer data without a permission: not relayed,
#     counted by the dataplane (turn_no_channel, turn_no_permission).
# The probes are a small STUN client in Python (below); every expectation is also checked on
# /metrics.
. "$(dirname "$0")/lib.sh"

PROBE=$(mktemp /tmp/sn-turn-probe.XXXXXX.py)
trap 'rc=$?; set +e; rm -f "$PROBE"; (exit $rc); _cleanup' EXIT
cat >"$PROBE" <<'EOF'
import hashlib, hmac, os, socket, struct, sys, time, zlib

SERVER4, SERVER6, LOCAL4, LOCAL6 = sys.argv[1:5]
REALM = "supernode.lab"
MAGIC = 0x2112A442
failures = 0

def check(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures += 1

def stype(method, cls):
    return (method & 0xf) | ((method & 0x70) << 1) | ((method & 0xf80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7)

def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)

def xaddr(ip, port, tid):
    if ":" in ip:
        a = socket.inet_pton(socket.AF_INET6, ip)
        key = struct.pack("!I", MAGIC) + tid
        return struct.pack("!BBH", 0, 2, port ^ (MAGIC >> 16)) + bytes(x ^ y for x, y in zip(a, key))
    a = socket.inet_pton(socket.AF_INET, ip)
    return struct.pack("!BBH", 0, 1, port ^ (MAGIC >> 16)) + bytes(x ^ y for x, y in zip(a, struct.pack("!I", MAGIC)))

def build(method, attrs, key=None, fp=False, cls=0, tid=None):
    tid = tid or os.urandom(12)
    body = b"".join(attrs)
    if key:
        hdr = struct.pack("!HHI", stype(method, cls), len(body) + 24, MAGIC) + tid
        body += attr(0x0008, hmac.new(key, hdr + body, hashlib.sha1).digest())
    if fp:
        hdr = struct.pack("!HHI", stype(method, cls), len(body) + 8, MAGIC) + tid
        body += attr(0x8028, struct.pack("!I", (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xffffffff))
    return struct.pack("!HHI", stype(method, cls), len(body), MAGIC) + tid + body

def parse(b):
    if len(b) < 20:
        return None
    t, ln, magic = struct.unpack("!HHI", b[:8])
    attrs, off = {}, 20
    while off + 4 <= 20 + ln:
        at, al = struct.unpack("!HH", b[off:off + 4])
        attrs.setdefault(at, b[off + 4:off + 4 + al])
        off += 4 + al + (4 - al % 4) % 4
    code = None
    if 0x0009 in attrs:
        e = attrs[0x0009]
        code = (e[2] & 7) * 100 + e[3]
    return {"type": t, "tid": b[8:20], "attrs": attrs, "code": code, "len": len(b)}

class Client:
    def __init__(self, server, local, user="lab", password="lab-password"):
        fam = socket.AF_INET6 if ":" in server else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_DGRAM)
        self.s.bind((local, 0))
        self.server = (server, 3478)
        self.user, self.password = user, password
        self.key = hashlib.md5(f"{user}:{REALM}:{password}".encode()).digest()
        self.nonce = None

    def send(self, b):
        self.s.sendto(b, self.server)

    def recv(self, timeout=1.0):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(4096)
        except socket.timeout:
            return None

    def ask(self, b, timeout=1.0):
        """Sends b (retransmitting twice) and returns the parsed answer with its tid."""
        tid = b[8:20]
        for _ in range(3):
            self.send(b)
            end = time.time() + timeout
            while time.time() < end:
                r = self.recv(max(0.01, end - time.time()))
                if r is None:
                    break
                m = parse(r)
                if m and m["tid"] == tid:
                    return m
        return None

    def auth(self):
        return [attr(0x0006, self.user.encode()), attr(0x0014, REALM.encode()), attr(0x0015, self.nonce)]

    def challenge(self):
        pad = attr(0x0026, b"\0" * 96)
        m = self.ask(build(3, [attr(0x0019, b"\x11\0\0\0"), pad]))
        assert m and m["code"] == 401, "no 401 challenge"
        self.nonce = m["attrs"][0x0015]

    def request(self, method, attrs):
        if not self.nonce:
            self.challenge()
        return self.ask(build(method, attrs + self.auth(), key=self.key, fp=True))

    def allocate(self, extra=()):
        m = self.request(3, [attr(0x0019, b"\x11\0\0\0")] + list(extra))
        if m and m["code"] is None and 0x0016 in m["attrs"]:
            v = m["attrs"][0x0016]
            port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
            if v[1] == 1:
                ip = socket.inet_ntop(socket.AF_INET, bytes(x ^ y for x, y in zip(v[4:8], struct.pack("!I", MAGIC))))
            else:
                key = struct.pack("!I", MAGIC) + m["tid"]
                ip = socket.inet_ntop(socket.AF_INET6, bytes(x ^ y for x, y in zip(v[4:20], key)))
            return (ip, port), m
        return None, m

def quiet(c, b, what):
    c.send(b)
    r = c.recv(0.5)
    check(r is None, what + ": no answer")

alloc_tr = attr(0x0019, b"\x11\0\0\0")

# --- malformed STUN: dropped silently ---
c = Client(SERVER4, LOCAL4)
good = build(3, [alloc_tr], fp=True)
quiet(c, good[:12], "truncated STUN (12 bytes)")
quiet(c, good + b"\0\0\0\0", "overlong STUN (4 bytes past the length field)")
quiet(c, good[:-4] + bytes([good[-4] ^ 1]) + good[-3:], "wrong FINGERPRINT")
quiet(c, good[:3] + bytes([good[3] + 2]) + good[4:] + b"\0\0", "length not a multiple of 4")
# --- the size rule ---
quiet(c, build(3, []), "20-byte Allocate (the smallest challenge is 56 bytes)")
coturn60 = build(3, [alloc_tr, attr(0x000d, struct.pack("!I", 777)), attr(0x0018, b"\x80"),
                     attr(0x0017, b"\x01\0\0\0")], fp=True)
assert len(coturn60) == 60
m = c.ask(coturn60)
check(m is not None and m["code"] == 401 and m["len"] <= 60 and 0x0015 in m["attrs"],
      "coturn's 60-byte Allocate: 401 of %s bytes with a nonce" % (m and m["len"]))
# --- credentials ---
bad = Client(SERVER4, LOCAL4, password="wrong")
m = bad.request(3, [alloc_tr])
check(m is not None and m["code"] == 401 and 0x0008 not in m["attrs"], "wrong password: 401 without integrity")
c = Client(SERVER4, LOCAL4)
c.challenge()
good_nonce = c.nonce
c.nonce = b"f//499k954d6OL34oL9FSTvy"
m = c.request(3, [alloc_tr])
check(m is not None and m["code"] == 438 and 0x0015 in m["attrs"], "foreign nonce: 438 with a new nonce")
other = Client(SERVER4, LOCAL4)
other.nonce = good_nonce
m = other.request(3, [alloc_tr])
check(m is not None and m["code"] == 438, "another 5-tuple's nonce: 438")
c.nonce = good_nonce
m = c.request(4, [])
check(m is not None and m["code"] == 437, "Refresh without an allocation: 437")
m = c.request(3, [alloc_tr, attr(0x0033, b"\0\0\0\0")])
check(m is not None and m["code"] == 420 and m["attrs"].get(0x000a) == b"\x00\x33", "unknown comprehension-required attribute: 420 naming it")
# --- quota: user "quota" may hold 2 allocations ---
qs = [Client(SERVER4, LOCAL4, "quota", "quota-password") for _ in range(3)]
ok = [q.allocate()[0] is not None for q in qs[:2]]
_, m = qs[2].allocate()
check(all(ok) and m is not None and m["code"] == 486, "user quota 2: third Allocate gets 486")
for q in qs[:2]:
    q.request(4, [attr(0x000d, b"\0\0\0\0")])
# --- denied peers ---
c4 = Client(SERVER4, LOCAL4)
relay4, _ = c4.allocate()
check(relay4 is not None, "IPv4 allocation")
for ip in ["127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.0.1", "100.64.0.1", "169.254.1.1",
           "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1", "198.51.100.1",
           "203.0.113.1", "198.18.0.3", "198.19.0.2"]:
    m = c4.request(8, [attr(0x0012, xaddr(ip, 5000, os.urandom(12)))])  # tid fixed below
    # (XOR-PEER-ADDRESS is XORed with the request's tid for IPv6 only; IPv4 uses the cookie)
    check(m is not None and m["code"] == 403, "CreatePermission %s: 403" % ip)
c6 = Client(SERVER4, LOCAL4)
relay6, _ = c6.allocate([attr(0x0017, b"\x02\0\0\0")])
check(relay6 is not None and ":" in relay6[0], "IPv6 allocation")
for ip in ["::1", "::", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::7f00:1", "fe80::1",
           "fc00::1", "ff02::1", "2001:db8::1", "2001:2::1", "64:ff9b::a00:1"]:
    tid = os.urandom(12)
    body = [attr(0x0012, xaddr(ip, 5000, tid))] + c6.auth()
    m = c6.ask(build(8, body, key=c6.key, fp=True, tid=tid))
    check(m is not None and m["code"] == 403, "CreatePermission %s: 403" % ip)
m = c4.request(8, [attr(0x0012, xaddr("2001:db8:5e::2", 5000, os.urandom(12)))])
check(m is not None and m["code"] == 443, "IPv6 peer on an IPv4 allocation: 443")
# --- data the relay must not carry ---
peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
peer.bind((LOCAL4, 0))
peer.settimeout(0.5)
# peer data without a permission: nothing reaches the client
peer.sendto(b"\x80" + b"x" * 99, relay4)
check(c4.recv(0.5) is None, "peer data without a permission: not relayed")
# ChannelData on an unbound channel: nothing reaches the peer
m = c4.request(8, [attr(0x0012, xaddr(LOCAL4, peer.getsockname()[1], b""))])
check(m is not None and m["code"] is None, "CreatePermission for the peer")
c4.send(struct.pack("!HH", 0x4444, 100) + b"y" * 100)
try:
    peer.recv(4096)
    check(False, "ChannelData on an unbound channel: not relayed")
except socket.timeout:
    check(True, "ChannelData on an unbound channel: not relayed")
for cl in (c4, c6):
    cl.request(4, [attr(0x000d, b"\0\0\0\0")])
print("probe failures: %d" % failures)
sys.exit(1 if failures else 0)
EOF

start_appliance
in_ns ping -n -q -c 1 -W 2 "$SN_APP4" >/dev/null || fail "no ping to $SN_APP4"

m() { metric "$@"; }
# malformed STUN is dropped by the fast path (stun_malformed) or by control (stun_* reasons)
malformed() {
	local r n=0
	for r in stun_truncated stun_not_stun stun_bad_length stun_bad_attribute stun_fingerprint; do
		n=$((n + $(m supernode_turn_dropped_total "reason=\"$r\"")))
	done
	echo $((n + $(m supernode_dataplane_drops_total 'reason="stun_malformed"')))
}
malformed_at_least() { (($(malformed) >= $1)); }
bad0=$(malformed) || fail "no /metrics"
tl0=$(m supernode_turn_dropped_total 'reason="challenge_too_large"')
e401=$(m supernode_turn_request_errors_total 'reason="unauthenticated"')
e403=$(m supernode_turn_request_errors_total 'reason="forbidden"')
e420=$(m supernode_turn_request_errors_total 'reason="unknown_attribute"')
e437=$(m supernode_turn_request_errors_total 'reason="allocation_mismatch"')
e438=$(m supernode_turn_request_errors_total 'reason="stale_nonce"')
e443=$(m supernode_turn_request_errors_total 'reason="peer_address_family_mismatch"')
e486=$(m supernode_turn_request_errors_total 'reason="allocation_quota_reached"')
af0=$(m supernode_turn_auth_failures_total 'reason="bad_integrity"')
nc0=$(m supernode_dataplane_drops_total 'reason="turn_no_channel"')
np0=$(m supernode_dataplane_drops_total 'reason="turn_no_permission"')

in_ns /usr/bin/python3 "$PROBE" "$SN_APP4" "$SN_APP6" "$PEER4_ADDR" "$PEER6_ADDR" >&2 ||
	fail "TURN probes: some answers were not as expected (see above)"

# Every malformed message was dropped by the fast path or by control, and counted.
wait_for 10 malformed_at_least $((bad0 + 4)) ||
	fail "4 malformed STUN messages, counted drops rose from $bad0 to $(malformed)"
wait_for 10 metric_at_least $((tl0 + 1)) supernode_turn_dropped_total 'reason="challenge_too_large"' ||
	fail "the 20-byte Allocate was not counted as challenge_too_large"
expect_rise() { # NAME LABELS BEFORE MIN
	wait_for 10 metric_at_least $(($3 + $4)) "$1" "$2" ||
		fail "$1{$2} rose from $3 to $(m "$1" "$2"), expected +$4"
}
expect_rise supernode_turn_request_errors_total 'reason="unauthenticated"' "$e401" 2
expect_rise supernode_turn_request_errors_total 'reason="forbidden"' "$e403" 25
expect_rise supernode_turn_request_errors_total 'reason="unknown_attribute"' "$e420" 1
expect_rise supernode_turn_request_errors_total 'reason="allocation_mismatch"' "$e437" 1
expect_rise supernode_turn_request_errors_total 'reason="stale_nonce"' "$e438" 2
expect_rise supernode_turn_request_errors_total 'reason="peer_address_family_mismatch"' "$e443" 1
expect_rise supernode_turn_request_errors_total 'reason="allocation_quota_reached"' "$e486" 1
expect_rise supernode_turn_auth_failures_total 'reason="bad_integrity"' "$af0" 1
expect_rise supernode_dataplane_drops_total 'reason="turn_no_channel"' "$nc0" 1
expect_rise supernode_dataplane_drops_total 'reason="turn_no_permission"' "$np0" 1
log "malformed STUN dropped: $bad0 -> $(malformed); dataplane stun_malformed" \
	"$(m supernode_dataplane_drops_total 'reason="stun_malformed"'), turn_no_channel" \
	"$(m supernode_dataplane_drops_total 'reason="turn_no_channel"'), turn_no_permission" \
	"$(m supernode_dataplane_drops_total 'reason="turn_no_permission"')"

finish
