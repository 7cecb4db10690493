"""Drills on a virtual clock (`muster drill run --virtual`): the same scenario and seed give
the same timeline, byte for byte (its head hash), another seed another one; a scenario built
to miss an expectation reports the miss; drill incidents never appear in a live report; the
virtual clock is moved only by a coordinator, and only on a drill daemon (musterd -V)."""
import csv
import datetime
import json
import os
import re
import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET

from harness import AGENT, MUSTER, MUSTERD, DaemonTest, Raw, main, pb, run, verify_chain

FIRE = """
name = "E-bike charging fire in an urban village";
seed = 42;
start = "2026-11-22T20:00:00";
duration = "40m";
config = "sample";
injects = (
    { at = "00:00"; incident = { id = "fire1"; type = "fire.ebike"; place = "s01-c01";
        description = "charging shed fire"; casualties = 1; }; },
    { at = "02:00"; update = { ref = "fire1"; casualties = 3; note = "two more hurt"; }; },
    { at = "03:00"; road_blocked = { community = "s03-c01"; for = "20m"; delay = "4m"; }; },
    { at = "05:00"; incident = { id = "mall"; type = "attack.violent"; place = "s03-c01"; }; },
    { at = "06:00"; agent_offline = { department = "health"; for = "3m"; }; },
    { at = "08:00"; tier = { ref = "mall"; tier = 1; reason = "more attackers seen"; }; },
    { at = "09:00"; divert = { ref = "fire1"; to = "housing"; reason = "illegal charging"; }; },
    { at = "10:00"; whistle = { place = "s03"; matter = "unsafe shed"; deadline = "30m";
        departments = ["housing", "citymgmt"]; rank = "staff"; headcount = 1; }; },
    { at = "12:00"; surge = { count = 6; over = "6m"; types = ["traffic.collision", "flood"]; }; },
    { at = "30:00"; close = { ref = "fire1"; reason = "fire out"; }; }
);
expect = (
    { what = "group_complete"; within = "2m"; },
    { what = "circle"; within = "5m"; share = 50.0; }
);
"""

# Nobody turns out for 10 minutes: the 5-minute circle cannot be met.
MISS = """
name = "Built to miss";
seed = 1;
start = "2026-11-22T03:00:00";
duration = "30m";
config = "sample";
models = ( { kind = "*"; turnout_s = [600, 700]; speed_kmh = 30.0; decline = 0.0;
             no_show = 0.0; clear_s = 0; } );
injects = ( { at = "00:10"; incident = { id = "f"; type = "fire.ebike"; place = "s02-c01"; }; } );
expect = (
    { what = "circle"; within = "5m"; share = 100.0; },
    { what = "group_complete"; within = "1m"; }
);
"""


# Accelerated: 8 virtual minutes at 60 times real time, real muster-agent processes.
FAST = """
name = "Accelerated, with real agents";
seed = 5;
start = "2026-11-22T10:00:00";
duration = "8m";
config = "sample";
models = ( { kind = "*"; turnout_s = [20, 40]; speed_kmh = 40.0; decline = 0.0;
             no_show = 0.0; clear_s = 0; } );
injects = (
    { at = "00:10"; incident = { id = "f"; type = "fire.ebike"; place = "s01-c01"; }; },
    { at = "01:00"; agent_offline = { department = "health"; for = "1m"; }; },
    { at = "02:00"; incident = { id = "g"; type = "traffic.collision"; place = "s02-c01"; }; }
);
expect = ( { what = "circle"; within = "6m"; share = 50.0; } );
"""


# Live: 20 seconds of real time on the running daemon.
LIVE = """
name = "Live, with the real agents";
seed = 9;
start = "2026-11-22T10:00:00";
duration = "20s";
config = "sample";
injects = (
    { at = "00:01"; incident = { id = "a"; type = "fire.ebike"; place = "s02-c01"; }; },
    { at = "00:04"; incident = { id = "b"; type = "flood"; place = "s06-c02"; }; },
    { at = "00:06"; road_blocked = { street = "s02"; for = "5m"; delay = "1m"; }; }
);
expect = ( { what = "group_complete"; within = "15s"; } );
"""


