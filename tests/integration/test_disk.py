"""Disk faults (issue 6, item 3): a full database, a full disk, and writes and fsyncs that fail.

The real musterd on a real SQLite file. Each incident an operator submits gets one of two
answers: acknowledged, and then it exists (after the fault is cleared, and after SIGKILL and a
restart), or UNAVAILABLE saying what failed ("the database is full: nothing was changed"),
and then it does not exist, ever. When the fault goes, the daemon takes changes again without
a restart. At the end the timeline's hash chain is verified independently and
`PRAGMA integrity_check` says ok.

- PageLimit: `max_db_pages` (PRAGMA max_page_count) set to the database's size by SIGHUP, so
  that it fills up; an agent's reports are refused too and applied once when re-sent; raising
  the limit by SIGHUP is how space returns.
- SmallTmpfs: the database on a tmpfs of a few hundred KiB, filled up for real (ENOSPC), then
  grown with `mount -o remount,size=`. Skipped where mounting is not allowed.
- InjectedFaults: libfiu's POSIX preload (what `fiu-run -x` does) and `fiu-ctrl` make
  fdatasync/fsync or pwrite fail (EIO, or ENOSPC) in the running daemon, always or at random;
  one fault in five ends with SIGKILL instead of being cleared; checkpoints run into the
  faults too (checkpoint_idle_ms = 10). Only the storage failure points are used: libzmq
  signals its threads with write(2) on an eventfd and aborts when that fails ("Input/output
  error (src/signaler.cpp:184)"), so posix/io/rw/write would test ZeroMQ, not the disk;
  SQLite writes with pwrite64 (posix/io/rw/pwrite) and syncs with fdatasync.

MUSTER_LONG=1 runs many cycles of each (200, 50 and 1,000) instead of 2 to 12;
MUSTER_DISK_SEED changes the random choices. Every test prints its figures: attempted,
acknowledged, refused, lost (must be 0), refused-but-present (must be 0), reads served and
refused, and the recovery times (from the end of a fault to the first acknowledged change,
including the SIGHUP, remount or fiu-ctrl that ends it)."""
import errno
import json
import os
import random
import re
import select
import shutil
import sqlite3
import subprocess
import time

from harness import MUSTERD, TIMEOUT, DaemonTest, fiu_env, main, pb, verify_chain

LONG = os.environ.get("MUSTER_LONG") == "1"
FIU_LIB = "/usr/lib/fiu"  # Debian's libfiu0 puts the preload libraries here
FIU_CTRL = shutil.which("fiu-ctrl")  # Debian's fiu-utils
TYPES = ["fire.residential", "traffic.collision", "crowd.disorder", "flood", "hazmat.leak",
         "fire.ebike", "collapse.slope", "accident.construction"]
FULL = "the database is full: nothing was changed"


def pct(values, p):
    """Nearest-rank percentile."""
    v = sorted(values)
    return v[max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))] if v else 0.0


