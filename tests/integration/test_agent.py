"""muster-agent against a fake daemon: a pyzmq ROUTER with the daemon's CURVE key, which
answers Register, sends Order envelopes and answers reports as each test decides. The real
daemon does not create orders yet, so the agent's side of the order protocol (receipts,
re-sends with the same seq, refusals, the three modes) is tested here on its own.

Nothing waits with sleep: every wait is a poll on a socket or a pipe with a timeout."""
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import AGENT, TIMEOUT, Daemon, main, pb, read_key
import zmq

ST = pb.OrderStatus
INCIDENT = (30.305, 120.100)  # the orders' location
HOME = (30.300, 120.100)      # every unit's home, 556 m south of it


def roster_units(conf_dir, agent="agent:fire"):
    """(id, kind) of every unit of AGENT in the init'd roster.conf."""
    with open(os.path.join(conf_dir, "roster.conf")) as f:
        text = f.read()
    units = []
    for m in re.finditer(r'\{\s*id\s*=\s*"([^"]+)";(.*?)\}', text, re.S):
        kind = re.search(r'kind\s*=\s*"([^"]+)"', m.group(2))
        who = re.search(r'agent\s*=\s*"([^"]+)"', m.group(2))
        if kind and who and who.group(1) == agent:
            units.append((m.group(1), kind.group(1)))
    return units


class FakeDaemon:
    """The agents endpoint of musterd, faked: CURVE server, Register answered with Registered
    (UNITS at HOME), heartbeats kept, everything else handed to the test."""

    def __init__(self, d, units):
        self.endpoint = d.endpoints["agents"]
        self.pub, self.sec = read_key(os.path.join(d.dir, "keys", "musterd.key"))
        self.units = units
        self.ctx = zmq.Context()
        self.s = None
        self.peer = None
        self.seq = 0
        self.registers = 0
        self.heartbeats = []
        self.bind()

    def bind(self):
        self.s = self.ctx.socket(zmq.ROUTER)
        self.s.linger = 0
        self.s.curve_server = True
        self.s.curve_publickey = self.pub
        self.s.curve_secretkey = self.sec
        self.s.bind(self.endpoint)

    def restart(self):
        """Closes the socket (every connection drops) and binds again, like a restart."""
        self.s.close(0)
        self.ctx.term()  # returns once the socket is really closed and the port is free
        self.ctx = zmq.Context()
        self.peer = None
        self.bind()

    def close(self):
        self.s.close(0)
        self.ctx.term()

    def send(self, **kw):
        self.seq += 1
        exercise = kw.pop("exercise", False)
        corr = kw.pop("correlation_id", 0)
        e = pb.Envelope(version=1, seq=self.seq, correlation_id=corr, exercise=exercise,
                        sent_at_ms=int(time.time() * 1000))
        for k, v in kw.items():
            getattr(e, k).CopyFrom(v)
        self.s.send_multipart([self.peer, e.SerializeToString()])

    def ack(self, env, code=pb.OK):
        self.send(report_ack=pb.ReportAck(acked_seq=env.seq, code=code),
                  correlation_id=env.correlation_id)

    def refuse(self, env, code=pb.INVALID_STATE, message="not now"):
        self.send(error=pb.ErrorReply(code=code, message=message),
                  correlation_id=env.correlation_id)

    def order(self, oid, unit, exercise=False, attempt=1, where=INCIDENT):
        now = int(time.time() * 1000)
        o = pb.Order(
            order_id=oid, incident_id=7, unit_id=unit, role="first_attack",
            group="emergency_response", commander="fe-s01-1", summary="charging shed fire",
            location=pb.Location(place="s01-c01", street="s01", community="s01-c01",
                                 grid="s01-c01-g1",
                                 coords=pb.Coordinates(lat=where[0], lon=where[1])),
            receipt_deadline_ms=now + 30000, ring_deadline_ms=now + 300000,
            notes=["hydrant at the north gate"],
            members=[pb.GroupMember(unit_id="vg-s01c01-g1-1", role="cordon", group="security",
                                    department="police")],
            attempt=attempt, tier=2)
        self.send(order=o, exercise=exercise)

    def next(self, timeout=TIMEOUT, kinds=("receipt", "status")):
        """The next message whose body is in KINDS, or None after TIMEOUT seconds. Register
        is answered on the way; heartbeats are kept."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.s.poll(int(left * 1000)):
                return None
            ident, data = self.s.recv_multipart()
            self.peer = ident
            e = pb.Envelope()
            e.ParseFromString(data)
            body = e.WhichOneof("body")
            if body == "register":
                self.registers += 1
                self.send(registered=pb.Registered(
                    accepted=[u for u, _ in self.units], heartbeat_interval_ms=500,
                    units=[pb.UnitState(unit_id=u,
                                        position=pb.Coordinates(lat=HOME[0], lon=HOME[1]),
                                        status=pb.UNIT_AVAILABLE) for u, _ in self.units]))
            elif body == "heartbeat":
                self.heartbeats.append(e)
            if body in kinds:
                return e

    def registered(self):
        """Waits for the agent's registration."""
        n = self.registers
        deadline = time.monotonic() + TIMEOUT
        while self.registers == n and time.monotonic() < deadline:
            self.next(deadline - time.monotonic(), kinds=("register",))
        assert self.registers > n, "the agent never registered"


