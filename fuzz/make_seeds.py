#!/usr/bin/python3
"""make_seeds: writes the fuzzers' seed corpora into fuzz/corpus/ from real examples.

    python3 fuzz/make_seeds.py BUILD_DIR

BUILD_DIR is any configured build directory (its proto/muster_pb2.py, generated from
proto/muster.proto, packs the envelopes). The seeds are committed; run this again when the
protocol, the sample, the drills or the test configuration change. Each corpus is rewritten
whole.

- envelope/: one packed envelope per request type (agent and control), aimed at what the
  harness's baseline holds (incident 1 with its orders, whistle 1, drill 1, the sample
  district and roster), plus a few wrong ones (no body, wrong version, a reply type).
- config/: a selector byte (which file of the small test configuration the rest replaces:
  0 musterd.conf, 1 clients.conf, 2 district.conf, 3 roster.conf, 4 plans.conf, 5 the
  daemon's key file) and that file, from tests/data/conf/good/ and tests/data/plans/; and a
  few bad files from tests/data/conf/bad-*/ under the same selectors.
- scenario/: every drill of scenarios/drills/.
- csv/: the header and small slices of the SF sample export.

And the dictionaries fuzz/<name>.dict: the words the parsers look for (the quoted names in
their sources), the syntax of libconfig, and the sample's ids for the envelopes.
"""
import glob
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
T0 = 1717243200000  # the harness's virtual clock: 2024-06-01 12:00:00 UTC


# A scenario on the small test configuration (the harness puts it beside the scenario as
# "small"): every kind of inject and expectation once.
SMALL_SCENARIO = """name = "small";
seed = 7;
start = "2025-06-01T23:30:00";
duration = "1h30m";
config = "small";
models = ( { kind = "*"; turnout_s = [10, 20]; speed_kmh = 20.0; decline = 0.1; no_show = 0.0;
             clear_s = 600; receipt_s = [1, 3]; },
           { department = "police"; kind = "volunteer_guard"; speed_kmh = 6.5; } );
injects = (
  { at = "0:10"; incident = { id = "a"; type = "fire.ebike"; place = "s1-c1"; description = "d";
    building = "urban_village"; casualties = 1; people_affected = 3; hazmat = false; }; },
  { at = "01:00"; update = { ref = "a"; casualties = 2; people_affected = 4; description = "x";
    note = "n"; }; },
  { at = "2m"; tier = { ref = "a"; tier = 1; reason = "r"; }; },
  { at = "3m"; agent_offline = { department = "police"; for = "90s"; }; },
  { at = "4m"; road_blocked = { street = "s1"; for = "10m"; delay = "2m"; }; },
  { at = "5m"; whistle = { place = "s1"; matter = "m"; departments = [ "fire", "police" ];
    deadline = "20m"; rank = "section chief"; headcount = 1; ref = "a"; }; },
  { at = "6m"; surge = { count = 3; over = "5m"; types = [ "fire.ebike" ];
    places = [ "s1-c2", "Harbour" ]; }; },
  { at = "7m"; divert = { ref = "a"; to = "police"; reason = "crime"; }; },
  { at = "1:00:00"; close = { ref = "a"; reason = "out"; }; }
);
expect = (
  { what = "group_complete"; within = "2m"; },
  { what = "ring_met"; kind = "micro_fire_station"; share = 50.0; },
  { what = "circle"; within = "5m"; share = 90; },
  { what = "whistle_on_time"; },
  { what = "no_shortfall"; },
  { what = "max_misses"; count = 2; }
);
"""


