"""Agents killed and restarted (muster-agent --state): every department's real muster-agent
runs with a state file, six simulating (--simulate, fast) and two driving a small program
(--exec) that logs each order it is given. While an operator submits incidents, one agent at a
time is killed with SIGKILL, either the moment it prints an ORDER line (the order handed over,
its receipt and the simulated answer not yet acknowledged) or at a random moment of delivery,
and started again; incidents are closed after a few seconds (their orders still going on
are cancelled). Then: every order the daemon sent is receipted, handed on or cancelled
(nothing unanswered); no order was handed over twice (the agents' ORDER lines, the programs' logs, the
simulation's steps); no report an agent had committed was lost (each status in the state file
at a kill, and each one the simulation printed, is on the daemon's timeline, or the daemon
refused it); the state files are empty of reports at the end. The figures are printed: cycles,
orders, handovers, duplicates, reports sent again after a restart, and the redelivery time
from a restart until the agent's pending reports and orders were answered (p50, p99).

Also: state files that must stop the agent with `FILE: what is wrong` and exit status 1; and
fsync or write errors on the state file (libfiu), which must stop it before it hands the order
over or sends its receipt.

The normal suite runs a few cycles; MUSTER_AGENT_CYCLES=N runs N (docs/reliability.md gives
the long run's figures), MUSTER_AGENT_SEED changes the random moments."""
import collections
import os
import random
import re
import select
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from harness import (AGENT, TIMEOUT, UNRECEIPTED, DaemonTest, fiu_env, main, pb, settle,
                     verify_chain)

DEPARTMENTS = ("police", "fire", "emergency", "housing", "transport", "traffic", "health",
               "citymgmt")
EXEC_DEPARTMENTS = ("police", "health")  # the others simulate
TYPES = ("fire.ebike", "traffic.collision", "flood", "accident.construction",
         "fire.residential", "crowd.disorder", "collapse.slope", "attack.violent")
# Fast enough that orders are still going on at the kills: at --speed 50, a turnout of 20 to
# 80 ms, a few seconds' travel at most, 0.4 s on scene.
MODEL = ('models = ( { kind = "*"; turnout_s = [1, 4]; speed_kmh = 200.0; decline = 0.05;'
         ' no_show = 0.02; clear_s = 20; } );\n')
SPEED = "50"
# The --exec program: logs every order it is given (one line each, appended: it outlives
# the agent that started it only until its stdin closes), and answers it at once.
PROGRAM = r'''
import json, sys
log = open(sys.argv[1], "a", buffering=1)
try:
    for line in sys.stdin:
        m = json.loads(line)
        if m["type"] == "order":
            log.write("order %d\n" % m["order_id"])
            for st in ("accepted", "en_route", "on_scene", "cleared"):
                sys.stdout.write(json.dumps({"order_id": m["order_id"], "status": st}) + "\n")
            sys.stdout.flush()
        elif m["type"] in ("ack", "refused"):
            log.write("%s %d %s\n" % (m["type"], m["order_id"], m["status"]))
except BrokenPipeError:
    pass
'''
ORDER_LINE = re.compile(r"^ORDER #(\d+) ")
SIM_LINE = re.compile(r"^sim: #(\d+) (\S+) (accepted|declined|en_route|on_scene|cleared)$")
RECORDED = re.compile(r"agent: report seq (\d+) recorded \((\w+)\)")
REFUSED = re.compile(r"REFUSED by the daemon: (\S+) for order #(\d+) \(seq (\d+)\)")
LOADED = re.compile(r"(\d+) orders handed over before \((\d+) in progress\), (\d+) reports to "
                    r"send again")
# Order statuses an agent reports, by number (proto/muster.proto), as the timeline names them.
REPORTED = {pb.ORDER_RECEIVED: "received", pb.ORDER_ACCEPTED: "accepted",
            pb.ORDER_DECLINED: "declined", pb.ORDER_EN_ROUTE: "en_route",
            pb.ORDER_ON_SCENE: "on_scene", pb.ORDER_CLEARED: "cleared"}