class Ledger:
    """Every submission and its answer; the check that nothing acknowledged is missing and
    nothing refused is present."""

    def __init__(self, test, name):
        self.test = test
        self.name = name
        self.acked = {}    # description -> incident id
        self.refused = {}  # description -> the error's message
        self.attempted = 0
        self.recoveries = []  # seconds from the end of a fault to the first acknowledged change
        self.messages = set()
        self.checks = 0
        self.reads = 0
        self.reads_refused = 0

    def submit(self, op, tag, burst=1, type_=None):
        """Submits BURST incidents at once (so that they share a batch, a commit, a failure);
        returns how many were acknowledged. Every one must be answered."""
        places, sent = self.test.places, {}
        for _ in range(burst):
            self.attempted += 1
            desc = f"{self.name} {tag} #{self.attempted}"
            e = op.envelope(submit_incident=pb.SubmitIncident(
                type=type_ or TYPES[self.attempted % len(TYPES)],
                location=pb.Location(place=places[self.attempted % len(places)]),
                description=desc))
            sent[e.correlation_id] = desc
            op.send(e)
        acked = 0
        deadline = time.monotonic() + TIMEOUT
        while sent and time.monotonic() < deadline:
            r = op.recv(deadline - time.monotonic())
            if r is None or r.correlation_id not in sent:
                continue
            desc = sent.pop(r.correlation_id)
            if r.WhichOneof("body") == "incident_reply":
                self.acked[desc] = r.incident_reply.incident.id
                acked += 1
                continue
            self.test.assertEqual(r.WhichOneof("body"), "error", r)
            self.test.assertEqual(r.error.code, pb.UNAVAILABLE, r)
            self.test.assertIn("nothing was changed", r.error.message)
            self.refused[desc] = r.error.message
            self.messages.add(r.error.message)
        self.test.assertEqual(sent, {}, "no answer:\n" + self.test.d.log_text()[-3000:])
        return acked

    def recover(self, op, since, tag="recovery"):
        """Submits until one is acknowledged; records the time since SINCE (monotonic)."""
        deadline = time.monotonic() + TIMEOUT
        while not self.submit(op, tag):
            self.test.assertLess(time.monotonic(), deadline,
                                 "the daemon did not take changes again:\n" +
                                 self.test.d.log_text()[-3000:])
            time.sleep(0.01)
        self.recoveries.append(time.monotonic() - since)

    def check(self, found, where):
        """FOUND maps description -> id of every incident there is."""
        mine = {k: v for k, v in found.items() if k.startswith(self.name + " ")}
        lost = sorted(d for d, i in self.acked.items() if mine.get(d) != i)
        back = sorted(d for d in self.refused if d in mine)
        self.test.assertEqual(lost, [], f"{where}: acknowledged but missing")
        self.test.assertEqual(back, [], f"{where}: refused but present")
        self.test.assertEqual(len(mine), len(self.acked), f"{where}: unexpected incidents")
        self.checks += 1

    def check_live(self, op, where):
        """Lists every incident from the running daemon. A read that shared its batch with a
        change the commit lost is refused too (it might show that change): asked again."""
        found, after = {}, 0
        deadline = time.monotonic() + TIMEOUT
        while True:
            r = op.call(timeout=TIMEOUT, list_incidents=pb.ListIncidents(
                include_closed=True, limit=100, after_id=after))
            self.test.assertIsNotNone(r, f"{where}: reads are not served")
            if (r.WhichOneof("body") == "error" and r.error.code == pb.UNAVAILABLE and
                    time.monotonic() < deadline):
                self.reads_refused += 1
                time.sleep(0.01)
                continue
            self.reads += 1
            self.test.assertEqual(r.WhichOneof("body"), "incident_list", r)
            for i in r.incident_list.incidents:
                found[i.description] = i.id
                after = max(after, i.id)
            if not r.incident_list.more:
                break
        self.check(found, where)

    def check_stopped(self, db):
        """The stopped daemon's file: integrity, the chain (recomputed here), the incidents."""
        con = sqlite3.connect(db)
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        found = dict(con.execute("SELECT description, id FROM incidents"))
        con.close()
        self.test.assertEqual(integrity, "ok")
        self.check(found, "after the last restart (file)")
        return verify_chain(db)

    def report(self, extra=""):
        rec = self.recoveries
        print(f"\ndisk: {self.name}: {self.attempted} incidents attempted, {len(self.acked)} "
              f"acknowledged, {len(self.refused)} refused, 0 lost, 0 refused-but-present "
              f"({self.checks} checks, {self.reads} reads served, {self.reads_refused} "
              f"refused); recovery after the fault: "
              f"p50 {pct(rec, 50) * 1000:.1f} ms, p99 {pct(rec, 99) * 1000:.1f} ms, "
              f"max {max(rec, default=0) * 1000:.1f} ms over {len(rec)} recoveries{extra}",
              flush=True)