def fresh(name):
    d = os.path.join(HERE, "corpus", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def envelopes(pb):
    """(name, Envelope) pairs: every request the daemon accepts, and a few it refuses."""
    out = []
    seq = [0]

    def env(name, **kw):
        seq[0] += 1
        e = pb.Envelope(version=1, seq=seq[0], correlation_id=1000 + seq[0],
                        sent_at_ms=T0, **kw)
        out.append((name, e))
        return e

    fire_units = ["ms-s01c01", "ms-s01c02", "fe-s01-1", "fe-s01-2", "fire-hazmat"]
    # agent -> daemon
    env("register", register=pb.Register(agent_version="1", unit_ids=fire_units))
    env("register-foreign", register=pb.Register(unit_ids=["ms-s01c01", "vg-s01c01-g1-1", "nope"]))
    env("heartbeat", heartbeat=pb.Heartbeat(units=[
        pb.UnitState(unit_id="ms-s01c01", status=pb.UNIT_AVAILABLE,
                     position=pb.Coordinates(lat=30.3195, lon=120.1405)),
        pb.UnitState(unit_id="fe-s01-1", status=pb.UNIT_BUSY)]))
    env("heartbeat-bad", heartbeat=pb.Heartbeat(units=[
        pb.UnitState(unit_id="ms-s01c01", status=9,
                     position=pb.Coordinates(lat=91.0, lon=-181.0))]))
    for oid in (1, 2, 5):
        env("receipt-%d" % oid, receipt=pb.Receipt(order_id=oid))
    for st in ("ORDER_ACCEPTED", "ORDER_DECLINED", "ORDER_EN_ROUTE", "ORDER_ON_SCENE",
               "ORDER_CLEARED"):
        env("status-" + st.lower(), status=pb.StatusReport(
            order_id=1, status=getattr(pb, st), delay_reason=pb.DELAY_TRAFFIC,
            note="late: traffic", position=pb.Coordinates(lat=30.32, lon=120.14)))
    env("whistle-arrival", whistle_arrival=pb.WhistleArrival(
        whistle_id=1, leader_rank="section chief", headcount=3))
    # operator -> daemon
    loc = pb.Location(place="s01-c01")
    env("submit", submit_incident=pb.SubmitIncident(
        type="fire.ebike", location=loc, description="charging shed fire", casualties=1,
        reporter="caller", people_affected=12, building="urban_village"))
    env("submit-coords", submit_incident=pb.SubmitIncident(
        type="attack.violent", location=pb.Location(coords=pb.Coordinates(
            lat=30.32, lon=120.15)), hazmat=True, tier=1, tier_reason="knife, mall"))
    env("submit-bad", submit_incident=pb.SubmitIncident(
        type="no.such", location=pb.Location(place="nowhere"), casualties=-1, tier=7))
    env("update", update_incident=pb.UpdateIncident(
        id=1, description="spreading", has_casualties=True, casualties=3,
        has_people_affected=True, people_affected=40, note="second call"))
    env("close", close_incident=pb.CloseIncident(id=1, reason="out"))
    env("get", get_incident=pb.GetIncident(id=1))
    env("list", list_incidents=pb.ListIncidents(include_closed=True, limit=5, after_id=0))
    env("set-tier", set_tier=pb.SetTier(id=1, tier=1, reason="spreading to the next building"))
    env("set-tier-down", set_tier=pb.SetTier(id=1, tier=3, reason="contained"))
    env("unlink", unlink_incident=pb.UnlinkIncident(id=1, reason="not the same fire"))
    env("divert", divert_incident=pb.DivertIncident(id=1, to="police", reason="a crime"))
    env("blow-whistle", blow_whistle=pb.BlowWhistle(
        place="s01", matter="illegal structure on the slope",
        departments=["housing", "citymgmt"], deadline_s=1800, leader_rank="section chief",
        headcount=2, incident_id=1))
    env("get-whistle", get_whistle=pb.GetWhistle(id=1))
    env("snapshot", snapshot=pb.Snapshot(name="fuzz.db"))
    env("advance-clock", advance_clock=pb.AdvanceClock(to_ms=T0 + 60000))
    env("arm-drill", arm_drill=pb.ArmDrill(
        name="mall", window_from_ms=T0 + 3600000, window_to_ms=T0 + 7200000,
        duration_ms=600000, injects=[pb.DrillInject(at_ms=0, incident=pb.SubmitIncident(
            type="attack.violent", location=pb.Location(place="s01-c02")))]))
    env("get-drill", get_drill=pb.GetDrill(id=1))
    env("abort-drill", abort_drill=pb.AbortDrill(id=1, reason="real fire"))
    env("get-status", get_status=pb.GetStatus())
    # refused whole
    env("no-body")
    e = env("wrong-version", get_incident=pb.GetIncident(id=1))
    e.version = 2
    env("reply-type", error=pb.ErrorReply(code=pb.NOT_FOUND, message="x"))
    return out


# libconfig's syntax, for the configuration and scenario dictionaries.
LIBCONFIG = ["=", ":", ";", ",", "(", ")", "{", "}", "[", "]", "\"", "true", "false", "TRUE",
             "0x", "0x7fffffffffffffff", "L", "9223372036854775807", "-1", "1e308", "1.5",
             "@include", "#", "//", "/*", "*/", "\\n", "\\x41"]


def words(paths, pattern=r'"([A-Za-z_][A-Za-z0-9_.:* -]{1,40})"'):
    """The quoted names in the files at PATHS (relative to the top)."""
    import re
    out = set()
    for p in paths:
        with open(os.path.join(ROOT, p), encoding="utf-8") as f:
            out.update(re.findall(pattern, f.read()))
    return out


def write_dict(name, entries):
    def quote(w):
        b = w.encode() if isinstance(w, str) else w
        return '"' + "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else "\\x%02x" % c
                             for c in b) + '"'
    with open(os.path.join(HERE, name + ".dict"), "w") as f:
        f.write("# %s.dict: written by make_seeds.py\n" % name)
        for w in sorted(set(entries), key=lambda w: (len(w), w)):
            f.write(quote(w) + "\n")