def read_state(path):
    """A state file of a stopped agent: ({order id: status}, [(seq, kind, order id, status)])."""
    con = sqlite3.connect(path)
    try:
        orders = dict(con.execute("SELECT id, status FROM orders"))
        reports = con.execute("SELECT seq, kind, order_id, status FROM reports ORDER BY seq")\
            .fetchall()
    finally:
        con.close()
    return orders, reports


def committed(orders, reports):
    """What an agent had committed, as (order id, status name): the receipt of every order in
    its state, the status last reported of each, and every report still waiting."""
    out = set()
    for oid, status in orders.items():
        out.add((oid, "received"))
        if status in REPORTED:
            out.add((oid, REPORTED[status]))
    for _, kind, oid, status in reports:
        if kind == 1:
            out.add((oid, "received"))
        elif kind == 0 and status in REPORTED:
            out.add((oid, REPORTED[status]))
    return out


def wait_output(stream, text, timeout=TIMEOUT):
    """Reads a child's pipe until TEXT has come, and returns what was read. Raw reads: a line
    must not wait in a buffer where select() cannot see it."""
    fd, got = stream.fileno(), b""
    deadline = time.monotonic() + timeout
    while text.encode() not in got:
        left = deadline - time.monotonic()
        rl = select.select([fd], [], [], max(0.0, left))[0] if left > 0 else []
        chunk = os.read(fd, 4096) if rl else b""
        if not chunk:
            raise AssertionError(f"{text!r} never came; got {got!r}")
        got += chunk
    return got.decode(errors="replace")


