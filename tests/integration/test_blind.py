"""Double-blind drills (`muster drill arm`), on a real daemon in real time: the daemon picks the
start inside the window and nobody learns it by any request (operator, observer or coordinator),
by the feed or from a snapshot while the drill is armed; the incidents then appear as exercise
incidents opened by drill:<id> inside the window, and the end reveals the start. An abort stops
what is left; bad arms are refused; an armed drill survives a restart with the same start."""
import json
import os
import re
import sqlite3
import struct
import time

import zmq

from harness import TIMEOUT, DaemonTest, main, pb, verify_chain

COORD = "keys/coordinator.key"

# Two incidents in a 2-second drill.
TWO = """
name = "Sealed e-bike fire";
seed = 11;
start = "2026-01-01T00:00:00";
duration = "2s";
injects = (
    { at = "00:00"; incident = { id = "a"; type = "fire.ebike"; place = "s01-c01";
        casualties = 1; description = "charging shed"; }; },
    { at = "00:01"; incident = { id = "b"; type = "flood"; place = "s02-c01"; }; }
);
"""


def now_ms():
    return int(time.time() * 1000)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encodings(v):
    """Every form in which the value V could travel: decimal text (JSON, logs), a protobuf
    varint, 8-byte integers either way round, SQLite's 6-byte big-endian record integer."""
    return [str(v).encode(), varint(v), struct.pack("<q", v), struct.pack(">q", v),
            v.to_bytes(6, "big")]


