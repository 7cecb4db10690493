"""Lightning muster end to end on the sample district: real daemon, department agents (raw
protocol clients here, so that the test decides every answer), the live feed.

Checks that each incident gets exactly the groups its plan names, filled with the nearest
available units (a brute-force computation here, from the roster file and the positions the
agents reported), the commander first; that orders are followed to on scene; and the faults:
declines, silence, a daemon killed between assembly and receipts, tier changes."""
import json
import os
import re
import time

import zmq

from harness import (TIMEOUT, DaemonTest, main, pb, roster_units, distance_m, verify_chain)

DEPARTMENTS = ["police", "fire", "emergency", "housing", "transport", "traffic", "health",
               "citymgmt"]


class Fleet:
    """Every department's agent as a raw client: registers, reports all units available."""

    def __init__(self, test):
        self.test = test
        self.agents = {}
        self.positions = {}
        for dept in DEPARTMENTS:
            self.connect(dept)

    def connect(self, dept):
        a = self.test.raw("agents", key=self.test.d.key(f"agent-{dept}.key"))
        a.seq = int(time.time() * 1e6)  # sequence numbers grow across reconnections
        self.agents[dept] = a
        rep = a.call(register=pb.Register(agent_version="test-fleet"))
        assert rep is not None and rep.WhichOneof("body") == "registered", rep
        states = []
        for u in rep.registered.units:
            self.positions[u.unit_id] = (u.position.lat, u.position.lon)
            states.append(pb.UnitState(unit_id=u.unit_id, position=u.position,
                                       status=pb.UNIT_AVAILABLE))
        a.send(a.envelope(heartbeat=pb.Heartbeat(units=states)))
        return a

    def collect(self, want_ids, timeout=TIMEOUT):
        """Reads orders from every agent until all WANT_IDS have arrived; returns
        {order_id: (dept, Order)} and the other messages seen."""
        got, other = {}, []
        deadline = time.monotonic() + timeout
        poller = zmq.Poller()
        for a in self.agents.values():
            poller.register(a.s, zmq.POLLIN)
        while set(want_ids) - set(got) and time.monotonic() < deadline:
            for sock, _ in poller.poll(100):
                for dept, a in self.agents.items():
                    if a.s is sock:
                        e = pb.Envelope()
                        e.ParseFromString(sock.recv_multipart()[-1])
                        if e.WhichOneof("body") == "order":
                            got[e.order.order_id] = (dept, e.order)
                        else:
                            other.append((dept, e))
        return got, other

    def report(self, dept, order_id, status=None, delay=0):
        """Sends a receipt (STATUS None) or a status report and returns the daemon's answer."""
        a = self.agents[dept]
        if status is None:
            body = {"receipt": pb.Receipt(order_id=order_id)}
        else:
            body = {"status": pb.StatusReport(order_id=order_id, status=status,
                                              delay_reason=delay)}
        e = a.envelope(**body)
        e.correlation_id = e.seq
        a.send(e)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            r = a.recv(deadline - time.monotonic())
            if r is None:
                break
            kind = r.WhichOneof("body")
            if kind == "report_ack" and r.report_ack.acked_seq == e.seq:
                return r
            if kind == "error" and r.correlation_id == e.seq:
                return r
        raise AssertionError(f"no answer to report on order {order_id}")


