"""The heartbeat limit (issue 6, bounded resources). Every heartbeat in which a unit moved is
recorded whole, for replay, so an agent sending heartbeats as fast as it can would grow the
database at its send rate, until max_db_pages refused everyone's work. An agent may therefore
send at most one heartbeat per heartbeat_min_ms (1,000 by default) over time, after a burst of
10. One beyond that is refused with RESOURCE_EXHAUSTED, and applies and records nothing.

These tests show that:
- a runaway agent is held to the limit, and every refusal is counted, told and logged within
  bounds;
- another agent keeping to its interval is never refused, and SIGHUP can lift the limit;
- the real muster-agent spaces its heartbeats, so it is never refused, even when many of its
  orders change at once.
"""
import json
import math
import os
import re
import sqlite3
import subprocess
import time

from harness import AGENT, TIMEOUT, DaemonTest, main, pb, read_line

BURST = 10
MIN_MS = 1000  # the default heartbeat_min_ms


def places(d):
    text = open(os.path.join(d.dir, "district.conf")).read()
    comm = text[re.search(r"^communities\s*=", text, re.M).start():]
    return re.findall(r'id\s*=\s*"([^"]+)";', comm)


def heartbeats_recorded(db_path, identity):
    """The wall-clock times of IDENTITY's recorded heartbeats (a heartbeat that changed nothing
    is recorded without its body), in order."""
    db = sqlite3.connect(db_path)
    try:
        times = []
        for wall_ms, body in db.execute("SELECT wall_ms, body FROM inputs WHERE identity = ? "
                                        "AND socket = 1 ORDER BY seq", (identity,)):
            if body is None:
                times.append(wall_ms)
                continue
            e = pb.Envelope()
            e.ParseFromString(body)
            if e.WhichOneof("body") == "heartbeat":
                times.append(wall_ms)
        return times
    finally:
        db.close()


class Runaway(DaemonTest):

    def register(self, key):
        a = self.raw("agents", key=self.d.key(key))
        r = a.call(register=pb.Register(agent_version="test"))
        self.assertIsNotNone(r)
        self.assertEqual(r.WhichOneof("body"), "registered", r)
        return a, r.registered

    def beat(self, agent, units, k, cid=True):
        """A heartbeat that moves every unit a little (so that it is recorded whole)."""
        e = agent.envelope(heartbeat=pb.Heartbeat(units=[pb.UnitState(
            unit_id=u.unit_id, status=pb.UNIT_AVAILABLE, position=pb.Coordinates(
                lat=u.position.lat + 1e-6 * (k % 50), lon=u.position.lon))
            for u in units]))
        if not cid:
            e.correlation_id = 0
        agent.send(e)
        return e

    def test_a_runaway_agent_is_held_to_the_limit_and_others_are_not(self):
        seconds = 3.0
        runaway, reg = self.register("agent-police.key")
        steady, sreg = self.register("agent-fire.key")
        self.assertEqual(reg.heartbeat_min_ms, MIN_MS)
        self.assertEqual(reg.heartbeat_interval_ms, 5000)

        applied, refused, other, steady_ok = [], [], [], []

        def take(e):
            kind = e.WhichOneof("body")
            if kind == "report_ack" and e.report_ack.code == pb.OK:
                applied.append(e.correlation_id)
            elif kind == "error" and e.error.code == pb.RESOURCE_EXHAUSTED:
                refused.append(e)
            else:
                other.append(e)

        sent = 0
        t0 = time.monotonic()
        next_steady = t0
        while time.monotonic() < t0 + seconds:
            self.beat(runaway, reg.units, sent)
            sent += 1
            while True:
                e = runaway.recv(timeout=0)
                if e is None:
                    break
                take(e)
            if time.monotonic() >= next_steady:
                # An agent keeping to heartbeat_min_ms, moving its units each time.
                e = self.beat(steady, sreg.units, len(steady_ok))
                r = steady.recv(timeout=5.0)
                self.assertIsNotNone(r)
                self.assertEqual(r.correlation_id, e.correlation_id)
                self.assertEqual(r.WhichOneof("body"), "report_ack", r)
                self.assertEqual(r.report_ack.code, pb.OK)
                steady_ok.append(r)
                next_steady += (MIN_MS + 100) / 1000
            time.sleep(0.002)
        while len(applied) + len(refused) + len(other) < sent:
            e = runaway.recv(timeout=5.0)
            self.assertIsNotNone(e, f"{sent - len(applied) - len(refused)} heartbeats unanswered")
            take(e)

        # A heartbeat as muster-agent sends it (correlation id 0) is answered only when
        # refused, with an ErrorReply naming the field: past the allowance again (what accrued
        # while the answers were read is less than the burst), one is.
        for k in range(BURST + 2):
            self.beat(runaway, reg.units, sent)
            sent += 1
        self.beat(runaway, reg.units, sent, cid=False)
        zero = None
        while len(applied) + len(refused) + len(other) < sent or zero is None:
            e = runaway.recv(timeout=5.0)
            self.assertIsNotNone(e, "a heartbeat with correlation id 0 was not refused")
            if e.correlation_id == 0:
                zero = e
            else:
                take(e)
        self.assertEqual(zero.WhichOneof("body"), "error", zero)
        self.assertEqual((zero.error.code, zero.error.field), (pb.RESOURCE_EXHAUSTED, "heartbeat"))
        refused.append(zero)
        elapsed = time.monotonic() - t0

        status = json.loads(self.d.muster("status", "--json", key="keys/observer.key").stdout)
        # Told as a resource.limit event at the next tick (four times a second).
        time.sleep(0.5)
        print(f"\nheartbeat: runaway sent {sent + 1} in {elapsed:.1f} s: {len(applied)} "
              f"applied, {len(refused)} refused; the steady agent {len(steady_ok)} of "
              f"{len(steady_ok)} applied", flush=True)

        self.assertEqual(other, [])
        self.assertGreater(sent, 3 * (BURST + seconds))
        # The burst, then one per heartbeat_min_ms.
        self.assertGreaterEqual(len(applied), BURST + math.floor(seconds) - 1)
        self.assertLessEqual(len(applied), BURST + math.ceil(elapsed * 1000 / MIN_MS) + 1)
        for e in refused:
            self.assertEqual(e.error.field, "heartbeat")
            self.assertRegex(e.error.message, r"at most one per 1000 ms after a burst of 10; "
                                              r"this one was not applied, send the next in \d+ ms")
        self.assertGreaterEqual(len(steady_ok), 3)
        self.assertEqual(status["heartbeats_refused"], len(refused))
        self.assertEqual(status["refused_at_limit"], 0)

        # Lifting the limit takes a SIGHUP.
        self.d.set_conf({"heartbeat_min_ms": 0})
        self.d.hup()
        self.d.wait_log(r"reload")
        for k in range(3 * BURST):
            e = self.beat(runaway, reg.units, 1000 + k)
            r = runaway.recv(timeout=5.0)
            self.assertEqual((r.correlation_id, r.WhichOneof("body")),
                             (e.correlation_id, "report_ack"), r)

        self.d.stop()
        # A refused heartbeat recorded nothing: the database holds exactly the applied ones.
        self.assertEqual(len(heartbeats_recorded(self.d.db(), "agent:police")),
                         len(applied) + 3 * BURST)
        self.assertEqual(len(heartbeats_recorded(self.d.db(), "agent:fire")), len(steady_ok))
        db = sqlite3.connect(self.d.db())
        try:
            told = [json.loads(b) for (b,) in db.execute(
                "SELECT body FROM timeline WHERE kind = 'resource.limit' ORDER BY seq")]
        finally:
            db.close()
        told = [t for t in told if t["gauge"] == "heartbeats"]
        self.assertGreaterEqual(len(told), 1)
        self.assertEqual((told[0]["limit"], told[0]["burst"]), (MIN_MS, BURST))
        self.assertLessEqual(sum(t["refused"] for t in told), len(refused))
        # The log names the agent, at most 10 times per 10 s.
        log = self.d.log_text()
        lines = log.count("agent:police: heartbeat refused")
        self.assertGreater(lines, 0)
        self.assertLessEqual(lines, 10 * (int(elapsed / 10) + 2))
        self.assertNotIn("agent:fire: heartbeat refused", log)


