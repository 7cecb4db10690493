"""The extras of `muster report` on a live run: ring compliance, the misses with their delay
reasons, the department ranking, the status grid, whistle-and-report compliance and diversion
delays. The test causes the facts (a muster where one unit reports a delay and never arrives,
a diversion, a whistle), snapshots the running daemon and computes every expected figure by
hand from what the daemon told it, with the rules of docs/metrics.md written out again here.
Then the HTML report is opened in headless Chromium."""
import json
import os
import re
import time

from browser import Svg, dump_dom, ink, screenshot
from harness import main, pb
from test_muster import Base

REASONS = {pb.DELAY_TRAFFIC: "traffic", pb.DELAY_ROAD_BLOCKED: "road_blocked"}


def pct(values, p):
    """Nearest rank: the value at rank ceil(p*n/100), 1-based."""
    v = sorted(values)
    rank = (p * len(v) + 99) // 100
    return v[max(rank, 1) - 1]


def responses(inc):
    """The responses of an incident: its unit orders that were not cancelled."""
    return [m for m in inc.members if m.what == "unit" and m.status != pb.ORDER_CANCELLED]


def ring_s(m):
    return (m.ring_deadline_ms - m.ordered_at_ms) // 1000 if m.ring_deadline_ms else None


def class_judgements(inc, rs):
    """For each responder class among RS with a ring: (kind, department, met, arrived,
    reasons), each class once, as the report judges it."""
    out = []
    for kind in sorted({m.kind for m in rs if ring_s(m) is not None}):
        of = [m for m in rs if m.kind == kind]
        ring = min(ring_s(m) for m in of if ring_s(m) is not None)
        arrivals = [m.on_scene_at_ms for m in of if m.on_scene_at_ms]
        first = min(arrivals) if arrivals else None
        met = first is not None and first - inc.received_at_ms <= ring * 1000
        reasons = {REASONS[m.delay_reason] for m in of if m.delay_reason}
        out.append((kind, of[0].department, met, first, reasons))
    return out