def dictionaries():
    sample = ["scenarios/sample/district.conf", "scenarios/sample/roster.conf",
              "scenarios/sample/plans.conf"]
    write_dict("config", LIBCONFIG + sorted(words(["daemon/cfg.c", "daemon/plan.c",
                                                   "daemon/conf.c"])))
    write_dict("scenario", LIBCONFIG + sorted(
        words(["clients/scenario.c", "clients/model.c", "daemon/whistle.c"])
        | words(["tests/data/conf/good/district.conf", "tests/data/conf/good/roster.conf"]))
        + ["sample", "small", "2025-06-01T14:00:00", "00:30", "1h30m", "59:59", "366d"])
    write_dict("csv", sorted(words(["clients/cadimport.c"]))
               + ["01/10/2009 02:36:01 PM", "12/31/2019 11:59:59 AM", ",", "\"", "\r\n",
                  "\"(37.775086085408, -122.444592861504)\"", "ENGINE", "MEDIC", "true"])
    ids = words(sample, r'(?:id|type|kind) = "([^"]{1,40})"')
    write_dict("envelope", sorted(ids) + ["agent:fire", "operator:duty", "section chief"])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.path.insert(0, os.path.join(sys.argv[1], "proto"))
    import muster_pb2 as pb  # noqa: E402  (generated into the build directory)

    dictionaries()
    d = fresh("envelope")
    for name, e in envelopes(pb):
        with open(os.path.join(d, name + ".pb"), "wb") as f:
            f.write(e.SerializeToString())

    d = fresh("config")
    conf = os.path.join(ROOT, "tests", "data", "conf")
    names = ["musterd.conf", "clients.conf", "district.conf", "roster.conf", "plans.conf"]
    sources = [(i, os.path.join(conf, "good", n)) for i, n in enumerate(names[:4])]
    sources += [(1, os.path.join(conf, "good", "clients.conf")),
                (4, os.path.join(ROOT, "tests", "data", "plans", "good.conf")),
                (5, os.path.join(conf, "good", "keys", "musterd.key"))]
    for bad in sorted(glob.glob(os.path.join(conf, "bad-*"))):
        for i, n in enumerate(names):
            p = os.path.join(bad, n)
            if os.path.isfile(p):
                sources.append((i, p))
        for p in sorted(glob.glob(os.path.join(bad, "*.key"))):
            sources.append((5, p))
    for p in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "plans", "bad-*.conf"))):
        if not p.endswith("bad-musterd.conf"):
            sources.append((4, p))
    for i, p in sources:
        rel = os.path.relpath(p, os.path.join(ROOT, "tests", "data"))
        with open(p, "rb") as f, \
                open(os.path.join(d, "%d-%s" % (i, rel.replace("/", "-"))), "wb") as out:
            out.write(bytes([i]) + f.read())

    d = fresh("scenario")
    for p in sorted(glob.glob(os.path.join(ROOT, "scenarios", "drills", "*.conf"))):
        shutil.copy(p, d)
    with open(os.path.join(d, "small.conf"), "w") as out:
        out.write(SMALL_SCENARIO)

    d = fresh("csv")
    with open(os.path.join(ROOT, "tests", "data", "sf", "sf-fire-calls-sample.csv"), "rb") as f:
        lines = f.read().split(b"\n")
    header = lines[0] + b"\n"
    slices = {"header-only": [], "one-row": lines[1:2], "one-call": lines[1:6],
              "rows-100-120": lines[100:120], "rows-4000-4030": lines[4000:4030]}
    for name, rows in slices.items():
        with open(os.path.join(d, name + ".csv"), "wb") as out:
            out.write(header + b"".join(r + b"\n" for r in rows))


if __name__ == "__main__":
    main()
