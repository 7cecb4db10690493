"""Bounded resources (issue 6): under a flood of requests and reports, the daemon's memory and
queues stay bounded, their high-water marks are visible as events and in `muster status`, the
limits refuse work with a clear error and lose nothing acknowledged, and the operators'
requests keep being answered. Prints its figures.

The normal suite floods for two phases of MUSTER_FLOOD_SECONDS (4) each; the long run is
MUSTER_FLOOD_SECONDS=300. The flooders, all at once, as fast as they can:
- an agent sending receipts for orders that do not exist, and never reading the errors that
  come back (its receive queue and TCP buffer are tiny), so its send queue at the daemon fills;
- an agent sending heartbeats;
- an agent sending frames of random bytes as large as max_frame allows;
- a coordinator submitting incidents past max_open_incidents;
- a feed subscriber that never reads.
Meanwhile an operator asks for an incident and the status every 50 ms and times the answers.
"""
import json
import os
import random
import re
import sqlite3
import statistics
import threading
import time

import zmq

from harness import DaemonTest, main, pb, roster_units, verify_chain

# AddressSanitizer holds freed memory back (256 MB by default) before reusing it, which would
# look like growth; a small quarantine keeps use-after-free detection and makes RSS mean
# something. The option only matters to ASan builds.
ASAN_QUARANTINE_MB = 8
os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                              f":quarantine_size_mb={ASAN_QUARANTINE_MB}").lstrip(":")