class Base(DaemonTest):
    def setUp(self):
        super().setUp()
        self.feed = self.raw("feed", sock_type=zmq.SUB, key=self.d.key("observer.key"))
        self.events = []
        self.fleet = Fleet(self)
        with open(os.path.join(self.d.dir, "roster.conf")) as f:
            self.units = {u["id"]: u for u in roster_units(f.read())}
        self.op = self.operator()
        self.held = set()  # units on active orders, across incidents of a test

    def drain_feed(self, timeout=0.5):
        while True:
            e = self.feed.recv(timeout)
            if e is None:
                return
            self.events.append(e.event)

    def submit(self, place, type_, **kw):
        r = self.op.call(submit_incident=pb.SubmitIncident(
            type=type_, location=pb.Location(place=place), **kw))
        self.assertEqual(r.WhichOneof("body"), "incident_reply", r)
        return r.incident_reply.incident

    def get(self, iid):
        r = self.op.call(get_incident=pb.GetIncident(id=iid))
        self.assertEqual(r.WhichOneof("body"), "incident_reply", r)
        return r.incident_reply.incident

    def plan(self, type_):
        return json.loads(self.d.muster("plans", type_, "--json").stdout)[0]

    def replay_choice(self, inc, b):
        """Checks one order.created body B against a brute-force nearest available unit."""
        q = b["query"]
        lat, lon = inc.location.coords.lat, inc.location.coords.lon
        cands = [u for u in self.units.values()
                 if u["kind"] == q["kind"] and u["id"] not in self.held
                 and (q["department"] == "*" or u["department"] == q["department"])
                 and set(q.get("skills", [])) <= set(u["skills"])]
        self.assertTrue(cands, f"the daemon found a unit the test cannot: {b}")
        dist = {u["id"]: distance_m(lat, lon, *self.fleet.positions[u["id"]]) for u in cands}
        best = min(dist.values())
        expected = min((u for u in cands if dist[u["id"]] <= best + 1e-6),
                       key=lambda u: u["index"])
        self.assertEqual(b["member"], expected["id"],
                         f"{q}: chose {b['member']} at {dist.get(b['member'])} m, "
                         f"nearest is {expected['id']} at {best} m")
        self.held.add(b["member"])

    def check_assembly(self, inc):
        """The group matches the plan; units are the nearest available (brute force)."""
        full = self.get(inc.id)
        members = sorted(full.members, key=lambda m: m.order_id)
        tier = self.plan(inc.type)["tiers"][str(inc.tier)]
        want = {}
        for g in tier["groups"]:
            for spec in g["members"]:
                key = (g["name"], spec["what"])
                want[key] = want.get(key, 0) + spec["count"]
        got = {}
        for m in members:
            got[(m.group, m.what)] = got.get((m.group, m.what), 0) + 1
        self.assertEqual(got, want, "the group is not what the plan names")
        first = members[0]
        self.assertEqual((first.group, first.what), (tier["groups"][0]["name"], "person"))
        self.assertEqual(first.kind, tier["groups"][0]["members"][0]["kind"])
        # Brute force: replay the choices in order against the roster and the positions.
        self.drain_feed()
        created = [e for e in self.events if e.kind == "order.created" and e.incident_id == inc.id]
        self.assertEqual(len(created), len(members))
        for e in sorted(created, key=lambda e: e.seq):
            b = json.loads(e.body_json)
            if b["what"] == "unit":
                self.replay_choice(inc, b)
        return members

    def follow_to_scene(self, members):
        """Every order arrives; each agent receipts, accepts, goes en route and on scene."""
        got, _ = self.fleet.collect([m.order_id for m in members])
        self.assertEqual(set(got), {m.order_id for m in members})
        for oid, (dept, order) in got.items():
            self.assertTrue(order.summary)
            self.assertTrue(order.commander, "orders name the commander")
            self.assertTrue(any(g.unit_id == order.unit_id for g in order.members))
            for st in (None, pb.ORDER_ACCEPTED, pb.ORDER_EN_ROUTE, pb.ORDER_ON_SCENE):
                r = self.fleet.report(dept, oid, st)
                self.assertEqual(r.WhichOneof("body"), "report_ack", r)
                self.assertEqual(r.report_ack.code, pb.OK)
        return got

    def run_incident(self, place, type_, want_tier, **kw):
        inc = self.submit(place, type_, **kw)
        self.assertEqual(inc.tier, want_tier, inc.tier_reason)
        members = self.check_assembly(inc)
        self.follow_to_scene(members)
        done = self.get(inc.id)
        for m in done.members:
            self.assertEqual(m.status, pb.ORDER_ON_SCENE, m)
            self.assertTrue(m.sent_at_ms and m.received_at_ms and m.accepted_at_ms
                            and m.en_route_at_ms and m.on_scene_at_ms)
        return inc, done

    def orders_of(self, inc):
        full = self.get(inc.id)
        got, _ = self.fleet.collect([m.order_id for m in full.members])
        return full, got