class Drill(DaemonTest):
    start_daemon = False

    def scenario(self, text, name="s.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def drill(self, path, *args, check=True):
        env = dict(os.environ, MUSTERD=MUSTERD)
        p = subprocess.run([MUSTER, "drill", "run", path, "--virtual", *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=240, env=env)
        if check and p.returncode not in (0, 3):
            raise AssertionError(f"drill failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def head(self, out):
        return re.search(r"timeline: (\d+) events, head hash ([0-9a-f]{64})", out).groups()

    def test_same_seed_same_timeline_other_seed_other(self):
        path = self.scenario(FIRE)
        a = self.drill(path, "-o", os.path.join(self.tmp, "a"))
        b = self.drill(path, "-o", os.path.join(self.tmp, "b"))
        c = self.drill(path, "--seed", "43", "-o", os.path.join(self.tmp, "c"))
        self.assertEqual(self.head(a.stdout), self.head(b.stdout))
        self.assertNotEqual(self.head(a.stdout)[1], self.head(c.stdout)[1])
        # The head hash is the chain's: recompute it independently, and compare every row.
        rows = []
        for d in ("a", "b"):
            db = os.path.join(self.tmp, d, "drill.db")
            verify_chain(db)
            con = sqlite3.connect(db)
            rows.append(con.execute("SELECT seq, wall_ms, mono_ns, actor, kind, incident_id,"
                                    " exercise, body, hex(hash) FROM timeline ORDER BY seq")
                        .fetchall())
            last = rows[-1][-1][-1].lower()
            con.close()
            self.assertEqual(last, self.head(a.stdout)[1])
        self.assertEqual(rows[0], rows[1])
        # Every inject happened: each kind of event is on the timeline.
        kinds = {r[4] for r in rows[0]}
        for k in ("incident.opened", "incident.updated", "incident.diverted", "whistle.blown",
                  "incident.closed", "order.on_scene", "muster.assembled"):
            self.assertIn(k, kinds)
        self.assertIn("0 refused", a.stdout)
        # The road block delayed the mall's units, and they said why.
        con = sqlite3.connect(os.path.join(self.tmp, "a", "drill.db"))
        n_blocked = con.execute("SELECT count(*) FROM orders o JOIN incidents i ON"
                                " i.id = o.incident_id WHERE i.community = 's03-c01' AND"
                                " o.delay_reason = ?", (pb.DELAY_ROAD_BLOCKED,)).fetchone()[0]
        surge = con.execute("SELECT count(*) FROM incidents WHERE description LIKE"
                            " 'surge item %'").fetchone()[0]
        con.close()
        self.assertGreater(n_blocked, 0)
        self.assertEqual(surge, 6)

    def test_a_scenario_built_to_miss_reports_the_miss(self):
        p = self.drill(self.scenario(MISS))
        self.assertEqual(p.returncode, 3, p.stdout)
        self.assertRegex(p.stdout, r"\[MISSED\] .*s\.conf:\d+: .*circle.*: 0 of 1 incidents")
        self.assertRegex(p.stdout, r"\[MET\] .*group_complete")
        self.assertIn("1 of 2 met", p.stdout)

    def test_drill_incidents_stay_out_of_live_reports(self):
        out = os.path.join(self.tmp, "d")
        self.drill(self.scenario(FIRE), "-o", out)
        db = os.path.join(out, "drill.db")
        live = json.loads(run([MUSTER, "report", db, "--json"]).stdout)
        con = sqlite3.connect(db)
        n = con.execute("SELECT count(*) FROM incidents WHERE state != 3").fetchone()[0]
        not_ex = con.execute("SELECT count(*) FROM timeline WHERE exercise = 0 AND"
                             " incident_id != 0").fetchone()[0]
        con.close()
        self.assertEqual(live["total"]["calls"], 0)
        self.assertEqual(live["filters"]["exercise_calls_left_out"], n)
        self.assertEqual(live["whistles"]["called"], 0)
        self.assertEqual(live["diversions"]["count"], 0)
        self.assertEqual(not_ex, 0, "an incident's event without the exercise flag")
        both = json.loads(run([MUSTER, "report", db, "--json", "--include-exercise"]).stdout)
        self.assertEqual(both["total"]["calls"], n)

    def test_accelerated_drill_with_real_agents(self):
        out = os.path.join(self.tmp, "fast")
        env = dict(os.environ, MUSTERD=MUSTERD,
                   MUSTER_AGENT=os.path.join(os.path.dirname(MUSTER), "muster-agent"))
        t0 = time.monotonic()
        p = subprocess.run([MUSTER, "drill", "run", self.scenario(FAST), "--speed", "60",
                            "-o", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=120, env=env)
        took = time.monotonic() - t0
        self.assertIn(p.returncode, (0, 3), p.stdout + p.stderr)
        self.assertIn("After-action report: Accelerated, with real agents", p.stdout)
        self.assertRegex(p.stdout, r"\[(MET|MISSED)\] .*circle")
        self.assertGreater(took, 8 * 60 / 60 - 0.5)  # it took real (accelerated) time
        db = os.path.join(out, "drill.db")
        con = sqlite3.connect(db)
        incs = con.execute("SELECT id, exercise, received_ms FROM incidents").fetchall()
        on_scene = con.execute("SELECT count(*) FROM orders WHERE on_scene_ms > 0").fetchone()[0]
        con.close()
        self.assertEqual(len(incs), 2)
        self.assertTrue(all(ex == 1 for _, ex, _ in incs))
        # 1:50 of virtual time between the two injects, within the clock's jitter
        gap = incs[1][2] - incs[0][2]
        self.assertTrue(100000 <= gap <= 130000, gap)
        self.assertGreater(on_scene, 0, "no agent process brought a unit on scene")
        with open(os.path.join(out, "musterd.log")) as f:
            log = f.read()
        self.assertEqual(log.count("agent:health registered"), 2, "offline, then back")
        shown = "".join(open(os.path.join(out, f)).read() for f in os.listdir(out)
                        if f.startswith("agent-") and f.endswith(".log"))
        self.assertIn("EXERCISE", shown)

    def test_a_scenario_on_its_own_configuration_directory(self):
        conf = os.path.join(self.tmp, "mine")
        run([MUSTER, "init", conf])
        plans = os.path.join(conf, "plans.conf")
        with open(plans) as f:
            text = f.read()
        with open(plans, "w") as f:
            f.write(text.replace('name = "E-bike charging fire (urban village / residential)"',
                                 'name = "Our own e-bike plan"'))
        path = self.scenario(FIRE.replace('config = "sample";', 'config = "mine";'))
        out = os.path.join(self.tmp, "own")
        self.drill(path, "-o", out)
        con = sqlite3.connect(os.path.join(out, "drill.db"))
        plans_used = {json.loads(b)["plan"] for (b,) in con.execute(
            "SELECT body FROM timeline WHERE kind = 'muster.assembled'")}
        con.close()
        self.assertIn("Our own e-bike plan", plans_used)

    def test_a_dispatch_export_replayed_as_a_scenario(self):
        """The SF sample's calls of 2018 become incidents at their offsets (here divided by
        100) from the first call, in order, each at a community of the district."""
        sf = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sf",
                          "sf-fire-calls-sample.csv")
        fmt = "%m/%d/%Y %I:%M:%S %p"
        calls = {}
        with open(sf, newline="") as f:
            for row in csv.DictReader(f):
                t = datetime.datetime.strptime(row["Received DtTm"], fmt)
                cid = row["Call Number"]
                if cid not in calls or t < calls[cid]:
                    calls[cid] = t
        times = sorted((t, cid) for cid, t in calls.items() if t.year == 2018)
        path = os.path.join(self.tmp, "sf.conf")
        run([MUSTER, "import", "cad-scenario", sf, "-o", path, "--window",
             "2018-01-01..2019-01-01", "--scale", "100"])
        out = os.path.join(self.tmp, "sf")
        self.drill(path, "-o", out)
        con = sqlite3.connect(os.path.join(out, "drill.db"))
        got = con.execute("SELECT received_ms, description, community FROM incidents"
                          " ORDER BY id").fetchall()
        con.close()
        self.assertEqual(len(got), len(times))
        t0 = times[0][0]
        for (t, cid), (received, desc, community) in zip(times, got):
            want = int((t - t0).total_seconds() * 1000 / 100) // 1000 * 1000
            self.assertEqual(received - got[0][0], want, cid)
            self.assertIn(f"call {cid} ", desc)
            self.assertRegex(community, r"^s\d\d-c\d\d$")

    def test_live_drill_on_the_running_daemon_with_real_agents(self):
        """--live: the injects go to the running daemon as exercise requests, its real agents
        (muster-agent processes) answer, and the after-action report covers this drill only:
        a real incident reported meanwhile is neither in it nor touched by it."""
        self.d.start()
        agents = []
        try:
            for dept in ("police", "fire", "emergency", "housing", "transport", "traffic",
                         "health", "citymgmt"):
                agents.append(subprocess.Popen(
                    [AGENT, "-c", self.d.dir, "-k", f"keys/agent-{dept}.key", "--simulate",
                     "--speed", "30"], stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL))
            time.sleep(1.5)  # registered
            real = self.operator().call(submit_incident=pb.SubmitIncident(
                type="traffic.collision", location=pb.Location(place="s09-c01")))
            real_id = real.incident_reply.incident.id
            path = self.scenario(LIVE)
            p = subprocess.run([MUSTER, "-c", self.d.dir, "-k", "keys/coordinator.key",
                                "drill", "run", path, "--live"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=120)
        finally:
            for a in agents:
                a.terminate()
            for a in agents:
                a.wait(timeout=10)
        self.assertIn(p.returncode, (0, 3), p.stdout + p.stderr)
        self.assertIn("2 incidents", p.stdout)
        self.assertIn("calls: 2 (live and exercise)", p.stdout)
        snap = re.search(r"snapshot of the live database: (\S+)", p.stdout).group(1)
        con = sqlite3.connect(snap)
        rows = con.execute("SELECT id, exercise FROM incidents ORDER BY id").fetchall()
        arrived = con.execute("SELECT count(*) FROM orders o JOIN incidents i ON"
                              " i.id = o.incident_id WHERE i.exercise = 1 AND"
                              " o.on_scene_ms > 0").fetchone()[0]
        con.close()
        self.assertEqual([ex for i, ex in rows if i != real_id], [1, 1])
        self.assertEqual(dict(rows)[real_id], 0)
        self.assertGreater(arrived, 0, "no real agent brought a drill unit on scene")
        live = json.loads(run([MUSTER, "report", snap, "--json"]).stdout)
        self.assertEqual(live["total"]["calls"], 1)  # the real one only

    def test_cap_export_marks_exercise(self):
        """muster incident cap: an OASIS CAP 1.2 alert; a drill's incident has status
        Exercise, a real one Actual; the required elements in CAP's order."""
        self.d.start()
        op = self.operator()
        real = op.call(submit_incident=pb.SubmitIncident(
            type="fire.ebike", location=pb.Location(place="s01-c01"),
            description="smoke & <flames>", tier=1, tier_reason="test"))
        drill = op.call(exercise=True, submit_incident=pb.SubmitIncident(
            type="flood", location=pb.Location(place="s02-c01")))
        ns = "{urn:oasis:names:tc:emergency:cap:1.2}"
        for r, status in ((real, "Actual"), (drill, "Exercise")):
            inc = r.incident_reply.incident
            xml = run([MUSTER, "-c", self.d.dir, "incident", "cap", str(inc.id)]).stdout
            root = ET.fromstring(xml)
            self.assertEqual(root.tag, ns + "alert")
            names = [c.tag[len(ns):] for c in root]
            self.assertEqual(names[:6], ["identifier", "sender", "sent", "status", "msgType",
                                         "scope"])
            self.assertEqual(root.find(ns + "status").text, status)
            self.assertRegex(root.find(ns + "sent").text,
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
            info = root.find(ns + "info")
            self.assertEqual(info.find(ns + "event").text, inc.type)
            self.assertEqual(info.find(ns + "severity").text,
                             {1: "Extreme", 2: "Severe", 3: "Moderate"}[inc.tier])
            self.assertEqual([c.tag[len(ns):] for c in info][:6],
                             ["category", "event", "urgency", "severity", "certainty",
                              "description"][:6] if inc.description else
                             ["category", "event", "urgency", "severity", "certainty",
                              "area"])
            circle = info.find(ns + "area").find(ns + "circle").text
            lat, lon = (float(x) for x in circle.split()[0].split(","))
            self.assertAlmostEqual(lat, inc.location.coords.lat, places=5)
        self.assertEqual(ET.fromstring(run([MUSTER, "-c", self.d.dir, "incident", "cap",
                                            str(real.incident_reply.incident.id)]).stdout)
                         .find(ns + "info").find(ns + "description").text, "smoke & <flames>")

    def test_bad_scenario_names_file_and_line(self):
        path = self.scenario(FIRE.replace('ref = "mall"; tier = 1', 'ref = "nowhere"; tier = 1'))
        p = self.drill(path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, rf"{re.escape(path)}:\d+: .*nowhere")

    def test_the_virtual_clock_is_a_coordinators_and_a_drill_daemons(self):
        self.d.start()
        co = self.raw("control", key=self.d.key("coordinator.key"))
        r = co.call(advance_clock=pb.AdvanceClock(to_ms=4102444800000))
        self.assertEqual((r.WhichOneof("body"), r.error.code), ("error", pb.INVALID_STATE))
        self.d.stop()
        self.d.start(args=["-V", "2026-11-22T08:00:00"])
        t0 = 1795334400000  # 2026-11-22T08:00:00Z
        op = self.operator()
        r = op.call(advance_clock=pb.AdvanceClock(to_ms=t0 + 1000))
        self.assertEqual((r.WhichOneof("body"), r.error.code), ("error", pb.FORBIDDEN))
        co = self.raw("control", key=self.d.key("coordinator.key"))
        r = co.call(advance_clock=pb.AdvanceClock(to_ms=t0 + 90000))
        self.assertEqual(r.clock_reply.now_ms, t0 + 90000)
        r = co.call(advance_clock=pb.AdvanceClock(to_ms=t0))
        self.assertEqual((r.WhichOneof("body"), r.error.code), ("error", pb.INVALID_ARGUMENT))
        inc = op.call(submit_incident=pb.SubmitIncident(
            type="fire.ebike", location=pb.Location(place="s01-c01")))
        self.assertEqual(inc.incident_reply.incident.received_at_ms, t0 + 90000)


if __name__ == "__main__":
    main()
