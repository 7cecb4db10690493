"""Rosters are importable from a CSV export: the whole sample roster's units go out to CSV
(columns shuffled, an extra column, quoting) and come back through `muster import`, and the
daemon runs on the result; bad CSV gets file:row errors and writes nothing."""
import csv
import os
import random
import re
import subprocess

from harness import AGENT, MUSTERD, DaemonTest, main, read_line, roster_units, run


def sample_units(roster_text):
    """The units of a roster.conf, with skills joined for a CSV cell."""
    units = roster_units(roster_text)
    for u in units:
        u["skills"] = ";".join(u["skills"])
    return units


class Import(DaemonTest):
    start_daemon = False

    def test_sample_roster_round_trips_through_csv(self):
        roster = os.path.join(self.d.dir, "roster.conf")
        with open(roster) as f:
            text = f.read()
        units = sample_units(text)
        self.assertGreater(len(units), 100)
        cols = ["Kind", "id", "extra column", "station", "department", "name", "people",
                "skills", "agent"]
        random.Random(3).shuffle(cols)
        path = os.path.join(self.tmp, "units.csv")
        with open(path, "w", newline="", encoding="utf-8-sig") as f:  # with a BOM, as Excel
            w = csv.writer(f)
            w.writerow(cols)
            for u in units:
                w.writerow([{"Kind": u["kind"], "extra column": "x, \"quoted\""}.get(c, u.get(c, ""))
                            for c in cols])
        out = os.path.join(self.d.dir, "units.conf")
        p = self.d.muster("import", "roster-csv", path, "-o", out)
        self.assertIn(f"imported {len(units)} units", p.stderr)
        self.assertIn("'extra column' is not one muster knows", p.stderr)
        with open(roster, "w") as f:
            f.write(re.sub(r"^units = \(.*?^\);", '@include "units.conf"', text,
                           flags=re.M | re.S))
        p = run([MUSTERD, "-n", "-c", self.d.conf])
        self.assertIn(f"{len(units)} units", p.stdout)
        self.d.start()
        agent = subprocess.Popen([AGENT, "-c", self.d.dir, "-k", "keys/agent-fire.key"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = read_line(agent.stdout)
        finally:
            agent.terminate()
            agent.wait(timeout=20)
        fire = sum(1 for u in units if u["department"] == "fire")
        self.assertEqual(line.strip(), f"registered {fire} units")

    def bad(self, content, *expect, args=()):
        path = os.path.join(self.tmp, "bad.csv")
        with open(path, "w") as f:
            f.write(content)
        out = os.path.join(self.tmp, "out.conf")
        p = self.d.muster("import", "roster-csv", path, "-o", out, *args, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        for e in expect:
            self.assertRegex(p.stderr, e)
        self.assertFalse(os.path.exists(out), "a failed import wrote its output")

    def test_bad_csv(self):
        self.bad("id;department;kind;station\na;police;patrol;s01-c01\n",
                 r"bad\.csv:1: the header has one column.*delimiter")
        self.bad("id,department,kind\na,police,patrol\n",
                 r"bad\.csv:1: required column 'station' is missing")
        self.bad("id,department,kind,station,people,lat,lon\n"
                 "a,police,patrol,s01-c01,5,30.3,120.1\n"
                 "b,police,patrol,s01-c01,many,30.3,120.1\n"
                 "c,police,patrol,s01-c01,1,95,120.1\n"
                 "d,police,patrol,,1,30.3,120.1\n",
                 r"bad\.csv:3: people 'many' is not a whole number",
                 r"bad\.csv:4: lat '95' is not a latitude", r"bad\.csv:5: 'station' is empty")
        self.bad("", r"bad\.csv:1: the file is empty")
        self.bad('id,department,kind,station\na,police,"patrol', r"truncated")
        self.bad("id,department,kind,station\na,police\n", r"bad\.csv:2: 2 fields, but the header has 4")
        self.bad("id;department;kind;station\n", r"required column", args=("--delimiter", ","))

    def test_semicolon_export(self):
        path = os.path.join(self.tmp, "p.csv")
        with open(path, "w") as f:
            f.write("id;name;department;role;rank\np-9;Li Wei;police;commander;deputy chief\n")
        p = self.d.muster("import", "roster-csv", path, "--table", "people", "--delimiter", ";")
        self.assertIn('role = "commander"', p.stdout)
        self.assertIn('rank = "deputy chief"', p.stdout)
        self.assertTrue(p.stdout.strip().endswith(");"))


if __name__ == "__main__":
    main()
