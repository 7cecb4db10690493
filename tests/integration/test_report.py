"""`muster import cad-csv` and `muster report` on real dispatch data: the San Francisco sample
(tests/data/sf, copied with its provenance note) is imported and reported, and every figure
equals an independent computation from the CSV itself (sf_reference.py: csv and datetime only,
never the database). The rules for missing and out-of-order times are tested on calls made for
them; bad input gets a clear error and writes nothing; a layout file maps another export."""
import csv
import json
import os
import shutil
import sqlite3

import re

from browser import Svg, dump_dom, ink, screenshot
from harness import MUSTER, DaemonTest, main, run
from sf_reference import SEGMENTS, reference

HERE = os.path.dirname(os.path.abspath(__file__))
SF_CSV = os.path.join(HERE, "..", "data", "sf", "sf-fire-calls-sample.csv")


def sf_header():
    with open(SF_CSV, newline="") as f:
        return next(csv.reader(f))


def sf_template():
    """The first data row of the sample, as a dict: the other columns of crafted rows."""
    with open(SF_CSV, newline="") as f:
        return next(csv.DictReader(f))


def sf_time(hhmmss, day="03/01/2019"):
    """A time as the SF export writes it, from 24-hour 'hh:mm:ss' (empty stays empty)."""
    if not hhmmss:
        return ""
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return f"{day} {(h % 12) or 12:02d}:{m:02d}:{s:02d} {'PM' if h >= 12 else 'AM'}"


