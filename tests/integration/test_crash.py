"""The crash loop (issue 6): under steady load (a stream of incidents from an operator, and
every department's real muster-agent --simulate answering the orders), musterd is killed with
SIGKILL at random moments and started again, many times. Then: every incident acknowledged to
the operator exists as it was reported; every order is receipted or was handed on (escalated)
or cancelled; no agent acted on an order twice; the timeline's hash chain is intact; and
PRAGMA integrity_check is ok. The counts are printed.

The normal suite runs a few cycles; MUSTER_CRASH_CYCLES=N runs N (docs/reliability.md gives
the long run's figures)."""
import collections
import os
import random
import re
import sqlite3
import subprocess
import time

from harness import AGENT, UNRECEIPTED, DaemonTest, main, pb, settle, verify_chain

DEPARTMENTS = ("police", "fire", "emergency", "housing", "transport", "traffic", "health",
               "citymgmt")
TYPES = ("fire.ebike", "traffic.collision", "flood", "accident.construction",
         "fire.residential", "crowd.disorder", "collapse.slope", "attack.violent")
SIM_LINE = re.compile(r"^sim: #(\d+) (\S+) (accepted|declined|en_route|on_scene|cleared)$")


class CrashLoop(DaemonTest):
    def start_agents(self):
        self.agents, self.agent_out = [], []
        for i, dept in enumerate(DEPARTMENTS):
            path = os.path.join(self.tmp, f"agent-{dept}.out")
            f = open(path, "wb")
            self.agent_out.append((dept, path, f))
            self.agents.append(subprocess.Popen(
                [AGENT, "-c", self.d.dir, "-k", f"keys/agent-{dept}.key", "--simulate",
                 "--speed", "20", "--seed", str(100 + i)],
                stdout=f, stderr=subprocess.STDOUT))

    def stop_agents(self):
        for a in self.agents:
            a.terminate()
        for a in self.agents:
            a.wait(timeout=20)
        for _, _, f in self.agent_out:
            f.close()

    def places(self):
        with open(os.path.join(self.d.dir, "district.conf")) as f:
            text = f.read()
        return re.findall(r'id = "(s\d\d-c\d\d)"', text)

    def test_crash_loop(self):
        cycles = int(os.environ.get("MUSTER_CRASH_CYCLES", "8"))
        rng = random.Random(int(os.environ.get("MUSTER_CRASH_SEED", "6")))
        places = self.places()
        self.start_agents()
        acked = {}  # incident id -> (type, place)
        sent = lost_replies = 0
        t0 = time.monotonic()
        try:
            time.sleep(1.0)  # the agents register
            op = self.operator()
            for cycle in range(cycles):
                # Load for a random while, then one more request, then the kill at a random
                # moment within a few milliseconds of it: mid-request, mid-commit or mid-send.
                until = time.monotonic() + rng.uniform(0.3, 1.5)
                while time.monotonic() < until:
                    kind, place = rng.choice(TYPES), rng.choice(places)
                    sent += 1
                    r = op.call(timeout=3.0, submit_incident=pb.SubmitIncident(
                        type=kind, location=pb.Location(place=place),
                        description=f"crash loop {cycle}"))
                    if r is not None and r.WhichOneof("body") == "incident_reply":
                        acked[r.incident_reply.incident.id] = (kind, place)
                    elif r is None:
                        lost_replies += 1
                    time.sleep(rng.uniform(0.0, 0.1))
                e = op.envelope(submit_incident=pb.SubmitIncident(
                    type=rng.choice(TYPES), location=pb.Location(place=rng.choice(places))))
                op.send(e)
                sent += 1
                time.sleep(rng.uniform(0.0, 0.004))
                self.d.kill9()
                self.d.start()
            # Settle: the agents answer what is left (at 20x, minutes of work in seconds).
            # The daemon holds its database exclusively: look through snapshots.
            settle(self.operator(), 30, "s")
        finally:
            self.stop_agents()
        self.d.stop()
        took = time.monotonic() - t0

        db = self.d.db()
        chain = verify_chain(db)
        con = sqlite3.connect(db)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        rows = {i: (t, p) for i, t, p in con.execute(
            "SELECT id, type, community FROM incidents")}
        missing = [i for i in acked if i not in rows]
        changed = [i for i, v in acked.items() if i in rows and rows[i] != v]
        status = collections.Counter(s for (s,) in con.execute("SELECT status FROM orders"))
        unanswered = con.execute("SELECT count(*) " + UNRECEIPTED).fetchone()[0]
        receipted = con.execute("SELECT count(*) FROM orders WHERE received_ms > 0")\
            .fetchone()[0]
        con.close()

        acted = collections.Counter()
        for dept, path, _ in self.agent_out:
            with open(path, errors="replace") as f:
                for line in f:
                    m = SIM_LINE.match(line.strip())
                    if m:
                        acted[(m.group(1), m.group(3))] += 1
        twice = {k: n for k, n in acted.items() if n > 1}
        print(f"\ncrash loop: {cycles} SIGKILLs in {took:.1f} s; {sent} incidents sent, "
              f"{len(acked)} acknowledged ({lost_replies} replies lost to a kill), "
              f"{len(rows)} in the database; {sum(status.values())} orders: {receipted} "
              f"receipted, {status.get(pb.ORDER_REASSIGNED, 0)} handed on, "
              f"{status.get(pb.ORDER_CANCELLED, 0)} cancelled, {unanswered} unanswered; "
              f"{sum(acted.values())} agent actions, {len(twice)} twice; chain of {chain} "
              f"events intact; integrity ok", flush=True)
        self.assertEqual(missing, [], "acknowledged incidents lost")
        self.assertEqual(changed, [], "acknowledged incidents changed")
        self.assertEqual(twice, {}, "an agent acted on an order twice")
        self.assertEqual(unanswered, 0, "orders neither receipted nor handed on")
        self.assertGreater(len(acked), cycles, "too little load to mean anything")
        self.assertGreater(receipted, 0)


if __name__ == "__main__":
    main()