class DiskTest(DaemonTest):
    def setUp(self):
        super().setUp()
        with open(os.path.join(self.d.dir, "district.conf")) as f:
            self.places = re.findall(r'id = "(s\d\d-c0\d)"', f.read())
        random.seed(int(os.environ.get("MUSTER_DISK_SEED", "6")))

    def reload(self, **settings):
        """Rewrites settings and sends SIGHUP; returns once the daemon has reloaded."""
        before = self.d.log_text().count("configuration reloaded")
        self.d.set_conf(settings)
        self.d.hup()
        deadline = time.monotonic() + TIMEOUT
        while self.d.log_text().count("configuration reloaded") == before:
            self.assertLess(time.monotonic(), deadline, self.d.log_text()[-2000:])
            time.sleep(0.01)

    def restart_after_kill(self, start):
        self.d.kill9()
        start()
        self.d.wait_log(r"timeline of \d+ events, hash chain intact")

    def reconnect(self, op):
        """A new operator connection in place of OP (closed: a long run must not keep one
        ZeroMQ context per restart)."""
        self.raws.remove(op)
        op.close()
        return self.operator()

    def finish(self, ledger, start, op):
        """SIGKILL, restart, check live; stop; check the file."""
        self.restart_after_kill(start)
        ledger.check_live(self.reconnect(op), "after the last SIGKILL and restart")
        self.d.stop()
        return ledger.check_stopped(self.db_path())

    def db_path(self):
        return self.d.db()