class Report(DaemonTest):
    start_daemon = False

    def muster(self, *args, check=True):
        return run([MUSTER] + list(args), check=check, timeout=60)

    def import_csv(self, path, *args, out=None):
        out = out or os.path.join(self.tmp, "a.db")
        self.muster("import", "cad-csv", path, "-o", out, *args)
        return out

    def report_json(self, db, *args):
        return json.loads(self.muster("report", db, "--json", *args).stdout)

    def assert_equal_reference(self, got, ref):
        """Every segment's counts and percentiles, and the 5-minute share, are equal."""
        for s in SEGMENTS:
            for k in ("n", "no_value", "negative", "p50_s", "p90_s", "p95_s"):
                self.assertEqual(got["segments"][s][k], ref[s][k], f"{s} {k}")
        w = got["first_on_scene_within_circle"]
        self.assertEqual(w["calls"], ref["within"]["calls"])
        self.assertEqual(w["within"], ref["within"]["within"])
        self.assertEqual(w["no_arrival"], ref["within"]["no_arrival"])
        self.assertEqual(w["share"], ref["within"]["share"])
        self.assertEqual(got["calls"], ref["calls"])

    def write_sf(self, rows, name="crafted.csv", header=None):
        """Writes rows (dicts over the SF columns, the rest from the template) in SF layout."""
        header = header or sf_header()
        tpl = sf_template()
        path = os.path.join(self.tmp, name)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            for r in rows:
                w.writerow([r.get(c, tpl[c]) for c in header])
        return path

    def test_sf_sample_equals_independent_computation(self):
        db = self.import_csv(SF_CSV)
        got = self.report_json(db)
        ref = reference(SF_CSV)
        self.assertEqual(got["total"]["calls"], 901)
        self.assertEqual(got["total"]["responses"], 4340)
        self.assert_equal_reference(got["total"], ref)
        # The figures docs/metrics.md quotes, so that a change to them is seen.
        seg = got["total"]["segments"]
        self.assertEqual((seg["response"]["p50_s"], seg["response"]["p90_s"]), (258, 379))
        self.assertEqual(got["total"]["first_on_scene_within_circle"]["within"], 615)
        # The same figures in the terminal table and in CSV.
        table = self.muster("report", db).stdout
        self.assertIn("615 of 866 calls (71.0 %); no arrival: 35", table)
        self.assertRegex(table, r"response\s+call\s+866\s+35\s+0\s+4:18\s+6:19\s+7:29")
        rows = list(csv.DictReader(self.muster("report", db, "--csv").stdout.splitlines()))
        byname = {r["metric"]: r for r in rows}
        for s in SEGMENTS:
            if ref[s]["n"]:
                self.assertEqual(float(byname[s]["p90_s"]), ref[s]["p90_s"])
        self.assertEqual(float(byname["within_300s"]["share"]), ref["within"]["share"])

    def test_sf_misses_and_status_grid_equal_independent_computation(self):
        db = self.import_csv(SF_CSV)
        ref = reference(SF_CSV)
        for args, th in (((), (90, 75, 50)),
                         (("--status-thresholds", "80,60,40"), (80, 60, 40))):
            got = self.report_json(db, *args)
            self.assertEqual(got["misses"]["total"], ref["misses"])
            self.assertEqual(got["misses"]["by_reason"], {"none given": ref["misses"]})
            self.assertEqual(len(got["misses"]["list"]), ref["misses"])
            self.assertEqual(got["status"]["zone_by"], "place")  # every call has a Box
            self.assertEqual(got["status"]["thresholds"], list(th))
            zones = {z["zone"]: z for z in got["status"]["zones"]}
            self.assertEqual(set(zones), set(ref["zones"]))
            for name, r in ref["zones"].items():
                z = zones[name]
                self.assertEqual((z["within"], z["judged"]), (r["within"], r["judged"]), name)
                share = 100 * r["within"] / r["judged"] if r["judged"] else None
                want = ("grey" if share is None else "green" if share >= th[0]
                        else "yellow" if share >= th[1] else "orange" if share >= th[2]
                        else "red")
                self.assertEqual(z["status"], want, name)
            self.assertGreater(len({z["status"] for z in zones.values()}), 2)
        # An export has no whistles or diversions, and one department here.
        self.assertIsNone(got["whistles"])
        self.assertIsNone(got["diversions"])
        self.assertEqual([d["department"] for d in got["departments"]], ["SFFD"])
        bad = self.muster("report", db, "--status-thresholds", "50,75,90", check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--status-thresholds '50,75,90'", bad.stderr)

    def test_sf_html_report_renders_in_chromium(self):
        db = self.import_csv(SF_CSV)
        got = self.report_json(db)
        page = os.path.join(self.tmp, "sf.html")
        with open(page, "w") as f:
            f.write(self.muster("report", db, "--html").stdout)
        dom = Svg(dump_dom(page, self.tmp))
        # The distribution: one bar per bin, whose counts add up to every call with a
        # response value, and the circle drawn on it.
        els = dom.svgs["chart-response"]
        counts = [int(re.search(r": (\d+) calls", els[i + 1][2]).group(1))
                  for i, e in enumerate(els) if e[0] == "rect" and "bar" in e[1]["class"]]
        self.assertGreater(len(counts), 5)
        self.assertEqual(sum(counts), got["total"]["segments"]["response"]["n"])
        self.assertEqual(len(dom.elements("chart-response", "line", "circle")), 1)
        # The status grid: a tile per zone, in the colour the JSON gives it.
        tiles = dom.elements("status-grid", "g", "zone")
        self.assertEqual(len(tiles), len(got["status"]["zones"]))
        colours = sorted(t[1]["class"].split()[1] for t in tiles)
        self.assertEqual(colours, sorted(z["status"] for z in got["status"]["zones"]))
        # The tables: every miss listed, the ranking, no ring chart (no deadlines).
        self.assertEqual(len(dom.tables["misses"]) - 1, got["misses"]["total"])
        self.assertEqual(dom.tables["ranking"][1][1], "SFFD")
        self.assertNotIn("chart-rings", dom.svgs)
        self.assertIn("an imported dispatch export has no whistles", dump_dom(page, self.tmp))
        png = screenshot(page, os.path.join(self.tmp, "sf.png"), self.tmp)
        share, colours = ink(png)
        self.assertGreater(share, 0.05, "the screenshot is (nearly) blank")
        self.assertGreater(colours, 20)

    def test_ring_judges_the_class_first_arrival(self):
        """A class's first arrival counts even when that unit's response has no ring deadline
        (a unit added by hand beside the plan's): here it is within the ring, so the class
        met it, and nothing is a miss. (The 1,000,000-call benchmark found this.)"""
        db = os.path.join(self.tmp, "ring.db")
        con = sqlite3.connect(db)
        con.executescript(
            "CREATE TABLE analysis_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO analysis_meta VALUES ('version', '1');"
            "CREATE TABLE calls (id TEXT PRIMARY KEY, type TEXT, tier INTEGER, priority TEXT,"
            " received_ms INTEGER, entered_ms INTEGER, street TEXT, community TEXT, grid TEXT,"
            " lat REAL, lon REAL, exercise INTEGER NOT NULL DEFAULT 0, source TEXT);"
            "CREATE TABLE responses (call_id TEXT, unit TEXT, kind TEXT, department TEXT,"
            " ordered_ms INTEGER, received_ms INTEGER, en_route_ms INTEGER,"
            " on_scene_ms INTEGER, cleared_ms INTEGER, ring_s INTEGER, delay_reason INTEGER);")
        t0 = 1700000000000
        con.execute("INSERT INTO calls (id, type, tier, received_ms, entered_ms) "
                    "VALUES ('c1', 'attack.violent', 2, ?, ?)", (t0, t0))
        # the plan's patrol (ring 180 s) arrives at +200 s; a patrol added by hand, with no
        # ring, at +100 s; a guard (ring 60 s) never arrives
        for unit, kind, ring, scene in (("P-2", "patrol", 180, t0 + 200000),
                                        ("P-9", "patrol", None, t0 + 100000),
                                        ("G-1", "volunteer_guard", 60, None)):
            con.execute("INSERT INTO responses (call_id, unit, kind, department, ordered_ms,"
                        " on_scene_ms, ring_s) VALUES ('c1', ?, ?, 'police', ?, ?, ?)",
                        (unit, kind, t0 + 5000, scene, ring))
        con.commit()
        con.close()
        got = self.report_json(db)
        rings = {r["kind"]: r for r in got["total"]["rings"]}
        self.assertEqual((rings["patrol"]["met"], rings["patrol"]["calls"]), (1, 1))
        self.assertEqual(rings["volunteer_guard"]["no_arrival"], 1)
        self.assertEqual([(m["kind"], m["arrival_s"]) for m in got["misses"]["list"]],
                         [("volunteer_guard", None)])

    def test_sf_slices_partition_the_calls(self):
        db = self.import_csv(SF_CSV)
        for by in ("type", "priority", "community", "hour", "day", "street"):
            got = self.report_json(db, "--by", by)
            self.assertEqual(got["by"], by)
            self.assertEqual(sum(g["calls"] for g in got["groups"]), 901, by)
            self.assertEqual(sum(g["first_on_scene_within_circle"]["within"]
                                 for g in got["groups"]), 615, by)
        got = self.report_json(db, "--by", "kind")
        kinds = {g["key"]: g for g in got["groups"]}
        self.assertIn("ENGINE", kinds)
        self.assertEqual(sum(g["responses"] for g in got["groups"]), 4340)
        # Per class, the response segment ends at that class's first arrival.
        rows = list(csv.DictReader(open(SF_CSV, newline="")))
        engine_calls = {r["Call Number"] for r in rows if r["Unit Type"] == "ENGINE"}
        self.assertEqual(kinds["ENGINE"]["calls"], len(engine_calls))
        # A window on received time: 2015 and later only.
        got = self.report_json(db, "--window", "2015-01-01..")
        later = {r["Call Number"] for r in rows if r["Received DtTm"][6:10] >= "2015"}
        self.assertEqual(got["total"]["calls"], len(later))
        got = self.report_json(db, "--window", "2015-01-01..2016-01-01", "--by", "day")
        self.assertTrue(all(g["key"].startswith("2015-") for g in got["groups"]))

    def test_missing_and_out_of_order_times(self):
        t = sf_time
        rows = [
            # A: U1 cancelled before arrival (no on scene), U3 arrives with no en-route time:
            # the first arrival is U3's, the earliest that exists (270 s, within 5 minutes).
            {"Call Number": "A", "Unit ID": "U1", "Received DtTm": t("10:00:00"),
             "Entry DtTm": t("10:00:30"), "Dispatch DtTm": t("10:01:00"),
             "Response DtTm": t("10:01:30"), "On Scene DtTm": ""},
            {"Call Number": "A", "Unit ID": "U2", "Received DtTm": t("10:00:00"),
             "Entry DtTm": t("10:00:30"), "Dispatch DtTm": t("10:01:10"),
             "Response DtTm": t("10:02:00"), "On Scene DtTm": t("10:06:00")},
            {"Call Number": "C", "Unit ID": "U7", "Received DtTm": t("11:00:10"),
             "Entry DtTm": t("11:00:40"), "Dispatch DtTm": t("11:01:00"),
             "Response DtTm": t("11:01:30"), "On Scene DtTm": t("11:06:00")},
            {"Call Number": "A", "Unit ID": "U3", "Received DtTm": t("10:00:00"),
             "Entry DtTm": t("10:00:30"), "Dispatch DtTm": t("10:00:50"),
             "Response DtTm": "", "On Scene DtTm": t("10:04:30")},
            # B: no unit ever arrived: counted in "no arrival", not dropped.
            {"Call Number": "B", "Unit ID": "U4", "Received DtTm": t("13:00:00"),
             "Entry DtTm": t("13:00:20"), "Dispatch DtTm": t("13:01:00"),
             "Response DtTm": "", "On Scene DtTm": ""},
            {"Call Number": "B", "Unit ID": "U5", "Received DtTm": t("13:00:00"),
             "Entry DtTm": t("13:00:20"), "Dispatch DtTm": t("13:01:05"),
             "Response DtTm": t("13:01:40"), "On Scene DtTm": ""},
            # C again, later in the file, with an earlier received time: the earliest wins
            # (11:00:00, so the response is 360 s: outside the circle).
            {"Call Number": "C", "Unit ID": "U8", "Received DtTm": t("11:00:00"),
             "Entry DtTm": t("11:00:40"), "Dispatch DtTm": t("11:01:20"),
             "Response DtTm": t("11:02:00"), "On Scene DtTm": t("11:07:00")},
            # D: on scene before en route (the crew pressed the buttons out of order): travel
            # is negative, counted as such and left out of the percentiles.
            {"Call Number": "D", "Unit ID": "U9", "Received DtTm": t("12:00:00"),
             "Entry DtTm": t("12:00:10"), "Dispatch DtTm": t("12:00:40"),
             "Response DtTm": t("12:05:00"), "On Scene DtTm": t("12:04:00")},
        ]
        path = self.write_sf(rows)
        got = self.report_json(self.import_csv(path))["total"]
        self.assert_equal_reference(got, reference(path))
        seg = got["segments"]
        self.assertEqual(got["calls"], 4)
        self.assertEqual(seg["response"]["n"], 3)  # A 270, C 360, D 240
        self.assertEqual(seg["response"]["no_value"], 1)  # B
        self.assertEqual(seg["response"]["p50_s"], 270)
        self.assertEqual(seg["response"]["p95_s"], 360)
        self.assertEqual(got["first_on_scene_within_circle"]["within"], 2)
        self.assertEqual(got["first_on_scene_within_circle"]["no_arrival"], 1)
        self.assertEqual(seg["intake"]["p50_s"], 20)  # D 10, B 20, A 30, C 40 (from 11:00:00)
        self.assertEqual(seg["processing"]["p90_s"], 60)  # first dispatch: D 40, A 50, B 60, C 60
        self.assertEqual(seg["travel"], {"per": "response", "n": 3, "no_value": 4, "negative": 1,
                                         "p50_s": 270.0, "p90_s": 300.0, "p95_s": 300.0})
        self.assertEqual(seg["turnout"]["no_value"], 2)  # A/U3 and B/U4
        self.assertEqual(seg["receipt"]["n"], 0)
        self.assertEqual(seg["receipt"]["no_value"], 8)
        self.assertIsNone(seg["receipt"]["p50_s"])

    def bad(self, content, *expect, args=(), name="bad.csv"):
        path = os.path.join(self.tmp, name)
        with open(path, "w", newline="") as f:
            f.write(content)
        out = os.path.join(self.tmp, "out.db")
        with open(out, "w") as f:
            f.write("an earlier import")
        p = self.muster("import", "cad-csv", path, "-o", out, *args, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        for e in expect:
            self.assertRegex(p.stderr, e)
        with open(out) as f:
            self.assertEqual(f.read(), "an earlier import", "a failed import wrote its output")
        self.assertFalse(os.path.exists(out + ".tmp"), "a failed import left its temporary")
        return p.stderr

    def test_bad_csv(self):
        header = sf_header()
        with open(SF_CSV, newline="") as f:
            lines = f.read().splitlines(keepends=True)
        good = "".join(lines[:4])
        err = self.bad(good.replace(",", ";"),
                       r"bad\.csv:1: the header has one column.*delimiter")
        self.assertEqual(len(err.splitlines()), 1, err)  # and nothing more about that file
        # A missing required column is named as the export names it.
        cut = [c for c in header if c != "On Scene DtTm"]
        rows = list(csv.DictReader(lines[:4]))
        body = "".join(",".join(f'"{r[c]}"' for c in cut) + "\n" for r in rows)
        self.bad(",".join(cut) + "\n" + body,
                 r"bad\.csv:1: required column 'On Scene DtTm' \(on_scene\) is missing")
        # Garbage timestamps are named with their row, all of them.
        t = sf_time
        path = self.write_sf([
            {"Call Number": "A", "Received DtTm": t("10:00:00")},
            {"Call Number": "B", "Received DtTm": "yesterday"},
            {"Call Number": "C", "Dispatch DtTm": "13/45/2019 10:00:00 AM"},
            {"Call Number": "D", "On Scene DtTm": "03/01/2019 13:00:00 PM"},
        ], name="garbage.csv")
        with open(path) as f:
            text = f.read()
        err = self.bad(text,
                       r"bad\.csv:3: column 'Received DtTm': 'yesterday' is not a time like "
                       r"MM/DD/YYYY hh:mm:ss AM",
                       r"bad\.csv:4: column 'Dispatch DtTm': '13/45/2019 10:00:00 AM' is not",
                       r"bad\.csv:5: column 'On Scene DtTm': '03/01/2019 13:00:00 PM' is not")
        self.assertNotIn("bad.csv:2:", err)
        self.bad("", r"bad\.csv:1: the file is empty")
        # Truncated inside a quoted field (the Location), and between fields.
        self.bad(good[:-20], r"truncated")
        self.bad(good + lines[4][:60] + "\n", r"bad\.csv:5: \d+ fields, but the header has 34")
        # A location that is not one.
        self.bad(good.replace("(37.775086085408, -122.444592861504)", "(north, west)"),
                 r"bad\.csv:2: column 'Location': '\(north, west\)' is not a location")
        # An empty call number.
        self.bad(good.replace("090100225,E21", ",E21", 1), r"bad\.csv:2: column 'Call Number' is empty")

    def test_good_import_replaces_and_nothing_else_remains(self):
        out = os.path.join(self.tmp, "a.db")
        self.import_csv(SF_CSV, out=out)
        self.import_csv(SF_CSV, out=out)  # over an earlier one: replaced whole
        self.assertEqual([n for n in os.listdir(self.tmp) if n.startswith("a.db")], ["a.db"])
        con = sqlite3.connect(out)
        self.assertEqual(con.execute("SELECT count(*) FROM calls").fetchone()[0], 901)
        self.assertEqual(con.execute("SELECT value FROM analysis_meta WHERE key = 'version'")
                         .fetchone()[0], "1")
        # A unit row: times in ms of the local wall time read as UTC; the call's place.
        r = con.execute("SELECT c.received_ms, c.community, c.lat, r.kind, r.ordered_ms"
                        " FROM calls c JOIN responses r ON r.call_id = c.id"
                        " WHERE c.id = '090100225'").fetchone()
        self.assertEqual(r[0], 1231598161000)  # 01/10/2009 02:36:01 PM
        self.assertEqual(r[1], "Lone Mountain/USF")
        self.assertAlmostEqual(r[2], 37.775086085408)
        self.assertEqual(r[3], "ENGINE")
        self.assertEqual(r[4], 1231598242000)
        con.close()

    def test_report_refuses_what_it_cannot_read(self):
        db = self.import_csv(SF_CSV)
        con = sqlite3.connect(db)
        con.execute("UPDATE analysis_meta SET value = '2' WHERE key = 'version'")
        con.commit()
        con.close()
        p = self.muster("report", db, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("analysis schema version 2 is newer than this muster reads (1)", p.stderr)
        other = os.path.join(self.tmp, "other.db")
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE x (y)")
        con.close()
        p = self.muster("report", other, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not an analysis database", p.stderr)
        text = os.path.join(self.tmp, "notes.txt")
        with open(text, "w") as f:
            f.write("these are not the calls you are looking for\n" * 100)
        p = self.muster("report", text, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not a SQLite database", p.stderr)
        p = self.muster("report", os.path.join(self.tmp, "missing.db"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot open: No such file", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "missing.db")))
        # A stopped daemon's own database is read through the analysis views...
        self.d.start()
        self.d.stop()
        p = self.muster("report", self.d.db(), "--json")
        self.assertEqual(json.loads(p.stdout)["total"]["calls"], 0)
        # ...but not one from a newer musterd.
        newer = os.path.join(self.tmp, "newer.db")
        shutil.copy(self.d.db(), newer)
        con = sqlite3.connect(newer)
        con.execute("PRAGMA user_version = 99")
        con.close()
        p = self.muster("report", newer, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("musterd schema version 99 is newer", p.stderr)
        p = self.muster("report", db, "--by", "colour", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--by 'colour'", p.stderr)
        p = self.muster("report", db, "--window", "2019-13-01..", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--window", p.stderr)

    def test_layout_file_maps_another_export(self):
        # Another centre's export: other names, semicolons, ISO times with milliseconds,
        # an exercise flag and a ring deadline per unit.
        cols = {"call_id": "Incident", "unit": "Apparatus", "received": "Alarm",
                "entered": "Keyed", "ordered": "Sent", "receipt": "Acked",
                "en_route": "Rolling", "on_scene": "Arrived"}
        header = ["Incident", "Nature", "Apparatus", "Class", "Alarm", "Keyed", "Sent", "Acked",
                  "Rolling", "Arrived", "Drill", "Ring", "Zone", "Lat", "Lon"]
        d = "2024-03-01T"
        rows = [
            ["1", "fire.ebike", "MFS-3", "micro_fire", d + "08:00:00.000", d + "08:00:05.250",
             d + "08:00:20.500", d + "08:00:21.000", d + "08:00:50.000", d + "08:03:30.125",
             "no", "300", "s01-c01", "30.27", "120.15"],
            ["1", "fire.ebike", "E-1", "fire_engine", d + "08:00:00.000", d + "08:00:05.250",
             d + "08:00:30.000", "", d + "08:01:30.000", d + "08:06:00.000", "no", "480",
             "s01-c01", "30.27", "120.15"],
            ["2", "police.knife", "P-7", "patrol", d + "09:00:00.000", d + "09:00:03.000",
             d + "09:00:15.000", d + "09:00:16.000", d + "09:00:20.000", d + "09:04:00.000",
             "no", "180", "s02-c01", "", ""],
            ["3", "fire.ebike", "MFS-3", "micro_fire", d + "10:00:00.000", d + "10:00:05.000",
             d + "10:00:10.000", d + "10:00:11.000", d + "10:00:40.000", d + "10:02:00.000",
             "yes", "300", "s01-c01", "", ""],
        ]
        path = os.path.join(self.tmp, "county.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f, delimiter=";")
            w.writerow(header)
            w.writerows(rows)
        layout = os.path.join(self.tmp, "county.conf")
        with open(layout, "w") as f:
            f.write('name = "county";\ndelimiter = ";";\ntime_format = "%Y-%m-%dT%H:%M:%S.%f";\n'
                    'columns = {\n  call_id = "incident"; type = "Nature"; unit = ["Unit", '
                    '"Apparatus"];\n  kind = "Class"; received = "ALARM"; entered = "Keyed";\n'
                    '  ordered = "Sent"; receipt = "Acked"; en_route = "Rolling";\n'
                    '  on_scene = "Arrived"; exercise = "Drill"; ring_s = "Ring";\n'
                    '  community = "Zone"; lat = "Lat"; lon = "Lon";\n};\n'
                    'fixed = { department = "district"; };\n')
        db = self.import_csv(path, "--layout", layout)
        got = self.report_json(db)
        self.assertEqual(got["filters"]["exercise_calls_left_out"], 1)
        live = os.path.join(self.tmp, "live.csv")
        with open(live, "w", newline="") as f:
            w = csv.writer(f, delimiter=";")
            w.writerow(header)
            w.writerows(r for r in rows if r[10] == "no")
        ref = reference(live, columns=cols, time_format="%Y-%m-%dT%H:%M:%S.%f", delimiter=";")
        self.assert_equal_reference(got["total"], ref)
        seg = got["total"]["segments"]
        self.assertEqual(seg["intake"]["p50_s"], 3.0)  # 5.25 and 3: nearest rank 1 of 2
        self.assertEqual(seg["receipt"]["n"], 2)
        self.assertEqual(seg["receipt"]["no_value"], 1)
        self.assertEqual(seg["response"]["p90_s"], 240.0)  # 210.125 and 240
        rings = {r["kind"]: r for r in got["total"]["rings"]}
        self.assertEqual(rings["micro_fire"], {"kind": "micro_fire", "calls": 1, "met": 1,
                                               "share": 1.0, "no_arrival": 0, "negative": 0})
        self.assertEqual(rings["fire_engine"]["met"], 1)  # 360 s within 480
        self.assertEqual(rings["patrol"]["met"], 0)  # 240 s, ring 180
        both = self.report_json(db, "--include-exercise")
        self.assertEqual(both["total"]["calls"], 3)
        self.assertEqual(both["total"]["first_on_scene_within_circle"]["within"], 3)
        by = self.report_json(db, "--by", "department")
        self.assertEqual([g["key"] for g in by["groups"]], ["district"])
        # The SF layout does not fit this file: its required columns are named.
        p = self.muster("import", "cad-csv", path, "-o", os.path.join(self.tmp, "x.db"),
                        check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("the header has one column", p.stderr)
        # A layout with a mistake is reported at its line.
        with open(layout, "a") as f:
            f.write('required = ["call_id", "siren"];\n')
        p = self.muster("import", "cad-csv", path, "-o", os.path.join(self.tmp, "x.db"),
                        "--layout", layout, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"county\.conf:\d+: required: unknown field 'siren'")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.db")))


if __name__ == "__main__":
    main()
