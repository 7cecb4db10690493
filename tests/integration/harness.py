"""Integration test harness: the real musterd, muster and muster-agent binaries in a temporary
directory, talking over real sockets; raw clients with pyzmq and the protobuf module generated
from proto/muster.proto (a second, independent implementation of the protocol).

Readiness is signalled by musterd on a file descriptor (-R), never guessed with sleep."""
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ["MUSTER_BUILD"]
sys.path.insert(0, os.path.join(BUILD, "proto"))
import muster_pb2 as pb  # noqa: E402  (generated at build time)
import zmq  # noqa: E402

MUSTERD = os.path.join(BUILD, "daemon", "musterd")
MUSTER = os.path.join(BUILD, "clients", "muster")
AGENT = os.path.join(BUILD, "clients", "muster-agent")
TIMEOUT = 20.0


def free_ports(n):
    """Returns N TCP ports that were free on 127.0.0.1 a moment ago."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def read_key(path):
    """Reads a muster key file (libconfig syntax) into (public, secret-or-None), Z85 bytes."""
    with open(path) as f:
        text = f.read()
    pub = re.search(r'public\s*=\s*"([^"]+)"', text)
    sec = re.search(r'secret\s*=\s*"([^"]+)"', text)
    return pub.group(1).encode(), (sec.group(1).encode() if sec else None)


def chain_hash(prev, row):
    """The timeline hash rule of docs/protocol.md, computed independently of the daemon."""
    seq, wall, mono, actor, kind, incident, exercise, body = row
    head = f"{seq}\n{wall}\n{mono}\n{actor}\n{kind}\n{incident}\n{1 if exercise else 0}\n"
    return hashlib.sha256(prev + head.encode() + body.encode()).digest()


def verify_chain(db_path):
    """Recomputes the whole hash chain of a stopped daemon's database; returns the row count."""
    con = sqlite3.connect(db_path)
    prev = bytes(32)
    n = 0
    for r in con.execute("SELECT seq, wall_ms, mono_ns, actor, kind, incident_id, exercise,"
                         " body, hash FROM timeline ORDER BY seq"):
        n += 1
        assert r[0] == n, f"timeline gap at {n}: row {r[0]}"
        h = chain_hash(prev, r[:8])
        assert h == bytes(r[8]), f"hash mismatch at seq {r[0]}"
        prev = h
    con.close()
    return n


class Daemon:
    """One musterd in a temporary configuration directory made by `muster init`."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "conf")
        self.log_path = os.path.join(tmp, "musterd.log")
        self.proc = None
        run([MUSTER, "init", self.dir])
        ports = free_ports(3)
        self.endpoints = {name: f"tcp://127.0.0.1:{p}"
                          for name, p in zip(("control", "agents", "feed"), ports)}
        self.set_conf(self.endpoints)
        self.conf = os.path.join(self.dir, "musterd.conf")
        self.server_public, _ = read_key(os.path.join(self.dir, "keys", "musterd.pub"))

    def set_conf(self, settings):
        """Rewrites (or adds) top-level settings of musterd.conf."""
        path = os.path.join(self.dir, "musterd.conf")
        text = open(path).read()
        for k, v in settings.items():
            line = f'{k} = "{v}";' if isinstance(v, str) else f"{k} = {v};"
            pat = re.compile(rf"^\s*#?\s*{k}\s*=.*$", re.M)
            if pat.search(text):
                text = pat.sub(line, text, count=1)
            else:
                text += "\n" + line + "\n"
        with open(path, "w") as f:
            f.write(text)

    def start(self, expect_ok=True, args=()):
        """Starts musterd -d (with ARGS) and waits for its readiness line (or its exit)."""
        r, w = os.pipe()
        if getattr(self, "log", None) is not None:
            self.log.close()  # the previous run's (restarts)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([MUSTERD, "-d", "-c", self.conf, "-R", str(w), *args],
                                     pass_fds=(w,), stdout=self.log, stderr=self.log)
        os.close(w)
        ready = b""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            rl, _, _ = select.select([r], [], [], deadline - time.monotonic())
            if not rl:
                break
            chunk = os.read(r, 64)
            if not chunk:
                break
            ready += chunk
        os.close(r)
        if expect_ok and ready != b"READY\n":
            self.proc.wait(timeout=5)
            raise AssertionError("musterd did not become ready:\n" + self.log_text())
        return ready == b"READY\n"

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM and wait; the exit status must be 0 (a clean shutdown)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=TIMEOUT)
            assert rc == 0, f"musterd exited {rc} on SIGTERM:\n{self.log_text()}"
        self.proc = None

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=TIMEOUT)
        self.proc = None

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def wait_log(self, pattern, timeout=TIMEOUT):
        """Waits until the daemon's log matches PATTERN (a regex); returns the match."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log_text())
            if m:
                return m
            time.sleep(0.02)  # polling a log file we do not control the writes of
        raise AssertionError(f"log never matched {pattern!r}:\n{self.log_text()}")

    def muster(self, *args, key=None, check=True, timeout=TIMEOUT):
        """Runs the muster CLI against this daemon; returns the CompletedProcess."""
        cmd = [MUSTER, "-c", self.dir]
        if key:
            cmd += ["-k", key]
        return run(cmd + list(args), check=check, timeout=timeout)

    def key(self, name):
        return read_key(os.path.join(self.dir, "keys", name))

    def db(self):
        return os.path.join(self.dir, "muster.db")


