"""Replay: a live daemon records its inputs (requests that changed something, and the ticks
that did); `muster replay` plays them on a drill daemon's virtual clock and compares the
decisions: on the same configuration they are the same, order for order; with a plan changed
it lists what would have been decided differently."""
import os
import re
import shutil
import sqlite3

from harness import MUSTER, MUSTERD, main, pb, run
from test_muster import Base


class Replay(Base):
    def replay(self, config, *args):
        import subprocess
        env = dict(os.environ, MUSTERD=MUSTERD)
        return subprocess.run([MUSTER, "replay", self.d.db(), "--config", config, *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=120, env=env)

    def test_replay_reproduces_and_a_changed_plan_differs(self):
        # A run: a collision followed to the scene; a fire where one unit declines (the
        # daemon refills its place) and the others receipt.
        _, done = self.run_incident("s03-c01", "traffic.collision", 3, tier=3,
                                    tier_reason="test")
        inc = self.submit("s05-c02", "fire.ebike", tier=3, tier_reason="test")
        full, got = self.orders_of(inc)
        declined = None
        for oid, (dept, order) in sorted(got.items()):
            m = next(x for x in full.members if x.order_id == oid)
            if declined is None and m.what == "unit":
                declined = oid
                self.fleet.report(dept, oid)
                self.fleet.report(dept, oid, pb.ORDER_DECLINED)
            else:
                self.fleet.report(dept, oid)
        refill = self.get(inc.id)
        self.assertGreater(len(refill.members), len(full.members), "no refill")
        self.d.stop()
        con = sqlite3.connect(self.d.db())
        sockets = dict(con.execute("SELECT socket, count(*) FROM inputs GROUP BY socket"))
        orders = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        con.close()
        self.assertGreater(sockets.get(0, 0), 0, "no control request recorded")
        self.assertGreater(sockets.get(1, 0), 0, "no agent message recorded")

        same = self.replay(self.d.dir)
        self.assertEqual(same.returncode, 0, same.stdout + same.stderr)
        self.assertIn(f"the same decisions: 2 incidents, {orders} orders", same.stdout)

        # The fire's plan asks for one more micro fire station: the replay adds that place
        # and changes nothing that was decided before it.
        other = os.path.join(self.tmp, "changed")
        shutil.copytree(self.d.dir, other)
        plans = os.path.join(other, "plans.conf")
        with open(plans) as f:
            text = f.read()
        start = text.index('type = "fire.ebike"')
        tier3 = text.index("tier = 3", start)
        pos = text.index("micro_fire_station", tier3)
        m = re.compile(r"count = (\d+)").search(text, pos)
        text = text[:m.start()] + f"count = {int(m.group(1)) + 1}" + text[m.end():]
        with open(plans, "w") as f:
            f.write(text)
        diff = self.replay(other)
        self.assertEqual(diff.returncode, 4, diff.stdout + diff.stderr)
        self.assertRegex(diff.stdout, rf"incident #{inc.id}: the replay adds "
                                      r"\S*\|unit:micro_fire_station\|")
        self.assertNotIn(f"incident #{done.id}", diff.stdout)

    def test_replay_refuses_a_database_without_inputs(self):
        empty = os.path.join(self.tmp, "empty.db")
        sqlite3.connect(empty).close()
        p = run([MUSTER, "replay", empty, "--config", self.d.dir], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no recorded inputs", p.stderr)


if __name__ == "__main__":
    main()