class Agent:
    """The fire department's agent as a raw client, reporting on its orders: each report
    waits for its answer; a refused one is kept to be sent again, with the same seq."""

    def __init__(self, test):
        self.test = test
        self.a = test.raw("agents", key=test.d.key("agent-fire.key"))
        self.a.seq = int(time.time() * 1e6)
        rep = self.a.call(register=pb.Register(agent_version="test-disk"))
        test.assertEqual(rep.WhichOneof("body"), "registered", rep)
        states = [pb.UnitState(unit_id=u.unit_id, position=u.position, status=pb.UNIT_AVAILABLE)
                  for u in rep.registered.units]
        self.a.send(self.a.envelope(heartbeat=pb.Heartbeat(units=states)))
        self.todo = []  # envelopes not yet sent, in order
        self.refused = 0
        self.resent = 0
        self.taken_back = 0  # orders reassigned before their reports came

    def collect_orders(self, timeout=3.0):
        """Reads what comes until half a second of silence after some order; queues a receipt
        and four statuses for each new order."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = self.a.recv(0.5)
            if e is None:
                if self.todo:
                    return
                continue
            if e.WhichOneof("body") == "order" and e.order.attempt == 1:
                oid = e.order.order_id
                self.todo.append({"receipt": pb.Receipt(order_id=oid)})
                for st in (pb.ORDER_ACCEPTED, pb.ORDER_EN_ROUTE, pb.ORDER_ON_SCENE,
                           pb.ORDER_CLEARED):
                    self.todo.append({"status": pb.StatusReport(order_id=oid, status=st)})

    def send(self, env):
        """Sends ENV and returns its answer: a ReportAck code, or the Error."""
        self.a.send(env)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            r = self.a.recv(deadline - time.monotonic())
            if r is None:
                break
            kind = r.WhichOneof("body")
            if kind == "report_ack" and r.report_ack.acked_seq == env.seq:
                return r.report_ack.code
            if kind == "error" and r.correlation_id == env.seq:
                return r.error
        raise AssertionError("no answer to a report:\n" + self.test.d.log_text()[-2000:])

    def report_until_refused(self):
        """Sends queued reports until one is refused; returns it (or None: none was). An
        order the daemon took back meanwhile (its receipt came too late: it was reassigned)
        is answered NOT_FOUND or INVALID_STATE; its other reports are dropped."""
        while self.todo:
            body = self.todo.pop(0)
            e = self.a.envelope(**body)
            e.correlation_id = e.seq
            ans = self.send(e)
            if ans == pb.OK:
                continue
            self.test.assertNotIsInstance(ans, int, f"report answered {ans}")
            if ans.code in (pb.NOT_FOUND, pb.INVALID_STATE):
                oid = next(iter(body.values())).order_id
                self.todo = [b for b in self.todo if next(iter(b.values())).order_id != oid]
                self.taken_back += 1
                continue
            self.test.assertEqual(ans.code, pb.UNAVAILABLE, ans)
            self.test.assertIn(FULL, ans.message)
            self.refused += 1
            return e
        return None

    def resend(self, e):
        """The refused report again, same seq: applied now (OK), and once (then DUPLICATE)."""
        self.test.assertEqual(self.send(e), pb.OK)
        self.test.assertEqual(self.send(e), pb.DUPLICATE)
        self.resent += 1


class PageLimit(DiskTest):
    def cli_submit(self, ledger, tag):
        """`muster incident new` into LEDGER; returns 1 when refused (0: there was room)."""
        ledger.attempted += 1
        desc = f"{ledger.name} {tag} #{ledger.attempted}"
        p = self.d.muster("incident", "new", "--type", "flood",
                          "--place", self.places[ledger.attempted % len(self.places)],
                          "--description", desc, "--json", check=False)
        if p.returncode == 0:
            ledger.acked[desc] = json.loads(p.stdout)["id"]
            return 0
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"muster: refused (UNAVAILABLE): {FULL}; changes are accepted again "
                      "once space is freed", p.stderr)
        ledger.refused[desc] = p.stderr
        return 1

    def test_full_database_refuses_changes_and_recovers_on_reload(self):
        cycles = 200 if LONG else 3
        ledger = Ledger(self, "pagelimit")
        op = self.operator()
        agent = Agent(self)
        fills, cli_refused = [], 0
        for c in range(cycles):
            # Space first: an incident for the fire agent's orders, and a few more.
            self.assertTrue(ledger.submit(op, f"c{c} before", type_="fire.residential"))
            for _ in range(2):
                self.assertTrue(ledger.submit(op, f"c{c} before"))
            agent.collect_orders()
            # The limit at the database's present size: it fills up as pages do.
            self.reload(max_db_pages=1)
            self.d.wait_log(r"max_db_pages 1 is below the database's \d+ pages: it is full")
            n, run = 0, 0
            while run < 3:  # three bursts refused whole in a row: full
                run = 0 if ledger.submit(op, f"c{c} filling", burst=4) else run + 1
                n += 4
                self.assertLess(n, 2000, "the database never filled up")
            fills.append(n)
            self.assertIn(FULL, "".join(ledger.messages))
            # What an operator at the command line sees (one may still fit: until refused).
            for _ in range(50):
                if self.cli_submit(ledger, f"c{c} cli"):
                    cli_refused += 1
                    break
            else:
                self.fail("muster incident new was never refused")
            refused_report = agent.report_until_refused()
            ledger.check_live(op, f"cycle {c}, while full")  # reads are served
            self.assertTrue(self.d.alive())
            # Space returns: the limit lifted by SIGHUP, no restart.
            t0 = time.monotonic()
            self.reload(max_db_pages=0)
            ledger.recover(op, t0)
            if refused_report is not None:
                agent.resend(refused_report)
            ledger.check_live(op, f"cycle {c}, after the limit was lifted")
        self.d.wait_log(r"the database is full: changes are refused")
        self.d.wait_log(r"storage works again after [\d.]+ s; \d+ requests were refused")
        self.assertGreater(agent.refused, 0, "no agent report was ever refused")
        events = self.finish(ledger, self.d.start, op)
        ledger.report(f"; {cycles} fill cycles ({pct(fills, 50)} submissions to fill, p50); "
                      f"muster incident new refused {cli_refused}; "
                      f"agent reports refused {agent.refused}, re-sent and applied once "
                      f"{agent.resent} ({agent.taken_back} orders taken back before their "
                      f"reports came); chain of {events} events intact, integrity ok")


class SmallTmpfs(DiskTest):
    """The database on a tmpfs filled up for real; `mount -o remount,size=` gives space back."""

    start_daemon = False

    def setUp(self):
        super().setUp()
        self.mnt = os.path.join(self.tmp, "disk")
        os.mkdir(self.mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs",
                            self.mnt], capture_output=True, text=True)
        if p.returncode != 0:
            self.skipTest("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): " +
                          p.stderr.strip())
        self.d.set_conf({"database": os.path.join(self.mnt, "muster.db"),
                         "checkpoint_idle_ms": 10})
        self.d.start()

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            if os.path.ismount(self.mnt):
                subprocess.run(["umount", self.mnt], check=False)

    def db_path(self):
        return os.path.join(self.mnt, "muster.db")

    def resize(self, kib):
        subprocess.run(["mount", "-o", f"remount,size={kib}k", self.mnt], check=True)

    def used_kib(self):
        st = os.statvfs(self.mnt)
        return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024

    def test_full_disk_refuses_changes_and_recovers_when_space_returns(self):
        cycles = 50 if LONG else 2
        ledger = Ledger(self, "tmpfs")
        op = self.operator()
        for c in range(cycles):
            for _ in range(2):
                self.assertTrue(ledger.submit(op, f"c{c} before"))
            self.resize(self.used_kib() + 64)  # a little room left: it fills up soon
            n, run = 0, 0
            while run < 3:
                run = 0 if ledger.submit(op, f"c{c} filling", burst=4) else run + 1
                n += 4
                self.assertLess(n, 4000, "the disk never filled up")
            self.assertIn(FULL, "".join(ledger.messages))
            ledger.check_live(op, f"cycle {c}, disk full")
            t0 = time.monotonic()
            self.resize(self.used_kib() + 4096)
            ledger.recover(op, t0)
            ledger.check_live(op, f"cycle {c}, after space returned")
        events = self.finish(ledger, self.d.start, op)
        ledger.report(f"; {cycles} cycles of a full tmpfs; chain of {events} events intact, "
                      "integrity ok")


class InjectedFaults(DiskTest):
    """libfiu in the running daemon: fsync, fdatasync and pwrite fail on command."""

    start_daemon = False
    KINDS = {
        # name: (failure points, errno, the probabilities of a fault that fails only some
        # calls: a commit makes one fdatasync but writes several frames)
        "fsync": (["posix/io/sync/fdatasync", "posix/io/sync/fsync"], errno.EIO,
                  [0.2, 0.5, 0.8]),
        "write": (["posix/io/rw/pwrite"], errno.EIO, [0.02, 0.05, 0.1]),
        "nospace": (["posix/io/rw/pwrite"], errno.ENOSPC, [0.02, 0.05, 0.1]),
    }

    def setUp(self):
        super().setUp()
        preload = os.path.join(FIU_LIB, "fiu_posix_preload.so")
        if FIU_CTRL is None or not os.path.exists(preload):
            self.skipTest("libfiu is not installed (Debian: apt-get install fiu-utils)")
        self.fifo = os.path.join(self.tmp, "fiu")
        # Checkpoints as soon as the daemon is idle, so that they too meet the faults.
        self.d.set_conf({"checkpoint_idle_ms": 10})
        self.start()

    def start(self):
        """Starts musterd as `fiu-run -x -f FIFO musterd ...` would, with ASan's runtime first
        when the build has it (it must come first in the list of libraries)."""
        env = fiu_env(MUSTERD, self.fifo)
        d = self.d
        r, w = os.pipe()
        if getattr(d, "log", None) is not None:
            d.log.close()
        d.log = open(d.log_path, "ab")
        d.proc = subprocess.Popen([MUSTERD, "-d", "-c", d.conf, "-R", str(w)], pass_fds=(w,),
                                  stdout=d.log, stderr=d.log, env=env)
        os.close(w)
        ready = b""
        deadline = time.monotonic() + TIMEOUT
        poll = select.poll()
        poll.register(r, select.POLLIN)
        while ready != b"READY\n" and time.monotonic() < deadline:
            rl = poll.poll(max(0, int((deadline - time.monotonic()) * 1000)))
            chunk = os.read(r, 64) if rl else b""
            if not chunk:
                break
            ready += chunk
        os.close(r)
        self.assertEqual(ready, b"READY\n", d.log_text()[-3000:])

    def fiu(self, *commands):
        args = [FIU_CTRL, "-f", self.fifo]
        for c in commands:
            args += ["-c", c]
        p = subprocess.run(args + [str(self.d.proc.pid)], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual((p.returncode, p.stderr.strip()), (0, ""), commands)

    def fault_on(self, kind, probability):
        points, err, _ = self.KINDS[kind]
        if probability >= 1:
            self.fiu(*(f"enable name={p},failinfo={err}" for p in points))
        else:
            self.fiu(*(f"enable_random name={p},probability={probability},failinfo={err}"
                       for p in points))

    def fault_off(self, kind):
        self.fiu(*(f"disable name={p}" for p in self.KINDS[kind][0]))

    def test_injected_write_and_fsync_errors(self):
        cycles = 1000 if LONG else 12
        per_cycle = 8 if LONG else 4
        ledger = Ledger(self, "fiu")
        op = self.operator()
        kinds = list(self.KINDS)
        stats = {k: [0, 0, 0] for k in kinds}  # cycles, acknowledged, refused
        kills = 0
        for c in range(cycles):
            kind = kinds[c % len(kinds)]
            # Always, or at random (some calls fail): over six cycles every kind both ways.
            prob = 1.0 if c % 2 == 0 else random.choice(self.KINDS[kind][2])
            for _ in range(2):
                self.assertTrue(ledger.submit(op, f"c{c} before"))
            acked, refused = len(ledger.acked), len(ledger.refused)
            self.fault_on(kind, prob)
            for _ in range(per_cycle // 2):
                ledger.submit(op, f"c{c} {kind} p={prob}")
            ledger.submit(op, f"c{c} {kind} p={prob}", burst=per_cycle // 2)
            time.sleep(0.03)  # idle: a checkpoint runs into the fault
            stats[kind][0] += 1
            stats[kind][1] += len(ledger.acked) - acked
            stats[kind][2] += len(ledger.refused) - refused
            if prob >= 1:
                self.assertEqual(len(ledger.acked), acked, f"{kind}: acknowledged while failing")
            # Reads are served during the fault; nothing refused is there.
            ledger.check_live(op, f"cycle {c}, {kind} failing")
            if c % 5 == 0:
                # The fault ends with the daemon killed: refused changes must not come back.
                kills += 1
                self.restart_after_kill(self.start)
                op = self.reconnect(op)
                ledger.check_live(op, f"cycle {c}, restarted after SIGKILL during {kind}")
                continue
            t0 = time.monotonic()
            self.fault_off(kind)
            ledger.recover(op, t0)
            ledger.check_live(op, f"cycle {c}, after {kind}")
        self.assertTrue(any(FULL in m for m in ledger.messages), ledger.messages)
        self.assertTrue(any(m.startswith("storage error (disk I/O error)")
                            for m in ledger.messages), ledger.messages)
        self.d.wait_log(r"storage error \(disk I/O error\): changes are refused")
        self.d.wait_log(r"storage works again after [\d.]+ s")
        events = self.finish(ledger, self.start, op)
        per = ", ".join(f"{k}: {s[0]} cycles, {s[1]} acknowledged, {s[2]} refused during it"
                        for k, s in stats.items())
        ledger.report(f"; {per}; {kills} faults ended by SIGKILL; chain of {events} events "
                      "intact, integrity ok")


if __name__ == "__main__":
    main()