class LiveReport(Base):
    def test_report_extras_equal_the_run_and_html_renders(self):
        inc = self.submit("s03-c01", "traffic.collision", tier=3, tier_reason="test")
        members = self.check_assembly(inc)
        got, _ = self.fleet.collect([m.order_id for m in members])
        # The unit left behind: the only one of its class, so that its class misses.
        units = [m for m in members if m.what == "unit" and m.ring_deadline_ms]
        kinds = [m.kind for m in units]
        behind = next(m for m in units if kinds.count(m.kind) == 1)
        for oid, (dept, _) in got.items():
            if oid == behind.order_id:
                steps = ((None, 0), (pb.ORDER_ACCEPTED, 0), (pb.ORDER_EN_ROUTE, pb.DELAY_TRAFFIC))
            else:
                steps = ((None, 0), (pb.ORDER_ACCEPTED, 0), (pb.ORDER_EN_ROUTE, 0),
                         (pb.ORDER_ON_SCENE, 0))
            for st, delay in steps:
                r = self.fleet.report(dept, oid, st, delay)
                self.assertEqual(r.report_ack.code, pb.OK, r)
        # A diversion: the time lost is in the event.
        self.d.muster("divert", str(inc.id), "--to", "housing", "--reason", "a housing matter")
        # A whistle: police arrive on time, housing are not yet due.
        r = self.op.call(blow_whistle=pb.BlowWhistle(
            place="s03", matter="slope above Lane 4", departments=["police", "housing"],
            deadline_s=600, leader_rank="section chief", headcount=2))
        wid = r.whistle_reply.whistle.id
        a = self.fleet.agents["police"]
        e = a.envelope(whistle_arrival=pb.WhistleArrival(whistle_id=wid,
                                                         leader_rank="director", headcount=3))
        e.correlation_id = e.seq
        a.send(e)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            ack = a.recv(end - time.monotonic())
            if ack is not None and ack.WhichOneof("body") == "report_ack" \
                    and ack.report_ack.acked_seq == e.seq:
                break
        self.assertEqual(ack.report_ack.message, "on_time")
        self.drain_feed()
        lost = [json.loads(ev.body_json)["lost_ms"] for ev in self.events
                if ev.kind == "incident.diverted"]
        self.assertEqual(len(lost), 1)

        done = self.get(inc.id)
        rs = responses(done)
        path = self.d.muster("snapshot", "live.db").stdout.split(":")[0]
        rep = json.loads(self.d.muster("report", path, "--json").stdout)

        # Misses: each class judged by hand; the one left behind is among them, with its
        # reason. No other incident exists, so these are all.
        judged = class_judgements(done, rs)
        want = [(k, d, first) for k, d, met, first, _ in judged if not met]
        self.assertIn((behind.kind, behind.department, None), want)
        m = rep["misses"]
        self.assertEqual(m["total"], len(want))
        self.assertEqual(sorted((x["kind"], x["department"]) for x in m["list"]),
                         sorted((k, d) for k, d, _ in want))
        mine = next(x for x in m["list"] if x["kind"] == behind.kind)
        self.assertEqual((mine["call"], mine["arrival_s"], mine["delay_reasons"]),
                         (str(inc.id), None, ["traffic"]))
        self.assertEqual(mine["deadline_s"], ring_s(behind))
        self.assertEqual(m["by_reason"].get("traffic"), 1)

        # Ring compliance per class.
        rings = {x["kind"]: x for x in rep["total"]["rings"]}
        for kind, _, met, first, _ in judged:
            self.assertEqual((rings[kind]["met"], rings[kind]["no_arrival"]),
                             (int(met), int(first is None)), kind)

        # The department ranking: rings met / judged, then the p90 to first on scene.
        def dept_key(dept):
            of = [x for x in rs if x.department == dept]
            js = class_judgements(done, of)
            met = sum(1 for j in js if j[2])
            arr = [x.on_scene_at_ms for x in of if x.on_scene_at_ms]
            p90 = (min(arr) - done.received_at_ms) if arr else None
            share = met / len(js) if js else None
            return (share is None, -(share or 0), p90 is None, p90 or 0, dept), met, len(js)

        order = sorted({x.department for x in rs}, key=lambda d: dept_key(d)[0])
        self.assertEqual([d["department"] for d in rep["departments"]], order)
        for d in rep["departments"]:
            _, met, n = dept_key(d["department"])
            self.assertEqual((d["ring_met"], d["ring_judged"]), (met, n), d["department"])

        # The status grid: one zone, the finest place known of the incident (its community
        # here), or the one asked for.
        arr = [x.on_scene_at_ms for x in rs if x.on_scene_at_ms]
        within = int(bool(arr) and min(arr) - done.received_at_ms <= 300000)
        loc = done.location
        self.assertEqual(loc.community, "s03-c01")
        self.assertEqual([(z["zone"], z["within"], z["judged"]) for z in rep["status"]["zones"]],
                         [(loc.grid or loc.community or loc.street, within, 1)])
        by_street = json.loads(self.d.muster("report", path, "--json", "--zone", "street").stdout)
        self.assertEqual([z["zone"] for z in by_street["status"]["zones"]], [loc.street])

        # Diversion and whistle.
        dv = rep["diversions"]
        self.assertEqual((dv["count"], dv["list"][0]["to"], dv["list"][0]["lost_s"]),
                         (1, "housing", lost[0] / 1000))
        self.assertEqual(dv["lost_p50_s"], lost[0] / 1000)
        wh = rep["whistles"]
        self.assertEqual(wh["by_status"], {"called": 1, "on_time": 1, "late": 0, "absent": 0})
        st = {x["department"]: x for x in wh["list"]}
        self.assertEqual((st["police"]["status"], st["police"]["rank_met"],
                          st["police"]["headcount_met"]), ("on_time", True, True))
        self.assertEqual(st["housing"]["status"], "called")

        # The HTML report in a real browser.
        page = os.path.join(self.tmp, "live.html")
        if os.environ.get("KEEP_HTML"):
            page = os.environ["KEEP_HTML"]
        with open(page, "w") as f:
            f.write(self.d.muster("report", path, "--html").stdout)
        dom = Svg(dump_dom(page, self.tmp))
        self.assertEqual(len(dom.elements("chart-rings", "rect", "ring-none")), 1)
        self.assertEqual(len(dom.elements("chart-rings", "text")), 2 * len(judged))
        lines = dom.elements("chart-response", "line", "ring")
        self.assertEqual(len(lines), len({r["ring_s"] for r in rep["ring_deadlines"]}))
        self.assertEqual(len(dom.elements("status-grid", "g", "zone")), 1)
        miss_rows = dom.tables["misses"][1:]
        self.assertEqual(len(miss_rows), len(want))
        self.assertTrue(any(r[-1] == "traffic" and r[5] == behind.kind for r in miss_rows))
        self.assertEqual(len(dom.tables["whistles"]) - 1, 2)
        self.assertEqual(dom.tables["diversions"][1][3], "housing")
        self.assertEqual(dom.tables["ranking"][1][1], order[0])
        self.assertTrue(re.search(r"Diversions: 1; time lost", dump_dom(page, self.tmp)))
        share, colours = ink(screenshot(page, os.path.join(self.tmp, "live.png"), self.tmp))
        self.assertGreater(share, 0.05, "the screenshot is (nearly) blank")
        self.assertGreater(colours, 20)


if __name__ == "__main__":
    main()
