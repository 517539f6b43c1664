"""dht_cli.py: drives Debian's dhtnode (OpenDHT 2.4.12's CLI) through its stdin for the lab
tests: send a command, then wait for a line matching a pattern, with a deadline. The process
is the caller's child and is always ended (by its own pid) when the object is closed."""
import os
import re
import select
import subprocess
import time


class DhtNode:
    def __init__(self, network, bootstrap, identity=True, log=None):
        args = ["dhtnode", "-n", str(network), "-b", bootstrap]
        if identity:
            args.insert(1, "-i")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, bufsize=0)
        self.buf = b""
        self.lines = []
        self.log = log

    def send(self, cmd):
        self.proc.stdin.write((cmd + "\n").encode())
        self.proc.stdin.flush()

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], max(0.0, timeout))
        if not r:
            return False
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return False
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            text = line.decode(errors="replace")
            self.lines.append(text)
            if self.log:
                self.log.write("dhtnode| " + text + "\n")
        return True

    def expect(self, pattern, timeout=10.0, since=0):
        """First line (from index `since`) matching pattern; None after the deadline."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        i = since
        while True:
            while i < len(self.lines):
                m = rx.search(self.lines[i])
                if m:
                    return m
                i += 1
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                return None
            self._read(min(left, 0.2))

    def mark(self):
        return len(self.lines)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("x")
                self.proc.wait(timeout=5)
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.kill()  # our own child, by its Popen handle
            self.proc.wait(timeout=5)