def run(cmd, check=True, timeout=TIMEOUT):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


class Raw:
    """A raw protocol client: pyzmq socket with CURVE, protobuf envelopes."""

    def __init__(self, daemon, which, key=None, curve=True, sock_type=zmq.DEALER,
                 server_public=None):
        self.ctx = zmq.Context()
        self.s = self.ctx.socket(sock_type)
        self.s.linger = 0
        if curve:
            if key is None:
                pub, sec = zmq.curve_keypair()
            else:
                pub, sec = key
            self.s.curve_serverkey = server_public or daemon.server_public
            self.s.curve_publickey = pub
            self.s.curve_secretkey = sec
        if sock_type == zmq.SUB:
            self.s.setsockopt(zmq.SUBSCRIBE, b"")
        self.s.connect(daemon.endpoints[which])
        self.seq = 0

    def envelope(self, **kw):
        self.seq += 1
        e = pb.Envelope(version=1, seq=self.seq, correlation_id=1000 + self.seq,
                        sent_at_ms=int(time.time() * 1000))
        for k, v in kw.items():
            if k in ("version", "seq", "correlation_id", "exercise"):
                setattr(e, k, v)
            else:
                getattr(e, k).CopyFrom(v)
        return e

    def send(self, env_or_bytes):
        data = env_or_bytes if isinstance(env_or_bytes, bytes) else env_or_bytes.SerializeToString()
        self.s.send(data)

    def recv(self, timeout=3.0):
        """Returns the next envelope, or None when nothing arrives within TIMEOUT seconds."""
        if not self.s.poll(int(timeout * 1000)):
            return None
        frames = self.s.recv_multipart()
        e = pb.Envelope()
        e.ParseFromString(frames[-1])
        return e

    def call(self, timeout=5.0, **kw):
        e = self.envelope(**kw)
        self.send(e)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.recv(deadline - time.monotonic())
            if r is None:
                return None
            if r.correlation_id == e.correlation_id:
                return r
        return None

    def close(self):
        self.s.close(0)
        self.ctx.term()


# Orders still waiting for their receipt: pending or sent, never received.
UNRECEIPTED = "FROM orders WHERE received_ms = 0 AND status IN (1, 2)"