class RealAgent(DaemonTest):
    """muster-agent brings its heartbeat forward on every status change and every arrival, and
    with many orders at once those come in quick succession: it spaces them by the
    heartbeat_min_ms it was given, so the daemon never refuses one."""

    def test_muster_agent_is_never_refused(self):
        model = os.path.join(self.tmp, "model.conf")
        with open(model, "w") as f:
            f.write('models = ( { kind = "*"; turnout_s = [0, 30]; speed_kmh = 30.0; '
                    'decline = 0.0; no_show = 0.0; clear_s = 30; } );\n')
        agent = subprocess.Popen(
            [AGENT, "-c", self.d.dir, "-k", "keys/agent-fire.key", "--simulate", "--model",
             model, "--seed", "5", "--speed", "5"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertIn("registered", read_line(agent.stdout))
            op = self.raw("control", key=self.d.key("coordinator.key"))
            t0 = time.monotonic()
            ids = []
            for place in places(self.d)[:8]:
                r = op.call(submit_incident=pb.SubmitIncident(
                    type="fire.ebike", location=pb.Location(place=place)))
                self.assertEqual(r.WhichOneof("body"), "incident_reply", r)
                ids.append(r.incident_reply.incident.id)
            # Until every fire order is cleared (or taken away), and its heartbeat has gone.
            deadline = time.monotonic() + 3 * TIMEOUT
            fire = []
            while time.monotonic() < deadline:
                fire = [m for i in ids for m in op.call(get_incident=pb.GetIncident(id=i))
                        .incident_reply.incident.members if m.agent == "agent:fire"]
                if fire and all(m.status >= pb.ORDER_CLEARED for m in fire):
                    break
                time.sleep(0.2)
            self.assertTrue(fire and all(m.status >= pb.ORDER_CLEARED for m in fire),
                            [(m.member_id, m.status) for m in fire])
            time.sleep(2 * MIN_MS / 1000)
            elapsed = time.monotonic() - t0
            status = json.loads(
                self.d.muster("status", "--json", key="keys/observer.key").stdout)
        finally:
            agent.terminate()
            err = agent.communicate(timeout=TIMEOUT)[1]
        self.d.stop()
        beats = heartbeats_recorded(self.d.db(), "agent:fire")
        gaps = [b - a for a, b in zip(beats, beats[1:])] or [0]
        print(f"\nheartbeat: muster-agent, {len(fire)} orders in {elapsed:.1f} s: "
              f"{len(beats)} heartbeats, the closest {min(gaps)} ms apart; "
              f"{status['heartbeats_refused']} refused", flush=True)
        self.assertEqual(status["heartbeats_refused"], 0)
        self.assertNotIn("RESOURCE_EXHAUSTED", err)
        self.assertGreaterEqual(len(fire), 8)
        # The changes brought heartbeats forward (more than one per interval)...
        self.assertGreater(len(beats), elapsed / 5 + 2)
        # ...spaced by heartbeat_min_ms. These are the times the daemon handled them, and a
        # busy loop can take one late and the next on time, so half of it is required here;
        # without the spacing they come 1 ms apart.
        self.assertGreaterEqual(min(gaps), MIN_MS / 2)


if __name__ == "__main__":
    main()