class Blind(DaemonTest):
    def setUp(self):
        super().setUp()
        self.feed = self.raw("feed", sock_type=zmq.SUB, key=self.d.key("observer.key"))

    # ---- helpers ----

    def role(self, name):
        return self.raw("control", key=self.d.key(f"{name}.key"))

    def scenario(self, text, name="s.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def call_bytes(self, raw, **kw):
        """Sends one request and returns the reply's frame as received, and the reply."""
        e = raw.envelope(**kw)
        raw.send(e)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not raw.s.poll(100):
                continue
            data = raw.s.recv_multipart()[-1]
            r = pb.Envelope()
            r.ParseFromString(data)
            if r.correlation_id == e.correlation_id:
                return data, r
        self.fail(f"no reply to {list(kw)}")

    def feed_recv(self, timeout):
        """The next feed message as (frames' bytes, envelope), or None."""
        if not self.feed.s.poll(int(timeout * 1000)):
            return None
        frames = self.feed.s.recv_multipart()
        e = pb.Envelope()
        e.ParseFromString(frames[-1])
        return b"".join(frames), e

    def feed_ready(self):
        """Waits until the feed subscription is live: an agent registers until its
        agent.registered event arrives."""
        agent = self.raw("agents", key=self.d.key("agent-police.key"))
        agent.seq = int(time.time() * 1e6)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            r = agent.call(register=pb.Register(agent_version="feed-probe"))
            self.assertIsNotNone(r)
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                f = self.feed_recv(0.1)
                if f and f[1].event.kind == "agent.registered":
                    return
        self.fail("the feed never connected")

    def get_drill(self, raw, did):
        r = raw.call(get_drill=pb.GetDrill(id=did))
        self.assertEqual(r.WhichOneof("body"), "drill_reply", r)
        return r.drill_reply.drill

    def wait_state(self, raw, did, states, timeout=30, on_feed=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            f = self.feed_recv(0.2)
            while f is not None:
                if on_feed:
                    on_feed(*f)
                f = self.feed_recv(0)
            d = self.get_drill(raw, did)
            if d.state in states:
                return d
        self.fail(f"drill #{did} never reached {states}:\n{self.d.log_text()}")

    def arm(self, raw, name, lead_ms, window_ms, duration_ms, injects):
        now = now_ms()
        r = raw.call(arm_drill=pb.ArmDrill(
            name=name, window_from_ms=now + lead_ms, window_to_ms=now + lead_ms + window_ms,
            duration_ms=duration_ms,
            injects=[pb.DrillInject(at_ms=at, incident=pb.SubmitIncident(
                type=t, location=pb.Location(place=p))) for at, t, p in injects]))
        self.assertEqual(r.WhichOneof("body"), "drill_reply", r)
        return r.drill_reply.drill

    def drill_incidents(self, raw, did):
        r = raw.call(list_incidents=pb.ListIncidents(include_closed=True, limit=1000))
        return [i for i in r.incident_list.incidents if i.opened_by == f"drill:{did}"]

    # ---- tests ----

    def test_sealed_until_the_end(self):
        self.feed_ready()
        coord, op, obs = self.role("coordinator"), self.role("operator"), self.role("observer")
        path = self.scenario(TWO)
        p = self.d.muster("drill", "arm", path, "--window", "+2s..+8s", key=COORD)
        did = int(re.search(r"drill #(\d+) armed: 2 incidents, window ", p.stdout).group(1))
        self.assertIn("sealed", p.stdout)
        seen = [p.stdout.encode(), p.stderr.encode()]
        snapshots = []

        # While armed: every read anyone may send, and what the others may not.
        for who, raw in (("operator", op), ("observer", obs), ("coordinator", coord)):
            for body in (dict(list_incidents=pb.ListIncidents(include_closed=True)),
                         dict(get_incident=pb.GetIncident(id=1)),
                         dict(get_whistle=pb.GetWhistle(id=1)),
                         dict(get_drill=pb.GetDrill(id=did)),
                         dict(snapshot=pb.Snapshot(name=f"armed-{who}.db"))):
                data, r = self.call_bytes(raw, **body)
                seen.append(data)
                kind = r.WhichOneof("body")
                if "get_drill" in body and who != "coordinator":
                    self.assertEqual((kind, r.error.code), ("error", pb.FORBIDDEN), who)
                elif "get_drill" in body:
                    self.assertEqual(kind, "drill_reply", r)
                    dr = r.drill_reply.drill
                    self.assertEqual((dr.state, dr.started_at_ms, dr.injects, dr.fired),
                                     ("armed", 0, 2, 0))
                    self.assertEqual(dr.armed_by, "coordinator:drill")
                    window = (dr.window_from_ms, dr.window_to_ms)
                elif "snapshot" in body:
                    self.assertEqual(kind, "snapshot_reply", r)
                    snapshots.append(r.snapshot_reply.path)
                elif "list_incidents" in body:
                    self.assertEqual(len(r.incident_list.incidents), 0)
                else:
                    self.assertEqual(r.error.code, pb.NOT_FOUND, (who, body))
            if who != "coordinator":
                for body in (dict(abort_drill=pb.AbortDrill(id=did, reason="peek")),
                             dict(arm_drill=pb.ArmDrill(name="x"))):
                    data, r = self.call_bytes(raw, **body)
                    seen.append(data)
                    self.assertEqual(r.error.code, pb.FORBIDDEN, (who, body))
        shown = self.d.muster("drill", "show", str(did), "--json", key=COORD)
        seen += [shown.stdout.encode(), self.d.muster("drill", "show", str(did),
                                                      key=COORD).stdout.encode()]
        self.assertEqual(json.loads(shown.stdout)["started_at_ms"], 0)
        refused = self.d.muster("drill", "show", str(did), check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("FORBIDDEN", refused.stderr)
        self.assertLess(now_ms(), window[0], "the probes outlasted the window's lead")
        seen.append(self.d.log_text().encode())
        for path_ in snapshots:
            with open(path_, "rb") as f:
                seen.append(f.read())
            con = sqlite3.connect(path_)
            self.assertEqual(con.execute("SELECT start_ms, name FROM drills").fetchall(),
                             [(0, "")])
            self.assertEqual(con.execute("SELECT count(*) FROM drill_injects WHERE "
                                         "length(incident) > 0").fetchone()[0], 0)
            con.close()

        # Then the drill runs; the feed is kept apart until drill.started.
        armed_feed, events, started = [], [], []

        def on_feed(data, e):
            if e.event.kind == "drill.started":
                started.append(e.event)
            if not started:
                armed_feed.append(data)
            events.append(e.event)

        d = self.wait_state(coord, did, ("done",), on_feed=on_feed)
        while (f := self.feed_recv(0.3)) is not None:
            on_feed(*f)
        start = d.started_at_ms
        self.assertTrue(window[0] <= start <= window[1] - 2000, (window, start))
        self.assertEqual((d.fired, d.failed, d.injects, len(d.incident_ids)), (2, 0, 2, 2))
        self.assertGreater(d.ended_at_ms, start)
        for iid in d.incident_ids:
            inc = op.call(get_incident=pb.GetIncident(id=iid)).incident_reply.incident
            self.assertTrue(inc.exercise)
            self.assertEqual(inc.opened_by, f"drill:{did}")
            self.assertTrue(start <= inc.received_at_ms <= window[1], inc.received_at_ms)
        self.assertEqual(sorted(self.drill_incidents(op, did)[k].type for k in range(2)),
                         ["fire.ebike", "flood"])
        kinds = [e.kind for e in events]
        for k in ("drill.armed", "drill.started", "incident.opened", "drill.ended"):
            self.assertIn(k, kinds)
        armed_ev = json.loads(next(e for e in events if e.kind == "drill.armed").body_json)
        self.assertNotIn("name", armed_ev)
        self.assertEqual((armed_ev["window_from_ms"], armed_ev["window_to_ms"]), window)
        ended = json.loads(next(e for e in events if e.kind == "drill.ended").body_json)
        self.assertEqual((ended["started_at_ms"], ended["name"]), (start, "Sealed e-bike fire"))
        self.assertTrue(all(e.exercise for e in events if e.kind.startswith("drill.")))

        # Nothing seen while armed carries the start, in any encoding.
        if start in window:
            print(f"start {start} is a window bound: its bytes cannot be told apart")
        else:
            self.assertTrue(armed_feed)
            for blob in seen + armed_feed:
                for enc in encodings(start):
                    self.assertNotIn(enc, blob)

        # The store kept the start that was revealed; the timeline is intact.
        self.d.stop()
        con = sqlite3.connect(self.d.db())
        self.assertEqual(con.execute("SELECT start_ms, state FROM drills WHERE id = ?",
                                     (did,)).fetchone(), (start, 2))
        bodies = [json.loads(b) for (b,) in con.execute(
            "SELECT body FROM timeline WHERE kind = 'drill.armed'")]
        con.close()
        self.assertTrue(bodies and all(str(start) not in json.dumps(b) for b in bodies))
        verify_chain(self.d.db())

    def test_abort_before_and_after_the_start(self):
        coord, op = self.role("coordinator"), self.role("operator")
        # Aborted while armed: nothing ever fires and the start is never told.
        early = self.arm(coord, "never", 3000, 3000, 1000, [(0, "fire.ebike", "s01-c01")])
        r = coord.call(abort_drill=pb.AbortDrill(id=early.id, reason="called off"))
        self.assertEqual(r.WhichOneof("body"), "drill_reply", r)
        self.assertEqual((r.drill_reply.drill.state, r.drill_reply.drill.started_at_ms),
                         ("aborted", 0))
        r = coord.call(abort_drill=pb.AbortDrill(id=early.id, reason="again"))
        self.assertEqual(r.error.code, pb.INVALID_STATE)
        r = coord.call(abort_drill=pb.AbortDrill(id=early.id))
        self.assertEqual(r.error.code, pb.BAD_REQUEST)
        # Aborted after its first inject: the second never fires, the first is closed.
        late = self.arm(coord, "half", 1000, 3500, 3000,
                        [(0, "fire.ebike", "s01-c01"), (3000, "flood", "s02-c01")])
        deadline = time.monotonic() + 15
        while not self.drill_incidents(op, late.id) and time.monotonic() < deadline:
            time.sleep(0.1)  # polling the daemon, the only way to see the random start
        self.assertEqual(len(self.drill_incidents(op, late.id)), 1, self.d.log_text())
        r = coord.call(abort_drill=pb.AbortDrill(id=late.id, reason="real fire nearby"))
        d = r.drill_reply.drill
        self.assertEqual((d.state, d.fired, d.abort_reason), ("aborted", 1, "real fire nearby"))
        self.assertTrue(late.window_from_ms <= d.started_at_ms <= late.window_to_ms - 3000)
        # Past both windows: nothing more happened.
        while now_ms() < max(late.window_to_ms, early.window_to_ms) + 1000:
            time.sleep(0.1)
        incs = self.drill_incidents(op, late.id)
        self.assertEqual(len(incs), 1)
        self.assertEqual(incs[0].state, pb.INCIDENT_CLOSED)
        self.assertEqual(incs[0].close_reason, "drill aborted: real fire nearby")
        self.assertEqual(self.drill_incidents(op, early.id), [])
        self.assertEqual(self.get_drill(coord, late.id).fired, 1)
        self.assertEqual(self.get_drill(coord, early.id).state, "aborted")
        self.d.stop()
        con = sqlite3.connect(self.d.db())
        ab = {json.loads(b)["drill"]: json.loads(b) for (b,) in con.execute(
            "SELECT body FROM timeline WHERE kind = 'drill.aborted'")}
        con.close()
        self.assertNotIn("started_at_ms", ab[early.id])
        self.assertNotIn("name", ab[early.id])
        self.assertEqual(ab[late.id]["started_at_ms"], d.started_at_ms)
        self.assertEqual(ab[late.id]["closed"], [incs[0].id])
        verify_chain(self.d.db())

    def test_bad_arms(self):
        path = self.scenario(TWO)

        def arm(window, scenario=path, key=COORD):
            return self.d.muster("drill", "arm", scenario, "--window", window, key=key,
                                 check=False)

        p = arm("2020-01-01..2020-01-02T12:00")
        self.assertEqual(p.returncode, 1)
        self.assertIn("the window must open in the future", p.stderr)
        p = arm("+1m..+61s")  # one second of window for a two-second drill
        self.assertEqual(p.returncode, 1)
        self.assertIn("does not fit in the window", p.stderr)
        p = arm("+1m..+2m", key=None)  # the operator's key
        self.assertEqual(p.returncode, 1)
        self.assertIn("refused (FORBIDDEN)", p.stderr)
        p = arm("soon..later")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--window 'soon..later'", p.stderr)
        # Injects other than incidents and surges are named with their lines.
        other = self.scenario(TWO.replace(
            '    { at = "00:01"; incident = { id = "b"; type = "flood"; place = "s02-c01"; }; }',
            '    { at = "00:01"; update = { ref = "a"; casualties = 2; }; },\n'
            '    { at = "00:01"; whistle = { place = "s03"; matter = "m"; deadline = "30m";\n'
            '        departments = ["housing"]; rank = "staff"; headcount = 1; }; }'),
            "other.conf")
        p = arm("+1m..+2m", scenario=other)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{other}:9: inject #2 (update): only incident and surge injects",
                      p.stderr)
        self.assertIn(f"{other}:10: inject #3 (whistle)", p.stderr)
        # What only the daemon checks is reported at the scenario line too.
        long_desc = self.scenario(TWO.replace('place = "s02-c01";',
                                              f'place = "s02-c01"; description = "{"x" * 4001}";'),
                                  "long.conf")
        p = arm("+1m..+2m", scenario=long_desc)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(f"{long_desc}:9: inject #2 (incident): refused by musterd "
                      "(INVALID_ARGUMENT, field description): description longer", p.stderr)
        # The protocol's own checks.
        coord = self.role("coordinator")
        now = now_ms()
        good = dict(name="x", window_from_ms=now + 60000, window_to_ms=now + 120000,
                    duration_ms=1000)
        inc = pb.SubmitIncident(type="fire.ebike", location=pb.Location(place="s01-c01"))
        for kw, code, field in (
                (dict(injects=[]), pb.INVALID_ARGUMENT, "injects"),
                (dict(injects=[pb.DrillInject(at_ms=1001, incident=inc)]),
                 pb.INVALID_ARGUMENT, "injects[0]"),
                (dict(injects=[pb.DrillInject(at_ms=0)]), pb.BAD_REQUEST, "injects[0]"),
                (dict(injects=[pb.DrillInject(at_ms=0, incident=inc),
                               pb.DrillInject(at_ms=0, incident=pb.SubmitIncident(
                                   type="fire.ebike", location=pb.Location(place="nowhere")))]),
                 pb.INVALID_ARGUMENT, "injects[1].location.place"),
                (dict(injects=[pb.DrillInject(at_ms=500, incident=inc),
                               pb.DrillInject(at_ms=100, incident=inc)]),
                 pb.INVALID_ARGUMENT, "injects[1]"),
                (dict(name="", injects=[pb.DrillInject(incident=inc)]), pb.BAD_REQUEST, "name"),
                (dict(duration_ms=0, injects=[pb.DrillInject(incident=inc)]),
                 pb.INVALID_ARGUMENT, "duration_ms"),
                (dict(window_to_ms=now + 60000, injects=[pb.DrillInject(incident=inc)]),
                 pb.INVALID_ARGUMENT, "window_to_ms"),
                (dict(injects=[pb.DrillInject(incident=inc)] * 1001),
                 pb.INVALID_ARGUMENT, "injects")):
            args = dict(good)
            args.update(kw)
            r = coord.call(arm_drill=pb.ArmDrill(**args))
            self.assertEqual(r.WhichOneof("body"), "error", kw)
            self.assertEqual((r.error.code, r.error.field), (code, field), r.error.message)
        self.assertEqual(coord.call(get_drill=pb.GetDrill(id=99)).error.code, pb.NOT_FOUND)
        obs = self.role("observer")
        r = obs.call(arm_drill=pb.ArmDrill(injects=[pb.DrillInject(incident=inc)], **good))
        self.assertEqual(r.error.code, pb.FORBIDDEN)
        self.d.stop()
        con = sqlite3.connect(self.d.db())
        self.assertEqual(con.execute("SELECT count(*) FROM drills").fetchone()[0], 0)
        con.close()

    def test_restart_keeps_the_seal(self):
        coord = self.role("coordinator")
        kept = self.arm(coord, "kept", 4000, 4000, 1000, [(0, "fire.ebike", "s01-c01"),
                                                          (1000, "flood", "s02-c01")])
        missed = self.arm(coord, "missed", 1000, 1000, 500, [(0, "flood", "s03-c01")])
        self.d.stop()
        con = sqlite3.connect(self.d.db())
        sealed = dict(con.execute("SELECT id, start_ms FROM drills WHERE state = 0"))
        con.close()
        self.assertEqual(set(sealed), {kept.id, missed.id})
        # musterd is down through the whole of the short window.
        while now_ms() < missed.window_to_ms + 300:
            time.sleep(0.05)
        self.d.start()
        coord = self.role("coordinator")
        d = self.get_drill(coord, kept.id)
        self.assertEqual((d.state, d.started_at_ms), ("armed", 0))
        m = self.wait_state(coord, missed.id, ("aborted",), timeout=5)
        self.assertEqual(m.abort_reason, "the window passed while musterd was not running")
        self.assertEqual(m.fired, 0)
        d = self.wait_state(coord, kept.id, ("done",))
        self.assertEqual(d.started_at_ms, sealed[kept.id])
        self.assertEqual(d.fired, 2)
        op = self.role("operator")
        incs = self.drill_incidents(op, kept.id)
        self.assertEqual(len(incs), 2)
        self.assertTrue(all(i.exercise and i.received_at_ms >= sealed[kept.id] for i in incs))
        self.assertEqual(self.drill_incidents(op, missed.id), [])
        self.d.stop()
        verify_chain(self.d.db())


if __name__ == "__main__":
    main()