def settle(op, timeout, prefix, more=None, pause=0.5):
    """Looks through snapshots of the running daemon (it holds its database exclusively), taken
    through the operator connection OP and named PREFIX1.db, PREFIX2.db, ..., every PAUSE s,
    until no order waits for its receipt and MORE(connection), when given, is true too; or
    until TIMEOUT s have passed. Returns True when it settled."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n += 1
        r = op.call(timeout=5.0, snapshot=pb.Snapshot(name=f"{prefix}{n}.db"))
        if r is not None and r.WhichOneof("body") == "snapshot_reply":
            con = sqlite3.connect(r.snapshot_reply.path)
            try:
                done = (con.execute("SELECT count(*) " + UNRECEIPTED).fetchone()[0] == 0 and
                        (more is None or more(con)))
            finally:
                con.close()
            if done:
                return True
        time.sleep(pause)
    return False


def submit(place="", type_="fire.ebike", **kw):
    loc = pb.Location(place=place)
    return pb.SubmitIncident(type=type_, location=loc, **kw)


class DaemonTest(unittest.TestCase):
    """Base class: a fresh configuration and a running daemon per test."""

    start_daemon = True

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="muster-it-")
        self.d = Daemon(self.tmp)
        self.raws = []
        if self.start_daemon:
            self.d.start()

    def tearDown(self):
        for r in self.raws:
            r.close()
        try:
            self.d.stop()
        finally:
            if os.environ.get("MUSTER_KEEP_TMP"):
                print("kept", self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def raw(self, which="control", **kw):
        r = Raw(self.d, which, **kw)
        self.raws.append(r)
        return r

    def operator(self):
        return self.raw("control", key=self.d.key("operator.key"))

    def a_place(self):
        """The id of some community in the sample district (read from the district file)."""
        with open(os.path.join(self.d.dir, "district.conf")) as f:
            text = f.read()
        comm = text[re.search(r"^communities\s*=", text, re.M).start():]
        return re.search(r'id\s*=\s*"([^"]+)"', comm).group(1)

    def assert_serving(self):
        """The daemon still answers a good request from a good client."""
        op = self.operator()
        r = op.call(list_incidents=pb.ListIncidents())
        self.assertIsNotNone(r, "daemon stopped answering:\n" + self.d.log_text())
        self.assertEqual(r.WhichOneof("body"), "incident_list")
        self.assertTrue(self.d.alive())


def read_line(stream, timeout=TIMEOUT):
    """Reads one line from a child's pipe, or fails after TIMEOUT seconds (never hangs)."""
    rl, _, _ = select.select([stream], [], [], timeout)
    if not rl:
        raise AssertionError(f"no line within {timeout} s")
    return stream.readline()


def roster_units(roster_text):
    """The units of a roster.conf in file order, as dicts (parsed with regexes, test-side)."""
    block = re.search(r"^units = \((.*?)^\);", roster_text, re.M | re.S).group(1)
    units = []
    for body in re.findall(r"\{(.*?)\}", block, re.S):
        u = dict(re.findall(r'(\w+) = "([^"]*)";', body))
        u.update({k: v for k, v in re.findall(r"(\w+) = (-?[\d.]+);", body)})
        skills = re.search(r"skills = \[(.*?)\]", body, re.S)
        u["skills"] = re.findall(r'"([^"]*)"', skills.group(1)) if skills else []
        u["index"] = len(units)
        units.append(u)
    return units


def distance_m(lat1, lon1, lat2, lon2):
    """Great-circle distance, the same haversine as daemon/geo.c (independently written)."""
    import math
    rad = math.pi / 180.0
    dlat = (lat2 - lat1) * rad
    dlon = (lon2 - lon1) * rad
    a = math.sin(dlat / 2) ** 2 + math.cos(lat1 * rad) * math.cos(lat2 * rad) * math.sin(dlon / 2) ** 2
    a = min(a, 1.0)
    return 6371008.8 * 2 * math.atan2(math.sqrt(a), math.sqrt(1 - a))


FIU_LIB = "/usr/lib/fiu"  # Debian's libfiu0 puts the preload libraries here


def fiu_env(binary, fifo):
    """The environment that runs BINARY as `fiu-run -x -f FIFO` would: libfiu's POSIX preload,
    every failure point off until `fiu-ctrl -f FIFO ... PID` enables it, with ASan's runtime
    first in LD_PRELOAD when BINARY has it (it must come first). None without libfiu (Debian:
    apt-get install fiu-utils)."""
    preload = [os.path.join(FIU_LIB, "fiu_run_preload.so"),
               os.path.join(FIU_LIB, "fiu_posix_preload.so")]
    if shutil.which("fiu-ctrl") is None or not all(os.path.exists(p) for p in preload):
        return None
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    asan = re.search(r"(\S*libasan\.so\S*) => (\S+)", ldd)
    if asan:
        preload.insert(0, asan.group(2))
    return dict(os.environ, FIU_CTRL_FIFO=fifo, FIU_ENABLE="", LD_PRELOAD=" ".join(preload))


def main():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