class Muster(Base):
    def test_three_tiers_assemble_their_plans(self):
        i1, _ = self.run_incident("s03-c02", "fire.ebike", 1, tier=1,
                                  tier_reason="test: major fire", casualties=4)
        i2, _ = self.run_incident("s05-c01", "accident.construction", 2, tier=2,
                                  tier_reason="test: larger")
        i3, _ = self.run_incident("s08-c02", "traffic.collision", 3, tier=3,
                                  tier_reason="test: general")
        self.d.stop()
        n = verify_chain(self.d.db())
        import sqlite3
        con = sqlite3.connect(self.d.db())
        for iid in (i1.id, i2.id, i3.id):
            kinds = {}
            for (k,) in con.execute("SELECT kind FROM timeline WHERE incident_id = ?", (iid,)):
                kinds[k] = kinds.get(k, 0) + 1
            orders = kinds["order.created"]
            for k in ("order.sent", "order.received", "order.accepted", "order.en_route",
                      "order.on_scene"):
                self.assertEqual(kinds.get(k), orders, f"incident {iid}: {k}")
            self.assertEqual(kinds.get("muster.assembled"), 1)
            self.assertNotIn("muster.shortfall", kinds)
        con.close()
        self.assertGreater(n, 0)

    def test_report_on_a_snapshot_equals_the_run(self):
        """muster report on a snapshot of this run: every segment's figures equal what the
        test computes by hand from the orders' own times (units, not cancelled)."""
        runs = [self.run_incident("s03-c01", "traffic.collision", 3, tier=3,
                                  tier_reason="test")[1],
                self.run_incident("s07-c02", "fire.ebike", 2, tier=2, tier_reason="test")[1]]
        out = self.d.muster("snapshot", "run.db").stdout
        path = out.split(":")[0]
        rep = json.loads(self.d.muster("report", path, "--json").stdout)["total"]

        def pct(values, p):  # nearest rank, as docs/metrics.md defines it
            v = sorted(values)
            rank = (p * len(v) + 99) // 100
            return v[rank - 1 if rank else 0]

        seg = {k: [] for k in ("intake", "processing", "receipt", "turnout", "travel",
                               "response")}
        within = 0
        for inc in runs:
            units = [m for m in inc.members if m.what == "unit"
                     and m.status != pb.ORDER_CANCELLED]
            seg["intake"].append(0)
            seg["processing"].append(min(m.sent_at_ms for m in units) - inc.received_at_ms)
            first = min(m.on_scene_at_ms for m in units) - inc.received_at_ms
            seg["response"].append(first)
            within += first <= 300000
            for m in units:
                seg["receipt"].append(m.received_at_ms - m.sent_at_ms)
                seg["turnout"].append(m.en_route_at_ms - m.sent_at_ms)
                seg["travel"].append(m.on_scene_at_ms - m.en_route_at_ms)
        self.assertEqual(rep["calls"], 2)
        self.assertEqual(rep["responses"], len(seg["receipt"]))
        for name, values in seg.items():
            got = rep["segments"][name]
            self.assertEqual((got["n"], got["no_value"]), (len(values), 0), name)
            for p in (50, 90, 95):
                self.assertEqual(got[f"p{p}_s"], pct(values, p) / 1000, f"{name} p{p}")
        self.assertEqual(rep["first_on_scene_within_circle"]["within"], within)

    def test_daemon_killed_between_assembly_and_receipts(self):
        inc = self.submit("s02-c01", "traffic.collision", tier=2, tier_reason="test")
        full, got = self.orders_of(inc)
        ids = {m.order_id for m in full.members}
        self.assertEqual(set(got), ids)
        self.d.kill9()
        self.d.start()
        for a in list(self.fleet.agents.values()):
            a.close()
        self.raws = [r for r in self.raws if r not in self.fleet.agents.values()]
        for dept in DEPARTMENTS:
            self.fleet.connect(dept)
        again, _ = self.fleet.collect(ids)
        self.assertEqual(set(again), ids, "orders lost across the restart")
        for oid, (dept, order) in again.items():
            self.assertGreaterEqual(order.attempt, 1)
            r = self.fleet.report(dept, oid)
            self.assertEqual(r.report_ack.code, pb.OK)
        after = self.get(inc.id)
        self.assertEqual({m.order_id for m in after.members}, ids)
        for m in after.members:
            self.assertEqual(m.status, pb.ORDER_RECEIVED)
        self.d.wait_log(r"muster: 1 open incidents, \d+ active orders")

    def test_a_real_incident_takes_units_from_a_drill(self):
        """A drill's units are the nearest to a real incident at the same place: the real one
        takes them, their drill orders are cancelled (the agent told, the timeline saying
        why) and the drill fills those places with the next nearest."""
        r = self.op.call(exercise=True, submit_incident=pb.SubmitIncident(
            type="fire.ebike", location=pb.Location(place="s04-c01"), tier=3,
            tier_reason="drill"))
        drill = r.incident_reply.incident
        self.assertTrue(drill.exercise)
        before = {m.member_id: m for m in self.get(drill.id).members if m.what == "unit"}
        real = self.submit("s04-c01", "fire.ebike", tier=3, tier_reason="test")
        self.assertFalse(real.exercise)
        self.assertEqual(real.linked_to, 0, "a real report is never a drill's duplicate")
        real_units = {m.member_id for m in self.get(real.id).members if m.what == "unit"}
        taken = real_units & set(before)
        self.assertTrue(taken, "the real incident took none of the drill's nearest units")
        after = self.get(drill.id).members
        for unit in taken:
            old = before[unit]
            mine = [m for m in after if m.member_id == unit]
            self.assertEqual([m.status for m in mine], [pb.ORDER_CANCELLED], unit)
            again = [m for m in after if m.group == old.group and m.what == "unit"
                     and m.kind == old.kind and m.member_id != unit
                     and m.status != pb.ORDER_CANCELLED]
            self.assertTrue(again, f"the drill did not fill {unit}'s place again")
        self.drain_feed()
        pre = [json.loads(e.body_json) for e in self.events if e.kind == "drill.preempted"]
        self.assertEqual({p["unit"] for p in pre}, taken)
        self.assertTrue(all(p["real_incident"] == real.id for p in pre))
        # The agent of a taken unit was told its drill order is cancelled.
        cancels = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(cancels) < len(taken):
            _, other = self.fleet.collect([-1], timeout=0.3)
            cancels += [e.cancel for _, e in other if e.WhichOneof("body") == "cancel"]
        self.assertEqual({c.order_id for c in cancels}, {before[u].order_id for u in taken})
        self.assertTrue(all("pre-empted" in c.reason for c in cancels))

    def test_tier_raised_and_lowered(self):
        inc = self.submit("s06-c02", "traffic.collision", tier=3, tier_reason="test")
        full, got = self.orders_of(inc)
        for oid, (dept, _) in got.items():
            self.fleet.report(dept, oid)
        low = len(full.members)

        def active(i):
            return [m for m in self.get(i).members
                    if m.status not in (pb.ORDER_DECLINED, pb.ORDER_REASSIGNED,
                                        pb.ORDER_CANCELLED)]

        def sizes(members):
            out = {}
            for m in members:
                out[(m.group, m.what)] = out.get((m.group, m.what), 0) + 1
            return out

        def plan_sizes(tier):
            want = {}
            for g in self.plan("traffic.collision")["tiers"][str(tier)]["groups"]:
                for spec in g["members"]:
                    key = (g["name"], spec["what"])
                    want[key] = want.get(key, 0) + spec["count"]
            return want

        r = self.op.call(set_tier=pb.SetTier(id=inc.id, tier=1, reason="casualties rising"))
        self.assertEqual(r.WhichOneof("body"), "incident_reply", r)
        self.assertEqual(r.incident_reply.incident.tier, 1)
        up = active(inc.id)
        self.assertEqual(sizes(up), plan_sizes(1))
        self.assertGreater(len(up), low)
        r = self.op.call(set_tier=pb.SetTier(id=inc.id, tier=3, reason="under control"))
        self.assertEqual(r.incident_reply.incident.tier, 3)
        down = active(inc.id)
        self.assertEqual(sizes(down), plan_sizes(3))
        # the released members were told
        _, other = self.fleet.collect([], timeout=0)
        deadline = time.monotonic() + 5
        cancels = [e for _, e in other if e.WhichOneof("body") == "cancel"]
        while not cancels and time.monotonic() < deadline:
            _, more = self.fleet.collect([-1], timeout=0.5)
            cancels += [e for _, e in more if e.WhichOneof("body") == "cancel"]
        self.assertTrue(cancels, "no Cancel reached the released members")
        self.drain_feed()
        kinds = [e.kind for e in self.events if e.incident_id == inc.id]
        self.assertEqual(kinds.count("incident.tier"), 2)
        self.assertIn("order.cancelled", kinds)
        r = self.op.call(set_tier=pb.SetTier(id=inc.id, tier=3, reason="again"))
        self.assertEqual(r.error.code, pb.INVALID_STATE)

    def test_bad_reports_and_requests(self):
        inc = self.submit("s01-c03", "traffic.collision", tier=3, tier_reason="test")
        full, got = self.orders_of(inc)
        oid, (dept, _) = next(iter(got.items()))
        other = "fire" if dept != "fire" else "police"
        r = self.fleet.report(other, oid)
        self.assertEqual(r.error.code, pb.NOT_YOURS)
        r = self.fleet.report(dept, 987654321)
        self.assertEqual(r.error.code, pb.NOT_FOUND)
        r = self.fleet.report(dept, oid, pb.ORDER_ON_SCENE)
        self.assertEqual(r.error.code, pb.INVALID_STATE)
        r = self.fleet.report(dept, oid, pb.ORDER_ACCEPTED, delay=99)
        self.assertEqual(r.error.code, pb.INVALID_ARGUMENT)
        r = self.fleet.report(dept, oid, pb.ORDER_ACCEPTED, delay=pb.DELAY_TRAFFIC)
        self.assertEqual(r.report_ack.code, pb.OK)
        # the same envelope again: acknowledged as a duplicate, applied once
        a = self.fleet.agents[dept]
        e = a.envelope(status=pb.StatusReport(order_id=oid, status=pb.ORDER_EN_ROUTE))
        e.correlation_id = e.seq
        for want in (pb.OK, pb.DUPLICATE):
            a.send(e)
            while True:
                rep = a.recv(5)
                self.assertIsNotNone(rep)
                if rep.WhichOneof("body") == "report_ack" and rep.report_ack.acked_seq == e.seq:
                    break
            self.assertEqual(rep.report_ack.code, want)
        m = [m for m in self.get(inc.id).members if m.order_id == oid][0]
        self.assertEqual(m.status, pb.ORDER_EN_ROUTE)
        self.assertEqual(m.delay_reason, pb.DELAY_TRAFFIC)
        for body, code in ((pb.SetTier(id=inc.id, tier=4, reason="x"), pb.INVALID_ARGUMENT),
                           (pb.SetTier(id=inc.id, tier=1), pb.BAD_REQUEST),
                           (pb.SetTier(id=99999, tier=1, reason="x"), pb.NOT_FOUND)):
            self.assertEqual(self.op.call(set_tier=body).error.code, code)
        r = self.op.call(submit_incident=pb.SubmitIncident(
            type="volcano.eruption", location=pb.Location(place="s01-c01")))
        self.assertEqual(r.error.code, pb.INVALID_ARGUMENT)
        self.assertEqual(r.error.field, "type")
        r = self.op.call(submit_incident=pb.SubmitIncident(
            type="fire.ebike", location=pb.Location(place="s01-c01"), tier=1))
        self.assertEqual(r.error.code, pb.BAD_REQUEST)

    def test_close_releases_everyone(self):
        inc = self.submit("s04-c01", "traffic.collision", tier=3, tier_reason="test")
        full, got = self.orders_of(inc)
        r = self.op.call(close_incident=pb.CloseIncident(id=inc.id, reason="cleared"))
        self.assertEqual(r.WhichOneof("body"), "incident_reply")
        for m in self.get(inc.id).members:
            self.assertEqual(m.status, pb.ORDER_CANCELLED)
        oid, (dept, _) = next(iter(got.items()))
        r = self.fleet.report(dept, oid)
        self.assertEqual(r.error.code, pb.INVALID_STATE)
        self.assertIn("cancelled", r.error.message)

    def test_duplicate_report_is_linked_and_can_be_unlinked(self):
        first = self.submit("s05-c02", "traffic.collision", tier=3, tier_reason="test")
        again = self.submit("s05-c02", "traffic.collision", description="second caller")
        self.assertEqual(again.state, pb.INCIDENT_LINKED)
        self.assertEqual(again.linked_to, first.id)
        self.assertEqual(len(self.get(again.id).members), 0, "a duplicate was mustered")
        other = self.submit("s05-c02", "fire.ebike", tier=3, tier_reason="test")
        self.assertEqual(other.state, pb.INCIDENT_OPEN, "another type is not a duplicate")
        self.drain_feed()
        link = [json.loads(e.body_json) for e in self.events if e.kind == "incident.linked"]
        self.assertEqual(link[0]["to"], first.id)
        r = self.op.call(close_incident=pb.CloseIncident(id=again.id, reason="dup"))
        self.assertEqual(r.error.code, pb.INVALID_STATE)
        self.assertIn("unlink it first", r.error.message)
        r = self.op.call(unlink_incident=pb.UnlinkIncident(id=again.id, reason="separate crash"))
        self.assertEqual(r.WhichOneof("body"), "incident_reply", r)
        self.assertEqual(r.incident_reply.incident.state, pb.INCIDENT_OPEN)
        self.assertGreater(len(self.get(again.id).members), 0)
        r = self.op.call(unlink_incident=pb.UnlinkIncident(id=again.id, reason="again"))
        self.assertEqual(r.error.code, pb.INVALID_STATE)
        out = self.d.muster("incident", "list").stdout
        self.assertIn(f"#{again.id} ", out)

    def test_alert_diversion(self):
        inc = self.submit("s10-c01", "collapse.slope", tier=3, tier_reason="test")
        self.assertEqual(inc.owner, self.plan("collapse.slope")["owner"])
        p = self.d.muster("divert", str(inc.id), "--to", "housing", "--reason",
                          "a building foundation, not the road", "--json")
        moved = json.loads(p.stdout)
        self.assertEqual(moved["owner"], "housing")
        self.drain_feed()
        dv = [json.loads(e.body_json) for e in self.events if e.kind == "incident.diverted"]
        self.assertEqual(dv[0]["from"], inc.owner)
        self.assertEqual(dv[0]["to"], "housing")
        self.assertGreaterEqual(dv[0]["lost_ms"], 0)
        notes = [json.loads(e.body_json) for e in self.events if e.kind == "supervisor.notice"]
        self.assertTrue(any(n["kind"] == "diverted" and n["to"] == "agent:housing" for n in notes))
        deadline = time.monotonic() + 5
        got = []
        while not got and time.monotonic() < deadline:
            _, other = self.fleet.collect([-1], timeout=0.5)
            got += [e for d, e in other if d == "housing" and e.WhichOneof("body") == "notice"]
        self.assertEqual(got[0].notice.kind, "diverted")
        for args, err in ((("--to", "navy", "--reason", "x"), "INVALID_ARGUMENT"),
                          (("--to", "housing", "--reason", "x"), "INVALID_STATE")):
            p = self.d.muster("divert", str(inc.id), *args, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(err, p.stderr)

    def test_real_agent_restarted_gets_its_pending_order_and_acts_once(self):
        """The traffic department's real muster-agent (simulating) is down when the order is
        created; when it comes back it receives the pending order and acts on it once."""
        import subprocess
        from harness import AGENT
        model = os.path.join(self.tmp, "model.conf")
        with open(model, "w") as f:
            f.write('models = ( { kind = "*"; turnout_s = [0, 0]; speed_kmh = 500.0; '
                    'decline = 0.0; no_show = 0.0; clear_s = 0; } );\n')
        self.fleet.agents.pop("traffic").close()
        args = [AGENT, "-c", self.d.dir, "-k", "keys/agent-traffic.key", "--simulate",
                "--model", model, "--seed", "3", "--speed", "20"]
        agent = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True)
        try:
            from harness import read_line
            self.assertIn("registered", read_line(agent.stdout))
        finally:
            agent.kill()
            agent.wait(timeout=TIMEOUT)
        inc = self.submit("s02-c03", "traffic.collision", tier=3, tier_reason="test")
        full = self.get(inc.id)
        patrol = [m for m in full.members if m.kind == "traffic_patrol"][0]
        self.assertEqual(patrol.agent, "agent:traffic")
        self.assertIn(patrol.status, (pb.ORDER_PENDING, pb.ORDER_SENT))
        self.assertEqual(patrol.received_at_ms, 0)
        agent = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True)
        try:
            deadline = time.monotonic() + TIMEOUT
            m = None
            while time.monotonic() < deadline:
                m = [x for x in self.get(inc.id).members if x.order_id == patrol.order_id][0]
                if m.status == pb.ORDER_ON_SCENE:
                    break
                self.fleet.collect([-1], timeout=0.2)
            self.assertEqual(m.status, pb.ORDER_ON_SCENE)
        finally:
            agent.terminate()
            out = agent.communicate(timeout=TIMEOUT)[0]
        self.drain_feed()
        acts = [e.kind for e in self.events
                if e.incident_id == inc.id and e.kind.startswith("order.")
                and json.loads(e.body_json).get("order") == patrol.order_id]
        for k in ("order.received", "order.accepted", "order.en_route", "order.on_scene"):
            self.assertEqual(acts.count(k), 1, f"{k} in {acts}")
        self.assertEqual(sum(1 for line in out.splitlines()
                             if f"#{patrol.order_id} " in line and "on_scene" in line), 1)


