"""The foundation end to end: an agent registers, an operator's incident is acknowledged only
once durable, it is on the live feed, and it survives SIGKILL with an intact hash chain."""
import json
import re
import os
import select
import subprocess
import time

from harness import AGENT, MUSTER, TIMEOUT, DaemonTest, main, pb, verify_chain


def wait_line(proc, stream, pattern, timeout=TIMEOUT):
    """Reads lines from STREAM of PROC until one contains PATTERN; returns the lines read."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rl, _, _ = select.select([stream], [], [], deadline - time.monotonic())
        if not rl:
            break
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if pattern in line:
            return lines
    raise AssertionError(f"never saw {pattern!r}; got {lines!r}")


class Basic(DaemonTest):
    def test_agent_registers_its_units(self):
        agent = subprocess.Popen([AGENT, "-c", self.d.dir, "-k", "keys/agent-fire.key"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lines = wait_line(agent, agent.stdout, "registered")
            n = int(lines[-1].split()[1])
            self.assertGreater(n, 0, "the fire agent registered no units")
            self.d.wait_log(r"agents: agent:fire registered \d+ units")
        finally:
            agent.terminate()
            self.assertEqual(agent.wait(timeout=TIMEOUT), 0)
        self.d.stop()
        con = __import__("sqlite3").connect(self.d.db())
        kinds = [r[0] for r in con.execute("SELECT kind FROM timeline WHERE actor='agent:fire'")]
        con.close()
        self.assertIn("agent.registered", kinds)
        self.assertIn("unit.status", kinds)  # units came on duty (available) with the heartbeat

    def test_agent_reregisters_after_daemon_restart(self):
        agent = subprocess.Popen([AGENT, "-c", self.d.dir, "-k", "keys/agent-police.key"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_line(agent, agent.stdout, "registered")
            self.d.kill9()
            self.d.start()
            wait_line(agent, agent.stdout, "registered")
        finally:
            agent.terminate()
            agent.wait(timeout=TIMEOUT)

    def test_incident_on_watch_and_show(self):
        place = self.a_place()
        watch = subprocess.Popen([MUSTER, "-c", self.d.dir, "-k", "keys/observer.key", "watch",
                                  "--json", "--count", "1"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_line(watch, watch.stderr, "watching")
            out = self.d.muster("incident", "new", "--type", "fire.ebike", "--place", place,
                                "--description", "e-bike battery fire in a stairwell",
                                "--casualties", "2", "--json").stdout
            inc = json.loads(out)
            self.assertGreater(inc["id"], 0)
            self.assertEqual(inc["location"]["place"], place)
            self.assertEqual(inc["state"], "open")
            self.assertEqual(inc["opened_by"], "operator:duty")
            ev = json.loads(watch.communicate(timeout=TIMEOUT)[0].strip())
            self.assertEqual(ev["kind"], "incident.opened")
            self.assertEqual(ev["incident_id"], inc["id"])
            self.assertEqual(ev["body"]["description"], "e-bike battery fire in a stairwell")
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.wait()
        shown = json.loads(self.d.muster("incident", "show", str(inc["id"]), "--json").stdout)
        shown.pop("members", None)  # show adds the joint action group
        self.assertEqual(shown, inc)
        listed = self.d.muster("incident", "list").stdout
        self.assertIn(f"#{inc['id']}", listed)
        human = self.d.muster("incident", "show", str(inc["id"])).stdout
        self.assertIn("fire.ebike", human)
        self.assertIn("casualties:  2", human)

    def test_update_and_close(self):
        inc = json.loads(self.d.muster("incident", "new", "--type", "traffic.collision",
                                       "--place", self.a_place(), "--json").stdout)
        i = str(inc["id"])
        up = json.loads(self.d.muster("incident", "update", i, "--casualties", "3",
                                      "--json").stdout)
        self.assertEqual(up["casualties"], 3)
        p = self.d.muster("incident", "close", i, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--reason", p.stderr)
        closed = json.loads(self.d.muster("incident", "close", i, "--reason", "cleared",
                                          "--json").stdout)
        self.assertEqual(closed["state"], "closed")
        p = self.d.muster("incident", "close", i, "--reason", "again", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("INVALID_STATE", p.stderr)
        self.assertNotIn(f"#{i} ", self.d.muster("incident", "list").stdout)
        self.assertIn(f"#{i} ", self.d.muster("incident", "list", "--all").stdout)

    def test_acknowledged_incidents_survive_sigkill(self):
        """Each reply is followed at once by SIGKILL: what was acknowledged must be there."""
        with open(os.path.join(self.d.dir, "district.conf")) as f:
            places = re.findall(r'id = "(s\d\d-c0\d)"', f.read())[::7][:5]
        acked = []
        for i, place in enumerate(places):  # apart, so none is a duplicate of another
            inc = json.loads(self.d.muster("incident", "new", "--type", "fire.residential",
                                           "--place", place, "--description", f"call {i}",
                                           "--json").stdout)
            self.d.kill9()
            acked.append(inc)
            self.d.start()
        self.assertEqual(len(acked), 5)
        for inc in acked:
            shown = json.loads(self.d.muster("incident", "show", str(inc["id"]),
                                             "--json").stdout)
            self.assertTrue(shown.pop("members"), "the group was lost")
            self.assertEqual(shown, inc)
        self.d.wait_log(r"timeline of \d+ events, hash chain intact")
        self.d.stop()
        n = verify_chain(self.d.db())
        self.assertGreaterEqual(n, 5)

    def test_timeline_is_append_only(self):
        self.d.muster("incident", "new", "--type", "fire.ebike", "--place", self.a_place())
        self.d.stop()
        import sqlite3
        con = sqlite3.connect(self.d.db())
        with self.assertRaises(sqlite3.DatabaseError):
            con.execute("UPDATE timeline SET actor='someone' WHERE seq=1")
        with self.assertRaises(sqlite3.DatabaseError):
            con.execute("DELETE FROM timeline")
        con.close()

    def test_tampered_timeline_is_detected_at_start(self):
        self.d.muster("incident", "new", "--type", "fire.ebike", "--place", self.a_place())
        self.d.stop()
        import sqlite3
        con = sqlite3.connect(self.d.db())
        con.execute("DROP TRIGGER timeline_no_update")
        con.execute("UPDATE timeline SET body = replace(body, 'fire', 'fake') WHERE seq = 1")
        con.commit()
        con.close()
        self.assertFalse(self.d.start(expect_ok=False))
        self.assertIn("hash does not match", self.d.log_text())
        self.assertNotEqual(self.d.proc.wait(timeout=TIMEOUT), 0)
        self.d.proc = None

    def test_coordinates_resolve_to_places(self):
        text = open(os.path.join(self.d.dir, "district.conf")).read()
        import re
        m = re.search(r"south\s*=\s*([-\d.]+).*?west\s*=\s*([-\d.]+).*?north\s*=\s*([-\d.]+)"
                      r".*?east\s*=\s*([-\d.]+)", text, re.S)
        s, w, n, e = map(float, m.groups())
        lat, lon = (s + n) / 2, (w + e) / 2
        inc = json.loads(self.d.muster("incident", "new", "--type", "crowd.disorder", "--at",
                                       f"{lat},{lon}", "--json").stdout)
        self.assertTrue(inc["location"]["community"])
        self.assertTrue(inc["location"]["street"])
        self.assertAlmostEqual(inc["location"]["lat"], lat, places=6)

    def test_snapshot_while_running(self):
        """muster snapshot: a consistent copy of the running daemon's database that another
        process can read, with an intact chain; names are plain and never overwrite."""
        self.d.muster("incident", "new", "--type", "fire.ebike", "--place", self.a_place())
        out = self.d.muster("snapshot", "s1.db").stdout
        path = out.split(":")[0]
        self.assertTrue(path.endswith("/snapshots/s1.db"), out)
        import sqlite3
        con = sqlite3.connect(path)
        n_inc = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
        con.close()
        self.assertEqual(n_inc, 1)
        self.assertEqual(mode, "delete")
        n = verify_chain(path)
        self.assertIn(f"{n} timeline events", out)
        for bad, msg in (("s1.db", "exists"), ("../x.db", "plain file name"),
                         (".hidden", "plain file name")):
            p = self.d.muster("snapshot", bad, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(msg, p.stderr)
        # an observer (analyst) may take one; the daemon goes on serving
        p = self.d.muster("snapshot", "s2.db", key="keys/observer.key")
        self.assertIn("s2.db", p.stdout)
        self.d.muster("incident", "list")


if __name__ == "__main__":
    main()