LIMIT = 150  # max_open_incidents
HWM = 1000   # send_hwm (well above the rogue's bursts of 40)
# recv_hwm: what one peer may have queued at the daemon, unread. When the daemon's loop stalls
# (a checkpoint, an fsync, a busy machine), the junk peer's queue fills up to this many 60 KB
# frames, all of it resident; the default 1,000 would let one stall add 58 MiB, which says
# nothing about growth. 100 (still above the bursts of 40) bounds it at 5.9 MiB.
RECV_HWM = 100
MAX_FRAME = 65536  # the default max_frame
PEERS = 5  # those that send to the daemon: four flooders and the operator (not the feed's)
# Beyond the queues: SQLite's page cache (2 MiB by default), ZeroMQ's per-connection buffers
# and the allocator's slack.
RSS_ALLOWANCE_KIB = 16 * 1024
WAL_PAGES = 256  # wal_max_pages: 1 MiB


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def asan(pid):
    """Whether the process runs under AddressSanitizer."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * len(v)))] if v else float("nan")


class Flood(DaemonTest):
    start_daemon = False

    def setUp(self):
        super().setUp()
        # heartbeat_min_ms 0: the heartbeat limit (test_heartbeat.py) is off here, so that the
        # database grows at flood speed and the WAL must be checkpointed under load.
        self.d.set_conf({"max_open_incidents": LIMIT, "send_hwm": HWM, "recv_hwm": RECV_HWM,
                         "wal_max_pages": WAL_PAGES, "heartbeat_min_ms": 0})
        # Every submission is its own incident (no linking of duplicate reports), so that the
        # flood reaches the limit.
        path = os.path.join(self.d.dir, "plans.conf")
        text = open(path).read()
        with open(path, "w") as f:
            f.write(re.sub(r"dedup = \{[^}]*\};", "dedup = { radius_m = 10; window_s = 10; };",
                           text))
        self.d.start()
        self.stop = threading.Event()
        self.errors = []
        self.counts = {}

    def places(self):
        text = open(os.path.join(self.d.dir, "district.conf")).read()
        comm = text[re.search(r"^communities\s*=", text, re.M).start():]
        return [(p, float(a), float(o)) for p, a, o in re.findall(
            r'id\s*=\s*"([^"]+)";[^}]*?lat\s*=\s*([-0-9.]+);\s*lon\s*=\s*([-0-9.]+)', comm)]

    def socket(self, which, keyname, rcvhwm=1000, rcvbuf=-1, sock_type=zmq.DEALER):
        ctx = zmq.Context.instance()
        s = ctx.socket(sock_type)
        s.linger = 0
        s.rcvhwm = rcvhwm
        if rcvbuf > 0:
            s.rcvbuf = rcvbuf
        pub, sec = self.d.key(keyname)
        s.curve_serverkey = self.d.server_public
        s.curve_publickey, s.curve_secretkey = pub, sec
        if sock_type == zmq.SUB:
            s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(self.d.endpoints[which])
        return s

    def envelope(self, seq, **kw):
        e = pb.Envelope(version=1, seq=seq, correlation_id=seq,
                        sent_at_ms=int(time.time() * 1000))
        for k, v in kw.items():
            getattr(e, k).CopyFrom(v)
        return e.SerializeToString()

    def flooder(self, name, fn):
        def body():
            n = 0
            try:
                while not self.stop.is_set():
                    n += fn(n)
            except Exception as ex:  # reported by the test, never swallowed
                self.errors.append(f"{name}: {ex!r}")
            self.counts[name] = n
        t = threading.Thread(target=body, name=name, daemon=True)
        t.start()
        return t

    def test_flood_stays_bounded_and_operators_are_answered(self):
        seconds = float(os.environ.get("MUSTER_FLOOD_SECONDS", "4"))
        places = self.places()
        pid = self.d.proc.pid
        time.sleep(0.5)
        rss0 = rss_kib(pid)  # started, idle
        base_seq = int(time.time() * 1000) * 1000

        # The flooders' sockets.
        mute = self.socket("agents", "agent-fire.key", rcvhwm=1, rcvbuf=1024)
        beat = self.socket("agents", "agent-police.key")
        junk = self.socket("agents", "agent-traffic.key")
        rogue = self.socket("control", "coordinator.key")
        feed = self.socket("feed", "observer.key", rcvhwm=1, rcvbuf=1024, sock_type=zmq.SUB)
        acked, refused, other, unanswered_submits = [], [], [], []

        def send_all(s, data):
            try:
                s.send(data, zmq.NOBLOCK)
                return 1
            except zmq.Again:
                time.sleep(0.001)  # the daemon's receive queue for us is full: wait
                return 0

        def mute_fn(n):
            return send_all(mute, self.envelope(base_seq + n, receipt=pb.Receipt(
                order_id=10**12 + n)))

        # The police agent registers its units, then moves every one of them in every
        # heartbeat: each is recorded (positions and the input), so the database grows.
        units = [u for u in roster_units(open(os.path.join(self.d.dir, "roster.conf")).read())
                 if u.get("agent") == "agent:police"]
        self.assertGreater(len(units), 10)
        beat.send(self.envelope(base_seq, register=pb.Register(
            agent_version="flood", unit_ids=[u["id"] for u in units])))
        self.assertTrue(beat.poll(10000))
        reg = pb.Envelope()
        reg.ParseFromString(beat.recv())
        self.assertEqual(reg.WhichOneof("body"), "registered", reg)
        home = {u["id"]: (30.30 + random.uniform(0, 0.05), 120.15 + random.uniform(0, 0.05))
                for u in units}

        def beat_fn(n):
            hb = pb.Heartbeat(units=[pb.UnitState(
                unit_id=uid, status=pb.UNIT_AVAILABLE, position=pb.Coordinates(
                    lat=lat + random.uniform(-1e-4, 1e-4), lon=lon + random.uniform(-1e-4, 1e-4)))
                for uid, (lat, lon) in home.items()])
            k = send_all(beat, self.envelope(base_seq + 1 + n, heartbeat=hb))
            while beat.poll(0):
                beat.recv()
            return k

        frame = os.urandom(60000)

        def junk_fn(n):
            k = send_all(junk, frame)
            while junk.poll(0):
                junk.recv()
            return k

        def rogue_fn(n):
            # Bursts of 40 submissions, then their answers (fewer than send_hwm in flight,
            # so that none is lost to a full queue and each can be accounted for).
            for i in range(40):
                place, lat, lon = random.choice(places)
                # a few hundred metres around the community's centre: never within 10 m
                rogue.send(self.envelope(base_seq + n + i, submit_incident=pb.SubmitIncident(
                    type="fire.ebike", location=pb.Location(place=place, coords=pb.Coordinates(
                        lat=lat + random.uniform(-0.002, 0.002),
                        lon=lon + random.uniform(-0.002, 0.002))))))
            got = 0
            while got < 40 and rogue.poll(10000):
                e = pb.Envelope()
                e.ParseFromString(rogue.recv())
                got += 1
                kind = e.WhichOneof("body")
                if kind == "incident_reply":
                    acked.append(e.incident_reply.incident.id)
                elif kind == "error" and e.error.code == pb.RESOURCE_EXHAUSTED:
                    refused.append(e.error.message)
                else:
                    other.append(str(e))
            if got < 40:
                unanswered_submits.append(40 - got)
            return 40

        # The operator, timing every answer.
        op = self.operator()
        latencies, unanswered, wal_max = [], 0, 0
        samples = []  # (t, rss KiB)
        threads = [self.flooder("mute-receipts", mute_fn), self.flooder("heartbeats", beat_fn),
                   self.flooder("junk-frames", junk_fn), self.flooder("submits", rogue_fn)]
        t0 = time.monotonic()
        phase_end = [t0 + seconds, t0 + 2 * seconds]
        first_id = None
        while time.monotonic() < phase_end[1]:
            t = time.monotonic()
            if first_id is None and acked:
                first_id = acked[0]
            if first_id is not None:
                r = op.call(timeout=10.0, get_incident=pb.GetIncident(id=first_id))
                ok = r is not None and r.WhichOneof("body") == "incident_reply"
            else:
                r = op.call(timeout=10.0, get_status=pb.GetStatus())
                ok = r is not None and r.WhichOneof("body") == "status_reply"
            if ok:
                latencies.append(time.monotonic() - t)
            else:
                unanswered += 1
            samples.append((time.monotonic() - t0, rss_kib(pid)))
            try:
                wal_max = max(wal_max, os.path.getsize(self.d.db() + "-wal"))
            except OSError:
                pass
            time.sleep(0.05)
        self.stop.set()
        for t in threads:
            t.join(timeout=30)
        flood_s = time.monotonic() - t0
        time.sleep(0.5)
        self.assertEqual(self.errors, [])
        self.assertTrue(self.d.alive(), self.d.log_text()[-3000:])

        # Status after the flood.
        st = self.d.muster("status", "--json", key="keys/observer.key")
        status = json.loads(st.stdout)
        g = status["gauges"]

        # Memory. Its bound: what it held idle, plus every peer's receive queue full of the
        # largest frames, plus the allowance. And no growth: the second phase, with as much
        # flooding again, has the same typical (median) footprint as the first, within a
        # quarter or 8 MiB; a stall fills a queue for a moment, so the peaks are not compared.
        p1 = [k for t, k in samples if t <= seconds and k]
        p2 = [k for t, k in samples if t > seconds and k]
        rss1, rss2 = max(p1), max(p2)
        med1, med2 = statistics.median(p1), statistics.median(p2)
        bound = PEERS * RECV_HWM * MAX_FRAME // 1024 + RSS_ALLOWANCE_KIB
        if asan(pid):
            # ASan's memory overhead is on the order of 2x, plus its quarantine (set above).
            bound = 2 * bound + ASAN_QUARANTINE_MB * 1024
        bound += rss0
        db_bytes = os.path.getsize(self.d.db()) + os.path.getsize(self.d.db() + "-wal")

        for s in (mute, beat, junk, rogue, feed):
            s.close(0)
        self.d.stop()
        db = sqlite3.connect(self.d.db())
        try:
            events = {}
            for kind, body in db.execute("SELECT kind, body FROM timeline WHERE kind LIKE "
                                         "'resource.%' ORDER BY seq"):
                events.setdefault(kind, []).append(json.loads(body))
            stored = {row[0] for row in db.execute("SELECT id FROM incidents")}
            open_now = db.execute("SELECT count(*) FROM incidents WHERE state = 1").fetchone()[0]
            linked = db.execute("SELECT count(*) FROM incidents WHERE state = 3").fetchone()[0]
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            db.close()
        chain = verify_chain(self.d.db())
        marks = {e["gauge"]: e["value"] for e in events.get("resource.high_water", [])}

        sent = dict(self.counts)
        print(f"\nflood: {flood_s:.1f} s; sent: " +
              ", ".join(f"{k} {v}" for k, v in sorted(sent.items())), flush=True)
        print(f"flood: operator answers {len(latencies)}, unanswered {unanswered}; latency "
              f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
              f"p99 {pct(latencies, 99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms",
              flush=True)
        print(f"flood: daemon RSS idle {rss0 / 1024:.1f} MiB; median {med1 / 1024:.1f} MiB and "
              f"max {rss1 / 1024:.1f} MiB in phase 1, median {med2 / 1024:.1f} MiB and max "
              f"{rss2 / 1024:.1f} MiB in phase 2 (bound {bound / 1024:.1f} MiB); "
              f"database {db_bytes / 1048576:.1f} MiB, "
              f"its WAL at most {wal_max / 1048576:.1f} MiB",
              flush=True)
        print(f"flood: incidents acknowledged {len(acked)}, refused at the limit "
              f"{len(refused)}, stored {len(stored)}: open {open_now} (limit {LIMIT}), "
              f"linked as duplicate reports {linked}; "
              f"sends to a full queue {status['send_queue_full']}", flush=True)
        print("flood: high-water events: " +
              ", ".join(f"{k} {v}" for k, v in sorted(marks.items())) +
              f"; limit events {len(events.get('resource.limit', []))}, queue-full events "
              f"{len(events.get('resource.queue_full', []))}", flush=True)
        print("flood: status: " + ", ".join(
            f"{k} {v['value']}/{v['high_water']}" for k, v in g.items()), flush=True)

        # Operators were answered throughout.
        self.assertEqual(unanswered, 0)
        self.assertGreater(len(latencies), 10)
        self.assertLess(max(latencies), 5.0)
        # Memory stayed bounded, and did not grow.
        self.assertLessEqual(max(rss1, rss2), bound,
                             f"RSS reached {max(rss1, rss2)} KiB; its bound is {bound} KiB")
        self.assertLessEqual(med2, med1 * 1.25 + 8192,
                             f"RSS grew from a median of {med1} KiB to {med2} KiB under the "
                             "same flood")
        # The limit held and lost nothing: every acknowledged incident is stored, no refused
        # one is, and the open ones never passed the limit.
        self.assertEqual(other, [])
        self.assertEqual(unanswered_submits, [])
        self.assertEqual(len(acked), open_now + linked)  # a rare report within 10 m: linked
        self.assertGreater(len(refused), 0)
        self.assertEqual(stored, set(acked))
        self.assertEqual(open_now, LIMIT)
        self.assertTrue(all("max_open_incidents is 150" in m for m in refused), refused[:3])
        self.assertEqual(g["open_incidents"]["high_water"], LIMIT)
        self.assertEqual(g["open_incidents"]["limit"], LIMIT)
        self.assertEqual(status["refused_at_limit"], len(refused))
        # The marks are visible as events, and in the status.
        self.assertIn("open_incidents", marks)
        self.assertIn("batch_messages", marks)
        self.assertGreater(len(events.get("resource.limit", [])), 0)
        # told once a minute at most: the first refusals at once, the rest later
        told = sum(e["refused"] for e in events["resource.limit"])
        self.assertGreater(told, 0)
        self.assertLessEqual(told, len(refused))
        self.assertGreater(status["send_queue_full"], 0)
        self.assertGreater(len(events.get("resource.queue_full", [])), 0)
        for name in ("rss", "batch_messages", "batch_sends", "db_pages"):
            self.assertGreater(g[name]["high_water"], 0, name)
        # One batch is at most DAEMON_BATCH_MAX messages, and the WAL is checkpointed at
        # wal_max_pages even without an idle moment.
        self.assertLessEqual(g["batch_messages"]["high_water"], 1024)
        # The database grew well past the WAL's limit, and the WAL never went far beyond it
        # (a checkpoint follows the commit that passes it; a batch adds at most a few MiB).
        self.assertGreater(db_bytes, 8 * WAL_PAGES * 4096)
        self.assertLess(wal_max, 4 * WAL_PAGES * 4096 + 4 * 1048576)
        # Nothing was half-made.
        self.assertEqual(integrity, "ok")
        self.assertTrue(chain)
        # The log was not flooded: bad frames are logged 10 at a time per 10 s.
        log = self.d.log_text()
        bad = log.count("bad frame of")
        self.assertGreater(sent["junk-frames"], 100)
        self.assertLessEqual(bad, 10 * (int(flood_s / 10) + 2),
                             f"{bad} bad-frame lines for {sent['junk-frames']} frames")
        self.assertTrue("more bad frames in 10 s were not logged one by one" in log,
                        log[-2000:])


class Limits(DaemonTest):
    """max_open_incidents: drills are refused first, a real incident only when real incidents
    alone reach the limit; closing one or raising the limit (SIGHUP) admits again."""

    start_daemon = False

    def test_real_incidents_come_before_drills_at_the_limit(self):
        self.d.set_conf({"max_open_incidents": 3})
        self.d.start()
        op = self.raw("control", key=self.d.key("coordinator.key"))
        place = self.a_place()

        # The same type at the same place would be linked as a duplicate report: one each.
        types = ["fire.ebike", "fire.residential", "attack.violent", "collapse.slope",
                 "traffic.collision"]

        def new_typed(i, exercise):
            r = op.call(exercise=exercise, submit_incident=pb.SubmitIncident(
                type=types[i % len(types)], location=pb.Location(place=place)))
            self.assertIsNotNone(r)
            return r

        def opened(exercise):
            """Three incidents of distinct types, each accepted; then a fourth, refused."""
            got = [new_typed(i, exercise) for i in range(3)]
            for x in got:
                self.assertEqual(x.WhichOneof("body"), "incident_reply", x)
            r = new_typed(3, exercise)
            self.assertEqual(r.WhichOneof("body"), "error")
            self.assertEqual(r.error.code, pb.RESOURCE_EXHAUSTED)
            return got, r.error.message

        _, why = opened(True)
        self.assertIn("the drill incident was not opened", why)
        # Real incidents are not crowded out by the drills.
        real, why = opened(False)
        self.assertIn("3 real incidents are open and max_open_incidents is 3", why)
        # Closing a real one admits one again.
        c = op.call(close_incident=pb.CloseIncident(
            id=real[0].incident_reply.incident.id, reason="handled"))
        self.assertEqual(c.WhichOneof("body"), "incident_reply", c)
        self.assertEqual(new_typed(3, False).WhichOneof("body"), "incident_reply")
        self.assertEqual(new_typed(4, False).WhichOneof("body"), "error")
        # Raising the limit on SIGHUP admits without a restart.
        self.d.set_conf({"max_open_incidents": 10})
        self.d.hup()
        self.d.wait_log(r"reload")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = new_typed(4, False)
            if r.WhichOneof("body") == "incident_reply":
                break
            time.sleep(0.1)
        self.assertEqual(r.WhichOneof("body"), "incident_reply", r)
        # The refusals changed nothing: 3 drills + 5 real accepted, 1 closed.
        lst = op.call(list_incidents=pb.ListIncidents(include_closed=True))
        self.assertEqual(len(lst.incident_list.incidents), 8)


if __name__ == "__main__":
    main()