class Shifts(Base):
    """Every traffic patrol is off shift now: none is asked, and the shortfall says so."""

    start_daemon = False

    def setUp(self):
        DaemonTest.setUp(self)
        hour = time.localtime().tm_hour
        off = f"shift = [{(hour + 1) % 24}, {(hour + 2) % 24}];"
        path = os.path.join(self.d.dir, "roster.conf")
        with open(path) as f:
            text = f.read()
        text, n = re.subn(r'(kind = "traffic_patrol";)', r"\1 " + off, text)
        self.assertGreater(n, 0)
        with open(path, "w") as f:
            f.write(text)
        self.d.start()
        self.feed = self.raw("feed", sock_type=zmq.SUB, key=self.d.key("observer.key"))
        self.events = []
        self.fleet = Fleet(self)
        self.op = self.operator()

    def test_off_shift_units_are_not_ordered(self):
        inc = self.submit("s06-c01", "traffic.collision", tier=3, tier_reason="test")
        kinds = [m.kind for m in self.get(inc.id).members]
        self.assertNotIn("traffic_patrol", kinds)
        self.assertIn("volunteer_guard", kinds)
        self.drain_feed()
        short = [json.loads(e.body_json) for e in self.events if e.kind == "muster.shortfall"]
        self.assertEqual([m["kind"] for m in short[0]["missing"]], ["traffic_patrol"])