class Agent:
    """A muster-agent process; stdout lines are collected by a thread."""

    def __init__(self, d, tmp, *args):
        self.err_path = os.path.join(tmp, f"agent-{time.monotonic_ns()}.log")
        self.err = open(self.err_path, "wb")
        self.p = subprocess.Popen([AGENT, "-c", d.dir, "-k", "keys/agent-fire.key", "-v"]
                                  + list(args), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.lines = []
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def say(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def wait_out(self, pattern, timeout=TIMEOUT):
        """Returns the first new stdout line matching PATTERN (a regex)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.q.get(timeout=max(left, 0.001)) if left > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"agent never printed {pattern!r}; got {self.lines}\n"
                                     + self.log())
            self.lines.append(line)
            if re.search(pattern, line):
                return line

    def log(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM; returns the exit status and every stdout line."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout=TIMEOUT)
        self.t.join(TIMEOUT)
        while True:
            try:
                line = self.q.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        self.p.stdin.close()
        self.p.stdout.close()
        self.err.close()
        return rc


class AgentTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="muster-agent-")
        self.d = Daemon(self.tmp)  # configured, never started: the fake takes its port
        fire = roster_units(self.d.dir)
        ms = [u for u in fire if u[1] == "micro_fire_station"][:2]
        fe = [u for u in fire if u[1] == "fire_engine"][:2]
        self.assertEqual((len(ms), len(fe)), (2, 2), fire)
        self.units = ms + fe
        self.fake = FakeDaemon(self.d, self.units)
        self.agents = []

    def tearDown(self):
        for a in self.agents:
            if a.p.poll() is None:
                a.stop()
        self.fake.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def agent(self, *args):
        a = Agent(self.d, self.tmp, *args)
        self.agents.append(a)
        self.fake.registered()
        a.wait_out(r"^registered 4 units$")
        return a

    def report(self, want_body="status", timeout=TIMEOUT):
        """The next report, whose body must be WANT_BODY (or one of that tuple)."""
        e = self.fake.next(timeout)
        self.assertIsNotNone(e, f"no {want_body} from the agent")
        if isinstance(want_body, tuple):
            self.assertIn(e.WhichOneof("body"), want_body, e)
        else:
            self.assertEqual(e.WhichOneof("body"), want_body, e)
        self.assertEqual(e.correlation_id, e.seq, "a report's correlation id is its seq")
        return e

    def receipt(self, oid):
        e = self.report("receipt")
        self.assertEqual(e.receipt.order_id, oid)
        return e

    def status(self, oid, status, ack=True, delay=pb.DELAY_NONE):
        e = self.report("status")
        self.assertEqual((e.status.order_id, e.status.status, e.status.delay_reason),
                         (oid, status, delay), e)
        if ack:
            self.fake.ack(e)
        return e

    def quiet(self, timeout):
        """Nothing but heartbeats arrives for TIMEOUT seconds."""
        e = self.fake.next(timeout)
        self.assertIsNone(e, f"unexpected {e}")

    # ---- always ----

    def test_receipt_for_every_copy_shown_once(self):
        a = self.agent()
        unit = self.units[0][0]
        self.fake.order(101, unit)
        r1 = self.receipt(101)
        self.fake.ack(r1)
        self.fake.order(101, unit, attempt=2)
        r2 = self.receipt(101)
        self.assertGreater(r2.seq, r1.seq, "a receipt after an answered one is new")
        self.fake.ack(r2)
        # Unanswered receipt: a further copy re-sends it with the same seq.
        self.fake.order(101, unit, attempt=3)
        r3 = self.receipt(101)
        self.fake.order(101, unit, attempt=4)
        r4 = self.receipt(101)
        self.assertEqual(r4.seq, r3.seq)
        self.fake.ack(r3, code=pb.DUPLICATE)
        self.quiet(1.5)
        self.assertEqual(a.stop(), 0)
        shown = [l for l in a.lines if l.startswith("ORDER #101 ")]
        self.assertEqual(len(shown), 1, a.lines)

    def test_report_resent_same_seq_until_acked(self):
        a = self.agent("--interactive")
        self.fake.order(201, self.units[0][0])
        self.fake.ack(self.receipt(201))
        a.wait_out(r"=== ORDER #201")
        a.say("accept 201")
        s1 = self.status(201, ST.Value("ORDER_ACCEPTED"), ack=False)
        s2 = self.report("status", timeout=3)  # the first re-send comes after 1 s
        self.assertEqual((s2.seq, s2.status.status), (s1.seq, s1.status.status))
        self.fake.ack(s2)
        a.wait_out(r"^#201 accepted: recorded$")
        self.quiet(2.5)  # the next re-send would have come after 2 s
        self.assertEqual(a.stop(), 0)

    def test_error_reply_stops_resending(self):
        a = self.agent("--interactive")
        self.fake.order(202, self.units[0][0])
        self.fake.ack(self.receipt(202))
        a.say("accept 202")
        s = self.status(202, ST.Value("ORDER_ACCEPTED"), ack=False)
        self.fake.refuse(s, pb.INVALID_STATE, "order 202 was cancelled")
        a.wait_out(r"^#202 accepted: REFUSED by the daemon: INVALID_STATE: "
                   r"order 202 was cancelled$")
        self.quiet(2.5)
        self.assertIn("REFUSED", a.log())
        # The refused step is undone locally: the order may be answered again.
        a.say("decline 202")
        self.status(202, ST.Value("ORDER_DECLINED"))
        self.assertEqual(a.stop(), 0)

    def test_unavailable_and_lost_session_keep_the_report(self):
        a = self.agent("--interactive")
        self.fake.order(203, self.units[0][0])
        self.fake.ack(self.receipt(203))
        a.say("accept 203")
        s = self.status(203, ST.Value("ORDER_ACCEPTED"), ack=False)
        self.fake.refuse(s, pb.UNAVAILABLE, "try again")
        s2 = self.report("status", timeout=3)
        self.assertEqual(s2.seq, s.seq)
        # "No session": register again, then the same report again at once.
        n = self.fake.registers
        self.fake.send(error=pb.ErrorReply(code=pb.NOT_FOUND, field="register",
                                           message="register first"),
                       correlation_id=s.seq)
        s3 = self.report("status")
        self.assertEqual(s3.seq, s.seq)
        self.assertGreater(self.fake.registers, n)
        self.fake.ack(s3)
        a.wait_out(r"^#203 accepted: recorded$")
        self.assertEqual(a.stop(), 0)

    def test_restart_reregisters_and_resends(self):
        a = self.agent("--interactive")
        self.fake.order(204, self.units[1][0])
        self.fake.ack(self.receipt(204))
        a.say("accept 204")
        s = self.status(204, ST.Value("ORDER_ACCEPTED"), ack=False)
        n = self.fake.registers
        self.fake.restart()
        s2 = self.report("status")
        self.assertGreater(self.fake.registers, n, "re-sent before registering again")
        self.assertEqual((s2.seq, s2.status.order_id), (s.seq, 204))
        self.fake.ack(s2)
        a.wait_out(r"^#204 accepted: recorded$")
        # The unit stayed busy across the re-registration.
        a.say("enroute 204")
        self.status(204, ST.Value("ORDER_EN_ROUTE"))
        hb = self.fake.next(5, kinds=("heartbeat",))
        self.assertIsNotNone(hb)
        states = {u.unit_id: u.status for u in hb.heartbeat.units}
        self.assertEqual(states[self.units[1][0]], pb.UNIT_BUSY)
        self.assertEqual(a.stop(), 0)

    # ---- interactive ----

    def test_interactive_commands(self):
        a = self.agent("--interactive")
        unit = self.units[0][0]
        self.fake.order(301, unit, exercise=True)
        self.fake.ack(self.receipt(301))
        a.wait_out(r"=== ORDER #301 .*EXERCISE")
        a.wait_out(r"summary\s+charging shed fire")
        a.wait_out(r"note\s+hydrant at the north gate")
        a.wait_out(r"member\s+vg-s01c01-g1-1\s+cordon\s+security\s+police")
        a.say("fly 301")
        a.wait_out(r"^error: unknown command 'fly'")
        a.say("accept")
        a.wait_out(r"^error: accept needs an order id")
        a.say("accept 999")
        a.wait_out(r"^error: no order #999")
        a.say("enroute 301")
        a.wait_out(r"^error: order #301 is received: cannot go to en_route$")
        a.say("delay 301 snow")
        a.wait_out(r"^error: delay ID REASON")
        a.say("accept 301")
        a.wait_out(r"^#301 accepted: sent$")
        s = self.status(301, ST.Value("ORDER_ACCEPTED"))
        self.assertTrue(s.exercise, "a report about an exercise order is an exercise")
        a.say("accept 301")
        a.wait_out(r"^error: order #301 is already accepted")
        a.say("delay 301 traffic")
        self.status(301, ST.Value("ORDER_ACCEPTED"), delay=pb.DELAY_TRAFFIC)
        for cmd, st in (("enroute", "ORDER_EN_ROUTE"), ("onscene", "ORDER_ON_SCENE"),
                        ("clear", "ORDER_CLEARED")):
            a.say(f"{cmd} #301")
            self.status(301, ST.Value(st))
        a.wait_out(r"^#301 cleared: recorded$")
        a.say("clear 301")
        a.wait_out(r"^error: order #301 is already cleared")
        self.fake.order(302, self.units[1][0])
        self.fake.ack(self.receipt(302))
        a.say("decline 302  no crew   today ")
        s = self.status(302, ST.Value("ORDER_DECLINED"))
        self.assertEqual(s.status.note, "no crew   today")
        a.say("list")
        a.wait_out(r"^#301 .*cleared .*charging shed fire")
        a.wait_out(r"^#302 .*declined")
        a.say("help")
        a.wait_out(r"delay ID REASON")
        self.quiet(0.5)  # the bad commands sent nothing
        self.assertEqual(a.stop(), 0)

    # ---- --exec ----

    def test_exec(self):
        script = os.path.join(self.tmp, "unit.py")
        seen = os.path.join(self.tmp, "seen.jsonl")
        with open(script, "w") as f:
            f.write(f"""
import json, sys
seen = open({seen!r}, "a")
def say(o):
    print(json.dumps(o) if isinstance(o, dict) else o, flush=True)
for line in sys.stdin:
    seen.write(line); seen.flush()
    m = json.loads(line)
    oid = m["order_id"]
    if m["type"] == "order":
        say("this is not JSON")
        say({{"order_id": oid, "status": "flying"}})
        say({{"order_id": oid, "status": "en_route"}})
        say({{"order_id": oid, "status": "accepted", "note": "on our way"}})
    elif m["type"] == "ack" and m["status"] == "accepted":
        say({{"order_id": oid, "status": "en_route", "delay_reason": "traffic"}})
    elif m["type"] == "ack" and m["status"] == "en_route":
        say({{"order_id": oid, "status": "on_scene"}})
    elif m["type"] == "refused" and m["code"] == "NOT_YOURS":
        sys.exit(3)
""")
        a = self.agent("--exec", f"{sys.executable} {script}")
        unit = self.units[2][0]
        self.fake.order(401, unit, exercise=True)
        self.fake.ack(self.receipt(401))
        self.fake.order(401, unit, attempt=2)  # a copy: receipted, not handed over again
        # The program may answer "accepted" before the copy arrives: then that status is
        # already queued, and the copy's receipt goes out behind it. Either order is right.
        first = self.report(("receipt", "status"))
        self.fake.ack(first)
        second = self.report(("receipt", "status"))
        self.fake.ack(second)
        got = {e.WhichOneof("body"): e for e in (first, second)}
        self.assertEqual(set(got), {"receipt", "status"})
        self.assertEqual(got["receipt"].receipt.order_id, 401)
        s = got["status"]
        self.assertEqual((s.status.order_id, s.status.status), (401, ST.Value("ORDER_ACCEPTED")))
        self.assertEqual(s.status.note, "on our way")
        self.status(401, ST.Value("ORDER_EN_ROUTE"), delay=pb.DELAY_TRAFFIC)
        s = self.status(401, ST.Value("ORDER_ON_SCENE"), ack=False)
        self.fake.refuse(s, pb.NOT_YOURS, "order 401 is not yours")
        rc = a.p.wait(timeout=TIMEOUT)
        self.assertNotEqual(rc, 0)
        self.assertRegex(a.log(), r"program exited with status 3")
        self.assertRegex(a.log(), r"bad JSON")
        self.assertRegex(a.log(), r"status flying")
        a.stop()
        with open(seen) as f:
            lines = [json.loads(l) for l in f]
        orders = [m for m in lines if m["type"] == "order"]
        self.assertEqual(len(orders), 1, lines)
        o = orders[0]
        self.assertEqual((o["order_id"], o["incident_id"], o["unit_id"], o["role"], o["group"],
                          o["commander"], o["summary"], o["attempt"], o["tier"],
                          o["exercise"]),
                         (401, 7, unit, "first_attack", "emergency_response", "fe-s01-1",
                          "charging shed fire", 1, 2, True))
        self.assertEqual(o["location"]["place"], "s01-c01")
        self.assertAlmostEqual(o["location"]["lat"], INCIDENT[0])
        self.assertEqual(o["notes"], ["hydrant at the north gate"])
        self.assertEqual(o["members"][0]["unit_id"], "vg-s01c01-g1-1")
        self.assertGreater(o["ring_deadline_ms"], o["receipt_deadline_ms"])
        rest = [(m["type"], m["status"], m.get("code")) for m in lines[1:]]
        self.assertEqual(rest, [("refused", "en_route", "INVALID_STATE"),
                                ("ack", "accepted", None), ("ack", "en_route", None),
                                ("refused", "on_scene", "NOT_YOURS")])

    # ---- --simulate ----

    def model(self, text):
        path = os.path.join(self.tmp, f"model-{time.monotonic_ns()}.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_simulate_accepts_goes_arrives_clears(self):
        m = self.model('models = ( { kind = "*"; turnout_s = [1, 2]; speed_kmh = 60.0;'
                       ' decline = 0.0; no_show = 0.0; clear_s = 5; } );')
        a = self.agent("--simulate", "--model", m, "--seed", "42", "--speed", "50")
        unit = self.units[0][0]
        self.fake.order(501, unit)
        self.fake.ack(self.receipt(501))
        t0 = time.monotonic()
        self.status(501, ST.Value("ORDER_ACCEPTED"))
        self.status(501, ST.Value("ORDER_EN_ROUTE"))
        t1 = time.monotonic()
        s = self.status(501, ST.Value("ORDER_ON_SCENE"))
        t2 = time.monotonic()
        self.assertAlmostEqual(s.status.position.lat, INCIDENT[0], places=6)
        self.status(501, ST.Value("ORDER_CLEARED"))
        # Turnout 1-2 s and travel 556 m * 1.3 at 60 km/h = 43 s, all divided by 50.
        self.assertGreater(t1 - t0, 0.015)
        self.assertLess(t1 - t0, 1.0)
        self.assertGreater(t2 - t1, 0.6)
        self.assertLess(t2 - t1, 2.5)
        busy = [u for hb in self.fake.heartbeats for u in hb.heartbeat.units
                if u.unit_id == unit and u.status == pb.UNIT_BUSY]
        self.assertTrue(busy, "the unit was never busy")
        hb = self.fake.next(5, kinds=("heartbeat",))
        u = [u for u in hb.heartbeat.units if u.unit_id == unit][0]
        self.assertEqual(u.status, pb.UNIT_AVAILABLE)
        self.assertAlmostEqual(u.position.lat, INCIDENT[0], places=6)
        self.assertEqual(a.stop(), 0)

    def test_simulate_decline_no_show_and_kinds(self):
        m = self.model('models = ( { kind = "*"; decline = 1.0; no_show = 0.0; },\n'
                       '  { kind = "fire_engine"; no_show = 1.0; } );')
        a = self.agent("--simulate", "--model", m, "--seed", "1", "--speed", "50")
        ms, fe = self.units[0][0], self.units[2][0]
        self.fake.order(601, ms)
        self.fake.ack(self.receipt(601))
        self.status(601, ST.Value("ORDER_DECLINED"))
        self.fake.order(602, fe)
        self.fake.ack(self.receipt(602))
        a.wait_out(rf"^sim: #602 {fe} \(fire_engine\): no show$")
        self.quiet(1.0)
        self.assertEqual(a.stop(), 0)

    def run_sim(self, seed):
        """Twelve orders to a model that declines, fails to show or goes; returns what each
        order's unit did, as the agent printed it and as the fake daemon was told."""
        m = self.model('models = ( { kind = "*"; turnout_s = [0, 1]; decline = 0.4;'
                       ' no_show = 0.3; clear_s = 0; } );')
        a = self.agent("--simulate", "--model", m, "--seed", str(seed), "--speed", "50")
        decided, told = [], {}

        def take(pred):
            while True:
                e = self.fake.next()
                self.assertIsNotNone(e, "the agent went quiet")
                self.fake.ack(e)
                if e.WhichOneof("body") == "status":
                    told.setdefault(e.status.order_id, []).append(e.status.status)
                if pred(e):
                    return

        for i in range(12):
            oid = 700 + i
            self.fake.order(oid, self.units[i % 4][0])
            take(lambda e: e.WhichOneof("body") == "receipt" and e.receipt.order_id == oid)
            decided.append(a.wait_out(rf"^sim: #{oid} "))
        going = {700 + i for i, d in enumerate(decided) if d.endswith(" accepted")}
        arrived = lambda: all(ST.Value("ORDER_ON_SCENE") in told.get(o, []) for o in going)
        if not arrived():
            take(lambda e: arrived())
        self.assertEqual(a.stop(), 0)
        return decided, told

    def test_simulate_is_deterministic(self):
        first = self.run_sim(99)
        second = self.run_sim(99)
        self.assertEqual(first, second)
        kinds = {l.rsplit(" ", 1)[1] for l in first[0]}
        self.assertEqual(kinds, {"accepted", "declined", "show"}, first)
        go = [ST.Value(s) for s in ("ORDER_ACCEPTED", "ORDER_EN_ROUTE", "ORDER_ON_SCENE")]
        for oid, statuses in first[1].items():
            self.assertIn(statuses, (go, [ST.Value("ORDER_DECLINED")]), oid)

    def test_bad_model_file(self):
        m = self.model('models = ( { kind = "*"; decline = 2.0; } );')
        p = subprocess.run([AGENT, "-c", self.d.dir, "-k", "keys/agent-fire.key",
                            "--simulate", "--model", m], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stderr, r"model-\d+\.conf:1: decline and no_show are probabilities")


if __name__ == "__main__":
    main()
