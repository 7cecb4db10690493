"""Whistle and report (吹哨报到) end to end: a street blows the whistle; the named departments'
agents get the call; arrivals are judged on time or late, rank and headcount met or not; the
absent are recorded after the grace period and the compliance is published."""
import json
import time

from harness import main, pb
from test_muster import Base


class Whistle(Base):
    def blow(self, **kw):
        r = self.op.call(blow_whistle=pb.BlowWhistle(**kw))
        self.assertIsNotNone(r)
        return r

    def arrive(self, dept, wid, rank, n):
        a = self.fleet.agents[dept]
        e = a.envelope(whistle_arrival=pb.WhistleArrival(whistle_id=wid, leader_rank=rank,
                                                         headcount=n))
        e.correlation_id = e.seq
        a.send(e)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = a.recv(deadline - time.monotonic())
            self.assertIsNotNone(r)
            kind = r.WhichOneof("body")
            if (kind == "report_ack" and r.report_ack.acked_seq == e.seq) or \
                    (kind == "error" and r.correlation_id == e.seq):
                return r
        self.fail("no answer to the arrival")

    def test_whistle_and_report_compliance(self):
        r = self.blow(place="s03", matter="illegal structure on the slope above Lane 4",
                      departments=["police", "housing", "citymgmt", "transport"],
                      deadline_s=10, leader_rank="section chief", headcount=2)
        self.assertEqual(r.WhichOneof("body"), "whistle_reply", r)
        w = r.whistle_reply.whistle
        self.assertEqual([d.status for d in w.departments], ["called"] * 4)
        calls = {}
        deadline = time.monotonic() + 5
        while len(calls) < 4 and time.monotonic() < deadline:
            _, other = self.fleet.collect([-1], timeout=0.3)
            for dept, e in other:
                if e.WhichOneof("body") == "whistle_call":
                    calls[dept] = e.whistle_call
        self.assertEqual(set(calls), {"police", "housing", "citymgmt", "transport"})
        self.assertEqual(calls["housing"].whistle_id, w.id)
        ok = self.arrive("police", w.id, "deputy director", 3)
        self.assertEqual((ok.report_ack.code, ok.report_ack.message), (pb.OK, "on_time"))
        weak = self.arrive("housing", w.id, "staff", 1)
        self.assertEqual(weak.report_ack.message, "on_time")
        again = self.arrive("housing", w.id, "director", 5)
        self.assertEqual(again.error.code, pb.INVALID_STATE)
        stranger = self.arrive("fire", w.id, "director", 5)
        self.assertEqual(stranger.error.code, pb.NOT_YOURS)
        # after the deadline: late
        while time.time() * 1000 <= w.deadline_ms + 200:
            self.fleet.collect([-1], timeout=0.2)
        late = self.arrive("transport", w.id, "section chief", 2)
        self.assertEqual(late.report_ack.message, "late")
        # after the grace period: citymgmt absent, compliance published
        comp = None
        end = time.monotonic() + 30
        while comp is None and time.monotonic() < end:
            e = self.feed.recv(0.5)
            if e is not None and e.event.kind == "whistle.compliance":
                comp = json.loads(e.event.body_json)
            if e is not None:
                self.events.append(e.event)
        self.assertIsNotNone(comp, "compliance was never published")
        self.assertEqual((comp["on_time"], comp["late"], comp["absent"], comp["fully_met"]),
                         (2, 1, 1, 1))
        shown = json.loads(self.d.muster("whistle", "show", str(w.id), "--json").stdout)
        st = {d["department"]: d for d in shown["departments"]}
        self.assertEqual(st["citymgmt"]["status"], "absent")
        self.assertEqual(st["transport"]["status"], "late")
        self.assertGreater(st["transport"]["late_ms"], 0)
        self.assertTrue(st["police"]["rank_met"] and st["police"]["headcount_met"])
        self.assertFalse(st["housing"]["rank_met"] or st["housing"]["headcount_met"])
        self.drain_feed()
        notes = [json.loads(e.body_json) for e in self.events if e.kind == "supervisor.notice"]
        self.assertTrue(any(n["kind"] == "whistle_absent" and n["department"] == "citymgmt"
                            for n in notes))

    def test_bad_whistles(self):
        for kw, field in ((dict(place="s01-c01-g1"), "place"),
                          (dict(departments=["navy"]), "departments"),
                          (dict(departments=["police", "police"]), "departments"),
                          (dict(deadline_s=5), "deadline_s"),
                          (dict(leader_rank="general"), "leader_rank"),
                          (dict(headcount=0), "headcount"),
                          (dict(matter=""), "matter")):
            args = dict(place="s03", matter="m", departments=["police"], deadline_s=60,
                        leader_rank="staff", headcount=1)
            args.update(kw)
            r = self.blow(**args)
            self.assertEqual(r.WhichOneof("body"), "error", kw)
            self.assertEqual(r.error.field, field)
        r = self.raw("control", key=self.d.key("observer.key")).call(
            blow_whistle=pb.BlowWhistle(place="s03", matter="m", departments=["police"],
                                        deadline_s=60, leader_rank="staff", headcount=1))
        self.assertEqual(r.error.code, pb.FORBIDDEN)


if __name__ == "__main__":
    main()