class Faults(Base):
    """Short deadlines (5 s receipt, 6 s acceptance) so that silence shows quickly."""

    start_daemon = False

    def setUp(self):
        DaemonTest.setUp(self)
        path = os.path.join(self.d.dir, "plans.conf")
        with open(path) as f:
            text = f.read()
        text = re.sub(r"receipt_s = \d+", "receipt_s = 5", text)
        text = re.sub(r"accept_s = \d+", "accept_s = 6", text)
        text = re.sub(r"ring_s = \d+", "ring_s = 10", text)
        with open(path, "w") as f:
            f.write(text)
        self.d.start()
        self.feed = self.raw("feed", sock_type=zmq.SUB, key=self.d.key("observer.key"))
        self.events = []
        self.fleet = Fleet(self)
        with open(os.path.join(self.d.dir, "roster.conf")) as f:
            self.units = {u["id"]: u for u in roster_units(f.read())}
        self.op = self.operator()
        self.held = set()

    def patrol_order(self, got):
        for oid, (dept, order) in got.items():
            if order.unit_id.startswith("tp-") or "traffic_patrol" in order.role or \
                    self.units.get(order.unit_id, {}).get("kind") == "traffic_patrol":
                return oid, dept, order
        self.fail("no traffic patrol order")

    def wait_event(self, kind, incident, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events:
                if e.kind == kind and e.incident_id == incident:
                    return e
            e = self.feed.recv(0.2)
            if e is not None:
                self.events.append(e.event)
        self.fail(f"no {kind} for incident {incident}")

    def test_decline_refills_with_the_next_nearest(self):
        inc = self.submit("s08-c02", "traffic.collision", tier=3, tier_reason="test")
        members = self.check_assembly(inc)
        got, _ = self.fleet.collect([m.order_id for m in members])
        oid, dept, order = self.patrol_order(got)
        r = self.fleet.report(dept, oid, pb.ORDER_DECLINED)
        self.assertEqual(r.report_ack.code, pb.OK)
        # the refill is the nearest of the rest (the decliner stays in self.held)
        before = {m.order_id for m in members}
        after = self.check_assembly_refill(inc, before)
        self.assertEqual(len(after), 1)
        self.assertNotEqual(after[0].member_id, order.unit_id)
        st = {m.order_id: m.status for m in self.get(inc.id).members}
        self.assertEqual(st[oid], pb.ORDER_DECLINED)

    def check_assembly_refill(self, inc, before):
        """Checks the orders created after BEFORE against the brute force; returns them."""
        full = self.get(inc.id)
        new = [m for m in full.members if m.order_id not in before]
        self.drain_feed()
        for e in sorted(self.events, key=lambda e: e.seq):
            if e.kind != "order.created" or e.incident_id != inc.id:
                continue
            b = json.loads(e.body_json)
            if b["order"] not in before and b["what"] == "unit":
                self.replay_choice(inc, b)
        return new

    def test_silent_member_is_reassigned_and_the_supervisor_told(self):
        inc = self.submit("s07-c01", "traffic.collision", tier=3, tier_reason="test")
        members = self.check_assembly(inc)
        got, _ = self.fleet.collect([m.order_id for m in members])
        oid, dept, order = self.patrol_order(got)
        for o, (d, _) in got.items():  # everyone answers but the patrol
            if o != oid:
                self.fleet.report(d, o, pb.ORDER_ACCEPTED)
        e = self.wait_event("order.reassigned", inc.id, timeout=20)
        self.assertEqual(json.loads(e.body_json)["order"], oid)
        n = self.wait_event("supervisor.notice", inc.id)
        nb = json.loads(n.body_json)
        self.assertEqual(nb["kind"], "no_receipt")
        self.assertEqual(nb["to"], "agent:traffic")
        new = self.check_assembly_refill(inc, {m.order_id for m in members})
        self.assertEqual(len(new), 1)
        self.assertNotEqual(new[0].member_id, order.unit_id)
        # the supervisor's agent got the notice itself
        deadline = time.monotonic() + 5
        notices = []
        while not notices and time.monotonic() < deadline:
            _, other = self.fleet.collect([-1], timeout=0.5)
            notices += [e for d, e in other if e.WhichOneof("body") == "notice" and d == "traffic"]
        self.assertTrue(notices)
        self.assertEqual(notices[0].notice.order_id, oid)

    def test_missed_ring_is_recorded_with_class_and_lateness(self):
        inc = self.submit("s04-c02", "traffic.collision", tier=3, tier_reason="test")
        full, got = self.orders_of(inc)
        for oid, (dept, _) in got.items():
            self.assertEqual(self.fleet.report(dept, oid, pb.ORDER_ACCEPTED).report_ack.code,
                             pb.OK)
        e = self.wait_event("ring.missed", inc.id, timeout=30)
        b = json.loads(e.body_json)
        self.assertIn(b["kind"], ("traffic_patrol", "volunteer_guard"))
        self.assertGreater(b["late_ms"], 0)
        oid = b["order"]
        dept = got[oid][0]
        r = self.fleet.report(dept, oid, pb.ORDER_ON_SCENE, delay=pb.DELAY_ROAD_BLOCKED)
        self.assertEqual(r.report_ack.code, pb.OK)
        on = self.wait_event("order.on_scene", inc.id)
        ob = json.loads(on.body_json)
        self.assertFalse(ob["ring_met"])
        self.assertGreater(ob["late_ms"], 0)
        self.assertEqual(ob["delay_reason"], pb.DELAY_ROAD_BLOCKED)
        notes = [json.loads(x.body_json) for x in self.events if x.kind == "supervisor.notice"]
        self.assertTrue(any(n["kind"] == "ring_missed" for n in notes))
        self.assertEqual(sum(1 for x in self.events if x.kind == "ring.missed"
                             and json.loads(x.body_json)["order"] == oid), 1)

    def test_everyone_declines_and_the_shortfall_is_reported(self):
        inc = self.submit("s09-c01", "traffic.collision", tier=3, tier_reason="test")
        full, got = self.orders_of(inc)
        declined, accepted = set(), set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for oid, (dept, order) in got.items():
                if oid in declined or oid in accepted:
                    continue
                if self.units.get(order.unit_id, {}).get("kind") != "traffic_patrol":
                    self.fleet.report(dept, oid, pb.ORDER_ACCEPTED)  # everyone else answers
                    accepted.add(oid)
                    continue
                self.assertEqual(self.fleet.report(dept, oid, pb.ORDER_DECLINED).report_ack.code, pb.OK)
                declined.add(oid)
            self.drain_feed(0.2)
            if any(e.kind == "muster.shortfall" and e.incident_id == inc.id for e in self.events):
                break
            now = self.get(inc.id)
            got, _ = self.fleet.collect([m.order_id for m in now.members
                                         if m.status == pb.ORDER_SENT], timeout=5)
        short = [json.loads(e.body_json) for e in self.events
                 if e.kind == "muster.shortfall" and e.incident_id == inc.id]
        self.assertTrue(short, "no shortfall after every traffic patrol declined")
        missing = short[-1]["missing"]
        self.assertEqual([m["kind"] for m in missing], ["traffic_patrol"])
        patrols = [u for u in self.units.values() if u["kind"] == "traffic_patrol"]
        self.assertEqual(len(declined), len(patrols))


if __name__ == "__main__":
    main()