def pct(values, p):
    """The P-th percentile of VALUES (nearest rank)."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, (p * len(v) + 99) // 100 - 1))]


class Agent:
    """One department's muster-agent with --state, started again after each kill. Threads read
    its stdout and stderr, time-stamp the lines (wall clock, to compare with the daemon's
    times), and can kill it the moment it prints its next ORDER line."""

    def __init__(self, test, dept, seed):
        self.dept = dept
        self.state = os.path.join(test.tmp, f"{dept}.state")
        self.args = [AGENT, "-c", test.d.dir, "-k", f"keys/agent-{dept}.key", "--state",
                     self.state, "-v"]
        self.log = None
        if dept in EXEC_DEPARTMENTS:
            self.log = os.path.join(test.tmp, f"{dept}.exec.log")
            self.args += ["--exec", " ".join(shlex.quote(x) for x in
                                             (sys.executable, test.program, self.log))]
        else:
            self.args += ["--simulate", "--model", test.model, "--speed", SPEED, "--seed",
                          str(seed)]
        self.transcript = open(os.path.join(test.tmp, f"{dept}.out"), "a")
        self.lock = threading.Lock()
        self.run = 0
        self.proc = None
        self.threads = []
        self.registered = {}  # run -> wall time of its first "registered" line
        self.handovers = collections.Counter()  # order id -> ORDER lines, every run
        self.sim = collections.Counter()  # (order id, status) -> sim lines, every run
        self.answered = {}  # (run, seq) -> (wall time, OK | DUPLICATE | REFUSED)
        self.refused = set()  # (order id, status name) the daemon refused
        self.loaded = {}  # run -> reports it loaded to send again
        self.kill_after = 0  # kill at the ORDER line that brings this to 0 (0: never)
        self.killed_at = None  # the order id it was killed at

    def start(self):
        """Starts the agent; returns the wall time just before."""
        t = time.time()
        self.run += 1
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, errors="replace")
        for stream, handler in ((self.proc.stdout, self.on_out),
                                (self.proc.stderr, self.on_err)):
            th = threading.Thread(target=self.read, args=(stream, handler, self.run, self.proc),
                                  daemon=True)
            th.start()
            self.threads.append(th)
        return t

    def read(self, stream, handler, run, proc):
        for line in stream:
            handler(line.rstrip("\n"), run, proc, time.time())
        stream.close()

    def on_out(self, line, run, proc, t):
        with self.lock:
            self.transcript.write(f"{run} {t:.3f} {line}\n")
            m = ORDER_LINE.match(line)
            if m:
                self.handovers[int(m.group(1))] += 1
                if self.kill_after and proc is self.proc:
                    self.kill_after -= 1
                    if self.kill_after == 0:
                        proc.send_signal(signal.SIGKILL)
                        self.killed_at = int(m.group(1))
            m = SIM_LINE.match(line)
            if m:
                self.sim[(int(m.group(1)), m.group(3))] += 1
            if line.startswith("registered "):
                self.registered.setdefault(run, t)

    def on_err(self, line, run, proc, t):
        with self.lock:
            self.transcript.write(f"{run} {t:.3f} ! {line}\n")
            m = RECORDED.search(line)
            if m:
                self.answered.setdefault((run, int(m.group(1))), (t, m.group(2)))
            m = REFUSED.search(line)
            if m:
                st = "received" if m.group(1) == "receipt" else m.group(1)
                self.refused.add((int(m.group(2)), st))
                self.answered.setdefault((run, int(m.group(3))), (t, "REFUSED"))
            m = LOADED.search(line)
            if m:
                self.loaded[run] = int(m.group(3))

    def kill9(self):
        """SIGKILL (if it still runs) and wait for it; returns the wall time of the kill."""
        t = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=TIMEOUT)
        return t

    def stop(self):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=TIMEOUT)

    def finish(self):
        for th in self.threads:
            th.join(timeout=TIMEOUT)
        self.transcript.close()

    def tail(self):
        with open(self.transcript.name, errors="replace") as f:
            return "".join(f.readlines()[-30:])


class AgentsKilled(DaemonTest):
    def setUp(self):
        super().setUp()
        self.model = os.path.join(self.tmp, "model.conf")
        with open(self.model, "w") as f:
            f.write(MODEL)
        self.program = os.path.join(self.tmp, "bridge.py")
        with open(self.program, "w") as f:
            f.write(PROGRAM)

    @staticmethod
    def lost(con, agents, kills, final):
        """The reports an agent had committed that the daemon never answered: on neither its
        timeline nor refused."""
        events = set(con.execute(
            "SELECT json_extract(body, '$.order'), substr(kind, 7) FROM timeline"
            " WHERE kind LIKE 'order.%'"))
        out = []
        for dept, a in agents.items():
            with a.lock:  # its reader threads may still be adding lines
                mine, refused = set(a.sim), set(a.refused)
            for k in kills:
                if k["dept"] == dept:
                    mine |= k["committed"]
            mine |= final.get(dept, set())
            out += [(dept, oid, st) for oid, st in sorted(mine)
                    if (oid, st) not in events and (oid, st) not in refused]
        return out

    def test_agents_killed_and_restarted_during_delivery(self):
        cycles = int(os.environ.get("MUSTER_AGENT_CYCLES", "12"))
        rng = random.Random(int(os.environ.get("MUSTER_AGENT_SEED", "5")))
        places = re.findall(r'id = "(s\d\d-c\d\d)"',
                            open(os.path.join(self.d.dir, "district.conf")).read())
        copies = os.path.join(self.tmp, "kills")
        os.mkdir(copies)
        agents = {d: Agent(self, d, 300 + i) for i, d in enumerate(DEPARTMENTS)}
        kills = []
        acked = sent = closed = 0
        opened = []  # (incident id, wall time), oldest first
        t0 = time.monotonic()
        op = self.operator()

        def submit():
            nonlocal acked, sent
            sent += 1
            r = op.call(timeout=5.0, submit_incident=pb.SubmitIncident(
                type=rng.choice(TYPES), location=pb.Location(place=rng.choice(places)),
                description="agents killed"))
            if r is not None and r.WhichOneof("body") == "incident_reply":
                acked += 1
                opened.append((r.incident_reply.incident.id, time.time()))

        def close_old():
            # An open incident takes later reports of its type nearby as duplicates (linked,
            # not mustered): close each after a few seconds, so that incidents keep making
            # orders. Orders still going on are cancelled (and their agents told).
            nonlocal closed
            while opened and opened[0][1] < time.time() - 5.0:
                r = op.call(timeout=5.0, close_incident=pb.CloseIncident(
                    id=opened.pop(0)[0], reason="agents killed: done"))
                closed += r is not None and r.WhichOneof("body") == "incident_reply"

        def wait_registered(a, run):
            deadline = time.monotonic() + TIMEOUT
            while run not in a.registered:
                self.assertIsNone(a.proc.poll(), f"{a.dept} agent exited:\n{a.tail()}")
                self.assertLess(time.monotonic(), deadline, f"{a.dept} never registered")
                time.sleep(0.02)

        final = {}
        try:
            for a in agents.values():
                a.start()
            for a in agents.values():
                wait_registered(a, 1)
            for cycle in range(cycles):
                for a in agents.values():
                    self.assertIsNone(a.proc.poll(), f"{a.dept} agent died:\n{a.tail()}")
                victim = agents[rng.choice(DEPARTMENTS)]
                # Every other cycle the kill comes the moment the victim prints an ORDER line
                # (the first, second or third from now): the order handed over, its receipt and
                # the simulation's answer very likely not yet acknowledged. Otherwise at a
                # random moment within 0.3 s of the last of a few incidents.
                on_order = cycle % 2 == 0
                if on_order:
                    with victim.lock:
                        victim.killed_at = None
                        victim.kill_after = rng.randint(1, 3)
                    deadline = time.monotonic() + 5.0
                    while time.monotonic() < deadline and victim.proc.poll() is None:
                        submit()
                        try:
                            victim.proc.wait(timeout=rng.uniform(0.1, 0.3))
                        except subprocess.TimeoutExpired:
                            pass
                    with victim.lock:
                        victim.kill_after = 0
                else:
                    for _ in range(rng.randint(1, 3)):
                        submit()
                    time.sleep(rng.uniform(0.0, 0.3))
                killed = victim.kill9()
                copy = os.path.join(copies, f"{cycle}-{victim.dept}.state")
                for suffix in ("", "-wal"):
                    if os.path.exists(victim.state + suffix):
                        shutil.copyfile(victim.state + suffix, copy + suffix)
                orders, reports = read_state(copy)
                if rng.random() < 0.5:
                    submit()  # orders created while the victim is down
                time.sleep(rng.uniform(0.0, 0.5))
                restarted = victim.start()
                kills.append({"dept": victim.dept, "run": victim.run, "killed": killed,
                              "restarted": restarted, "at_order": on_order and
                              victim.killed_at is not None, "pending": [r[0] for r in reports],
                              "committed": committed(orders, reports)})
                wait_registered(victim, victim.run)
                close_old()
                time.sleep(rng.uniform(0.2, 0.8))
            # Settle: what is left is answered, and the timeline stands still for a second.
            rows = [None]

            def still(con):
                """Nothing lost, and the timeline as long as at the last look."""
                now_rows = con.execute("SELECT count(*) FROM timeline").fetchone()[0]
                done = not self.lost(con, agents, kills, {}) and now_rows == rows[0]
                rows[0] = now_rows
                return done

            settle(op, 40, "settle", more=still, pause=1.0)
        finally:
            stopped = {d: a.stop() for d, a in agents.items()}
            for a in agents.values():
                a.finish()
        took = time.monotonic() - t0
        for dept, rc in stopped.items():
            self.assertEqual(rc, 0, f"{dept} agent exited {rc} on SIGTERM:\n"
                             f"{agents[dept].tail()}")
        waiting = {}
        for dept, a in agents.items():
            orders, reports = read_state(a.state)
            final[dept] = committed(orders, reports)
            if reports:
                waiting[dept] = reports
        self.d.stop()
        chain = verify_chain(self.d.db())
        con = sqlite3.connect(self.d.db())
        n_orders = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        unanswered = con.execute("SELECT id, agent, status " + UNRECEIPTED).fetchall()
        handed_on = con.execute("SELECT count(*) FROM orders WHERE status = ?",
                                (pb.ORDER_REASSIGNED,)).fetchone()[0]
        cancelled = con.execute("SELECT count(*) FROM orders WHERE status = ?",
                                (pb.ORDER_CANCELLED,)).fetchone()[0]
        lost = self.lost(con, agents, kills, final)
        first_sent = dict(con.execute("SELECT json_extract(body, '$.order'), min(wall_ms)"
                                      " FROM timeline WHERE kind = 'order.sent' GROUP BY 1"))
        received = {oid: (agent, ms) for oid, agent, ms in con.execute(
            "SELECT id, agent, received_ms FROM orders WHERE received_ms > 0")}
        con.close()

        # Handed over twice: an ORDER line, a program's log line or a simulated step twice.
        twice = {}
        for dept, a in agents.items():
            twice.update({(dept, "ORDER", oid): n for oid, n in a.handovers.items() if n > 1})
            twice.update({(dept, "sim", k): n for k, n in a.sim.items() if n > 1})
            if a.log and os.path.exists(a.log):
                with open(a.log) as f:
                    given = collections.Counter(int(line.split()[1]) for line in f
                                                if line.startswith("order "))
                twice.update({(dept, "exec", oid): n for oid, n in given.items() if n > 1})
        handovers = sum(sum(a.handovers.values()) for a in agents.values())
        # The window that remains: killed after the order was committed, before it was handed
        # over. Receipted, never handed over; the daemon's deadlines take it from there.
        not_handed = sum(1 for oid, (agent, _) in received.items()
                         if oid not in agents[agent.split(":", 1)[1]].handovers)

        # Redelivery: from a restart until the reports waiting in the state file at the kill,
        # and the orders sent to the agent and not yet receipted, were answered (by the
        # restarted run: a later kill may come first).
        per_item, per_restart, registering = [], [], []
        resent = duplicate = 0
        for k in kills:
            a = agents[k["dept"]]
            nxt = [j["killed"] for j in kills if j["dept"] == k["dept"] and
                   j["killed"] > k["restarted"]]
            until_ms = min(nxt) * 1000 if nxt else float("inf")
            start_ms = k["restarted"] * 1000
            times = []
            for seq in k["pending"]:
                got = a.answered.get((k["run"], seq))
                resent += 1
                if got:
                    times.append(got[0] * 1000 - start_ms)
                    duplicate += got[1] == "DUPLICATE"
            self.assertEqual(a.loaded.get(k["run"]), len(k["pending"]),
                             f"{k['dept']} run {k['run']} loaded another number of reports "
                             f"than its state file held at the kill")
            for oid, (agent, ms) in received.items():
                sent_ms = first_sent.get(oid)
                if (agent == f"agent:{k['dept']}" and sent_ms is not None and
                        sent_ms < start_ms and start_ms <= ms < until_ms):
                    times.append(ms - start_ms)
            per_item += times
            if times:
                per_restart.append(max(times))
                registering.append(a.registered[k["run"]] * 1000 - start_ms)
        at_order = sum(1 for k in kills if k["at_order"])
        figures = (f"redelivery after a restart p50 {pct(per_restart, 50):.0f} ms, p99 "
                   f"{pct(per_restart, 99):.0f} ms, max {max(per_restart):.0f} ms "
                   f"({len(per_restart)} restarts; per report or order p50 "
                   f"{pct(per_item, 50):.0f} ms, p99 {pct(per_item, 99):.0f} ms; of which "
                   f"starting and registering p50 {pct(registering, 50):.0f} ms, p99 "
                   f"{pct(registering, 99):.0f} ms)"
                   if per_restart else "nothing was pending at any restart")
        print(f"\nagents killed: {len(kills)} SIGKILLs in {took:.1f} s ({at_order} at an "
              f"ORDER line, {len(kills) - at_order} at a random moment); {acked} of {sent} "
              f"incidents acknowledged, {closed} closed; {n_orders} orders ({handed_on} handed "
              f"on, {cancelled} cancelled), "
              f"{len(unanswered)} unanswered; {handovers} handovers, {len(twice)} twice, "
              f"{not_handed} receipted but never handed over (killed between commit and "
              f"handover); "
              f"{resent} reports sent again after a restart ({duplicate} of them already "
              f"recorded: DUPLICATE), {len(lost)} lost; {figures}; chain of {chain} events "
              f"intact", flush=True)
        self.assertEqual(twice, {}, "an order was handed over (or acted on) twice")
        self.assertEqual(lost, [], "reports an agent had committed never reached the daemon")
        self.assertEqual(unanswered, [], "orders neither receipted nor handed on")
        self.assertEqual(waiting, {}, "reports still waiting in a state file at the end")
        self.assertGreater(handovers, cycles, "too little load to mean anything")
        self.assertGreater(resent, 0, "no report was waiting at any kill: nothing tested")


class BadStateFiles(DaemonTest):
    """A state file the agent cannot use stops it before it does anything: `FILE: what is
    wrong` on stderr and exit status 1; the file is left as it was."""

    start_daemon = False

    def agent(self, state, dept="fire", **kw):
        return subprocess.Popen([AGENT, "-c", self.d.dir, "-k", f"keys/agent-{dept}.key",
                                 "--state", state, "--simulate"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)

    def assert_refused(self, state, what, dept="fire"):
        before = open(state, "rb").read() if os.path.isfile(state) else None
        p = self.agent(state, dept)
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail(f"the agent ran on {state}")
        self.assertEqual(p.returncode, 1, err)
        self.assertRegex(err, re.escape(state) + ": " + what)
        self.assertEqual(len(err.strip().splitlines()), 1, err)  # one clear line
        self.assertEqual(out, "")  # nothing done: not even registered
        if before is not None:
            self.assertEqual(open(state, "rb").read(), before, "the file was changed")
        return err

    def make_state(self, path, dept="fire"):
        """A good state file of DEPT's agent: the agent makes it, then is stopped."""
        p = self.agent(path, dept)
        try:
            wait_output(p.stderr, "connecting to")
        finally:
            p.terminate()
            p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0)

    def test_cannot_be_opened(self):
        self.assert_refused(os.path.join(self.tmp, "no-such-dir", "fire.state"),
                            "cannot open: No such file or directory")
        self.assert_refused(self.tmp, "cannot open")  # a directory
        plain = os.path.join(self.tmp, "plain")
        open(plain, "w").close()
        self.assert_refused(os.path.join(plain, "fire.state"), "cannot open")

    def test_garbage_and_other_databases(self):
        garbage = os.path.join(self.tmp, "garbage.state")
        with open(garbage, "wb") as f:
            f.write(random.Random(1).randbytes(8192))
        self.assert_refused(garbage, r"not a muster-agent state file \(not an SQLite database\)")
        other = os.path.join(self.tmp, "other.db")
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
        self.assert_refused(other, r"not a muster-agent state file \(an SQLite database of "
                            r"something else\)")

    def test_another_agents_state(self):
        path = os.path.join(self.tmp, "fire.state")
        self.make_state(path, "fire")
        self.assert_refused(path, r"belongs to another agent", dept="police")
        # and its own agent still takes it
        self.make_state(path, "fire")

    def test_damaged_or_newer(self):
        path = os.path.join(self.tmp, "fire.state")
        self.make_state(path)
        con = sqlite3.connect(path)
        con.execute("INSERT INTO orders VALUES (7, x'00ff00ff', 3, 0, 0, 0, 0)")
        con.commit()
        con.close()
        self.assert_refused(path, r"damaged \(order 7: ")
        con = sqlite3.connect(path)
        con.execute("DELETE FROM orders")
        con.execute("PRAGMA user_version = 99")
        con.commit()
        con.close()
        self.assert_refused(path, r"state file version 99 is newer")
        # Pages overwritten: many reports, then garbage over the middle of the file.
        con = sqlite3.connect(path)
        con.execute("PRAGMA user_version = 1")
        con.executemany("INSERT INTO reports VALUES (?, 0, 1, 4, 3, 0, ?, 0, NULL, 0)",
                        [(i, "x" * 200) for i in range(1, 400)])
        con.commit()
        con.close()
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.seek(size // 2 // 4096 * 4096)
            f.write(random.Random(2).randbytes(8192))
        self.assert_refused(path, r"damaged")

    def test_in_use_by_another_agent(self):
        path = os.path.join(self.tmp, "fire.state")
        first = self.agent(path)
        try:
            wait_output(first.stderr, "connecting to")
            self.assert_refused(path, r"in use by another process")
        finally:
            first.terminate()
            first.communicate(timeout=TIMEOUT)
        self.assertEqual(first.returncode, 0)


class StateWriteFails(DaemonTest):
    """fsync or write errors on the state file (libfiu's preload in the agent, toggled with
    fiu-ctrl) stop the agent at its next commit, before the order is handed over or its receipt
    sent: `FILE: cannot commit (...)`, exit status 1. Started again without the fault, it
    receipts the orders and hands each over at most once."""

    def fire_orders(self, op, incident):
        r = op.call(get_incident=pb.GetIncident(id=incident))
        self.assertEqual(r.WhichOneof("body"), "incident_reply", str(r))
        return {m.order_id: m.received_at_ms for m in r.incident_reply.incident.members
                if m.agent == "agent:fire"}

    def fault(self, points, err):
        """Runs the fire agent until a fault on POINTS (errno ERR) stops it, then again
        without; returns ({order id: ORDER lines}, the first run's stderr)."""
        fifo = os.path.join(self.tmp, "fiu")
        env = fiu_env(AGENT, fifo)
        if env is None:
            self.skipTest("libfiu is not installed (Debian: apt-get install fiu-utils)")
        state = os.path.join(self.tmp, "fire.state")
        args = [AGENT, "-c", self.d.dir, "-k", "keys/agent-fire.key", "--state", state,
                "--simulate", "--speed", "50"]
        op = self.operator()
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
        try:
            before = wait_output(p.stdout, "registered ")
            ctl = [shutil.which("fiu-ctrl"), "-f", fifo]
            for point in points:
                ctl += ["-c", f"enable name={point},failinfo={err}"]
            c = subprocess.run(ctl + [str(p.pid)], capture_output=True, text=True,
                               timeout=TIMEOUT)
            self.assertEqual((c.returncode, c.stderr.strip()), (0, ""))
            r = op.call(submit_incident=pb.SubmitIncident(
                type="fire.ebike", location=pb.Location(place=self.a_place())))
            incident = r.incident_reply.incident.id
            out, err_text = p.communicate(timeout=TIMEOUT)
            out = before + out
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.assertEqual(p.returncode, 1, err_text)
        self.assertRegex(err_text, re.escape(state) + r": cannot commit \(.+\): stopping rather "
                         r"than risk acting on an order twice")
        self.assertNotIn("ORDER #", out, "handed over without a commit")
        orders = self.fire_orders(op, incident)
        self.assertTrue(orders)
        self.assertEqual([o for o, ms in orders.items() if ms], [], "receipt sent without a "
                         "commit")
        # Again, without the fault: every order receipted.
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        try:
            deadline = time.monotonic() + TIMEOUT
            while not all(self.fire_orders(op, incident).values()):
                self.assertLess(time.monotonic(), deadline, "orders never receipted")
                time.sleep(0.1)
        finally:
            p.terminate()
            out2 = p.communicate(timeout=TIMEOUT)[0]
        self.assertEqual(p.returncode, 0)
        handed = collections.Counter(int(m.group(1)) for m in
                                     re.finditer(r"^ORDER #(\d+) ", out + out2, re.M))
        return {o: handed[o] for o in orders}, err_text

    def test_fsync_fails(self):
        handed, err = self.fault(["posix/io/sync/fdatasync", "posix/io/sync/fsync"], 5)
        self.assertIn("disk I/O error", err)
        # The failed commit was sealed, so the restarted agent did not find it: each order is
        # handed over once, after the restart.
        self.assertEqual(set(handed.values()), {1}, handed)

    def test_write_fails(self):
        handed, err = self.fault(["posix/io/rw/pwrite"], 28)  # ENOSPC
        self.assertLessEqual(max(handed.values()), 1, handed)


if __name__ == "__main__":
    main()
