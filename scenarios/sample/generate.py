#!/usr/bin/env python3
"""Writes the sample configuration of "G district" (district.conf, roster.conf) beside this
script. Deterministic: the same script always writes the same bytes, so the committed .conf
files are its output and can be regenerated after editing the tables below.

The district is fictional but shaped like the one in the field studies: an eastern coastal
city district of ~10 streets (街道), ~35 communities (社区) with two work grids (网格) each,
a dozen key places with 24-hour police posts (囤警点), eight departments (条) and a few
hundred units: volunteer guards (义警), patrols, armed police, micro fire stations (微消防站),
fire engines, ambulances, engineering teams. musterd.conf and plans.conf are written by hand.

Usage: python3 scenarios/sample/generate.py
       python3 scenarios/sample/generate.py --full OUTDIR

--full OUTDIR writes a full-size district into OUTDIR instead (not committed; see
docs/drills.md, "Full-size district"): the sample's places and more, 10 streets, 100
communities, 400 grids, 110 key places of which 92 have 24-hour posts, and 100,000 volunteer
guards among about 100,400 units; with the sample's plans.conf, and its musterd.conf with
max_frame raised to 16 MiB. Add clients.conf and keys/ from `muster init` to run a daemon on it.
"""

import argparse
import math
import os
import random
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))

# Bounding box of the district (WGS-84 degrees); every coordinate must lie inside it.
BOUNDS = dict(south=30.20, west=120.10, north=30.35, east=120.30)

# Streets (街道): id suffix, name, centre. Community count follows from len(COMMUNITY_KINDS).
STREETS = [
    ("Gongchen", 30.3290, 120.1420),
    ("Xiangfu", 30.3150, 120.1230),
    ("Kangqiao", 30.3320, 120.1720),
    ("Banshan", 30.3220, 120.2050),
    ("Daguan", 30.2980, 120.1480),
    ("Mishi", 30.2850, 120.1330),
    ("Hemu", 30.2960, 120.1830),
    ("Xiaohe", 30.2720, 120.1560),
    ("Shangtang", 30.2580, 120.2010),
    ("Chaoming", 30.2360, 120.2460),
]

# Community name endings, one per community of a street; streets alternate 4 and 3.
COMMUNITY_KINDS = ["Riverside", "Garden", "New Village", "Hillview"]

# Key places: id, name, kind, street index, offset from the street centre (km north, km east),
# 24-hour post.
KEY_PLACES = [
    ("kp-gov", "District Government Compound", "government", 4, (0.3, 0.2), True),
    ("kp-stadium", "G District Stadium", "stadium", 3, (-0.5, 0.4), True),
    ("kp-canal-mall", "Grand Canal Mall", "mall", 0, (0.2, -0.4), True),
    ("kp-outlets", "Riverside Outlets Mall", "mall", 6, (0.4, 0.3), True),
    ("kp-xh-mall", "Xiaohe Joy City Mall", "mall", 7, (-0.3, -0.2), True),
    ("kp-culture-sq", "Canal Culture Square", "square", 0, (-0.3, 0.3), True),
    ("kp-civic-sq", "Civic Square", "square", 4, (-0.2, -0.3), True),
    ("kp-dock", "Gongchen Passenger Dock", "dock", 0, (0.5, 0.1), True),
    ("kp-canal-park", "Canal Park", "park", 5, (0.2, 0.3), False),
    ("kp-banshan-park", "Banshan Forest Park", "park", 3, (0.6, 0.5), False),
    ("kp-hospital", "G District People's Hospital", "hospital", 5, (-0.4, -0.2), True),
    ("kp-rail", "North Railway Station", "station", 2, (0.2, 0.6), True),
]

# Departments (条): id, name with the Chinese term, comment.
DEPARTMENTS = [
    ("police", "Public security (公安)", "patrol police, volunteer guards, armed police, posts"),
    ("fire", "Fire and rescue (消防)", "fire engines and micro fire stations"),
    ("emergency", "Emergency management bureau (应急局)", "rescue teams, local experts"),
    ("housing", "Housing and construction bureau (住建局)", "structural engineering teams"),
    ("transport", "Transport bureau (交通运输局)", "road and slope engineering teams"),
    ("traffic", "Traffic police (交警)", "traffic control"),
    ("health", "Health and EMS (卫健 / 120)", "ambulances"),
    ("citymgmt", "City management (城管)", "street order, temporary works"),
]

KM_LAT = 1 / 111.2  # degrees of latitude per km
KM_LON = 1 / (111.32 * math.cos(math.radians(30.28)))  # degrees of longitude per km here


def offset(lat, lon, dn, de):
    """Returns (lat, lon) moved DN km north and DE km east."""
    return lat + dn * KM_LAT, lon + de * KM_LON


def inside(lat, lon):
    """Tells whether a point is inside BOUNDS."""
    return BOUNDS["south"] < lat < BOUNDS["north"] and BOUNDS["west"] < lon < BOUNDS["east"]


def dist_km(a, b):
    """Flat-earth distance in km, good enough to choose neighbours."""
    return math.hypot((a[0] - b[0]) / KM_LAT, (a[1] - b[1]) / KM_LON)


def fmt(v):
    """Formats a coordinate with 6 decimals (about 0.1 m)."""
    return "%.6f" % v


def build_places(rng):
    """Returns streets, communities, grids and key places as lists of dicts."""
    streets, communities, grids = [], [], []
    for si, (name, lat, lon) in enumerate(STREETS):
        sid = "s%02d" % (si + 1)
        streets.append(dict(id=sid, name=name + " Street", lat=lat, lon=lon))
        n = 4 if si % 2 == 0 else 3
        for ci in range(n):
            ang = 2 * math.pi * ci / n + rng.random() * 0.6
            r = 0.8 + rng.random() * 0.6
            clat, clon = offset(lat, lon, r * math.sin(ang), r * math.cos(ang))
            assert inside(clat, clon), (sid, ci)
            cid = "%s-c%02d" % (sid, ci + 1)
            communities.append(dict(id=cid, name="%s %s Community" % (name, COMMUNITY_KINDS[ci]),
                                    street=sid, lat=clat, lon=clon, sname=name,
                                    cname=COMMUNITY_KINDS[ci]))
            for gi in range(2):
                glat, glon = offset(clat, clon, (0.25 if gi == 0 else -0.25),
                                    (rng.random() - 0.5) * 0.3)
                grids.append(dict(id="%s-g%d" % (cid, gi + 1),
                                  name="%s %s Grid %d" % (name, COMMUNITY_KINDS[ci], gi + 1),
                                  community=cid, lat=glat, lon=glon))
    # Neighbours: the three nearest communities, made symmetric.
    nb = {c["id"]: set() for c in communities}
    for c in communities:
        others = sorted((dist_km((c["lat"], c["lon"]), (o["lat"], o["lon"])), o["id"])
                        for o in communities if o is not c)
        for _, oid in others[:3]:
            nb[c["id"]].add(oid)
            nb[oid].add(c["id"])
    for c in communities:
        c["neighbours"] = sorted(nb[c["id"]])
    keys = []
    for kid, name, kind, si, (dn, de), post in KEY_PLACES:
        s = streets[si]
        lat, lon = offset(s["lat"], s["lon"], dn, de)
        home = min((c for c in communities if c["street"] == s["id"]),
                   key=lambda c: dist_km((lat, lon), (c["lat"], c["lon"])))
        keys.append(dict(id=kid, name=name, kind=kind, community=home["id"], lat=lat, lon=lon,
                         post24h=post, street=si))
    return streets, communities, grids, keys


def write_district(streets, communities, grids, keys, path=None, intro=None,
                   grids_note="two per community here"):
    """Writes district.conf (beside this script unless PATH is given); INTRO replaces the
    first two comment lines."""
    out = []
    w = out.append
    for line in intro or [
            "# district.conf: the places of the sample \"G district\" (libconfig syntax).",
            "# Written by generate.py; edit the tables there and re-run, or edit this file "
            "by hand."]:
        w(line)
    w("# Every place has an id (unique in the district, used by the roster and plans) and a")
    w("# name (unique too: operators may type it). Coordinates are WGS-84 degrees and must lie")
    w("# inside the bounds below. Parents come before children: streets (街道), communities")
    w("# (社区), work grids (网格), key places. See docs/configuration.md.")
    w("")
    w("district = {")
    w("\tid = \"g\";")
    w("\tname = \"G District\";")
    w("\t# Bounding box: south/north latitude, west/east longitude.")
    w("\tbounds = { south = %s; west = %s; north = %s; east = %s; };" % (
        fmt(BOUNDS["south"]), fmt(BOUNDS["west"]), fmt(BOUNDS["north"]), fmt(BOUNDS["east"])))
    w("};")
    w("")
    w("# Streets (街道): each hosts a street sub-centre (街道分中心, the \"middle grid\").")
    w("streets = (")
    w(",\n".join("\t{ id = \"%s\"; name = \"%s\"; lat = %s; lon = %s; }" % (
        s["id"], s["name"], fmt(s["lat"]), fmt(s["lon"])) for s in streets))
    w(");")
    w("")
    w("# Communities (社区): each hosts a community micro-centre (社区微中心). 'neighbours' are")
    w("# the communities pulled in when this one lacks people (就近社区自动调度支援).")
    w("communities = (")
    rows = []
    for c in communities:
        rows.append("\t{ id = \"%s\"; name = \"%s\"; street = \"%s\";\n"
                    "\t  lat = %s; lon = %s;\n\t  neighbours = [ %s ]; }" % (
                        c["id"], c["name"], c["street"], fmt(c["lat"]), fmt(c["lon"]),
                        ", ".join("\"%s\"" % n for n in c["neighbours"])))
    w(",\n".join(rows))
    w(");")
    w("")
    w("# Work grids (工作网格): the patch a grid worker (网格员) walks; %s." % grids_note)
    w("grids = (")
    w(",\n".join("\t{ id = \"%s\"; name = \"%s\"; community = \"%s\"; lat = %s; lon = %s; }" % (
        g["id"], g["name"], g["community"], fmt(g["lat"]), fmt(g["lon"])) for g in grids))
    w(");")
    w("")
    w("# Key places (重点场所): 'kind' is free text used by plans (mall, stadium, dock, ...);")
    w("# 'post24h = true' marks a round-the-clock police post (24小时囤警点).")
    w("key_places = (")
    w(",\n".join("\t{ id = \"%s\"; name = \"%s\"; kind = \"%s\"; community = \"%s\";\n"
                 "\t  lat = %s; lon = %s; post24h = %s; }" % (
                     k["id"], k["name"], k["kind"], k["community"], fmt(k["lat"]), fmt(k["lon"]),
                     "true" if k["post24h"] else "false") for k in keys))
    w(");")
    with open(path or os.path.join(HERE, "district.conf"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def unit(uid, name, dept, kind, station, people, skills, comment=None, latlon=None):
    """Returns one unit as a dict."""
    return dict(id=uid, name=name, department=dept, kind=kind, station=station, people=people,
                skills=skills, comment=comment, latlon=latlon)


def build_roster(rng, streets, communities, grids, keys):
    """Returns units, people and experts."""
    units = []
    # Per community: volunteer guards (义警) in each grid, one micro fire station (微消防站).
    for c in communities:
        short = c["id"].replace("-", "")
        for gi in range(2):
            for k in range(2):
                units.append(unit("vg-%s-g%d-%d" % (short, gi + 1, k + 1),
                                  "%s volunteer guards G%d/%d" % (c["name"].replace(" Community", ""),
                                                                  gi + 1, k + 1),
                                  "police", "volunteer_guard", "%s-g%d" % (c["id"], gi + 1),
                                  3 + int(rng.random() * 4), ["first_aid", "crowd_control"]))
        units.append(unit("ms-%s" % short,
                          "%s micro fire station" % c["name"].replace(" Community", ""),
                          "fire", "micro_fire_station", c["id"], 6,
                          ["fire_suppression", "rescue", "first_aid"]))
    # Per street: two patrols (巡逻/铁骑), traffic police, city management, one ambulance post
    # on even streets.
    for s in streets:
        sid = s["id"]
        for k in range(2):
            units.append(unit("patrol-%s-%d" % (sid, k + 1),
                              "%s patrol %d" % (s["name"], k + 1), "police", "patrol", sid, 2,
                              ["motorcycle"] if k == 1 else ["car"]))
        units.append(unit("traffic-%s" % sid, "%s traffic police" % s["name"], "traffic",
                          "traffic_patrol", sid, 3, ["traffic_control"]))
        units.append(unit("cm-%s" % sid, "%s city management team" % s["name"], "citymgmt",
                          "city_management_team", sid, 5, ["cordon", "street_order"]))
    # 24-hour posts at key places (囤警点), armed police (武警) at a few of them.
    for k in keys:
        if k["post24h"]:
            units.append(unit("post-%s" % k["id"][3:], "%s 24h post" % k["name"], "police",
                              "post_24h", k["id"], 4, ["crowd_control", "first_aid"]))
    for kid in ("kp-gov", "kp-stadium", "kp-dock", "kp-rail"):
        k = next(k for k in keys if k["id"] == kid)
        lat, lon = offset(k["lat"], k["lon"], 0.15, -0.1)
        units.append(unit("armed-%s" % kid[3:], "Armed police squad at %s" % k["name"], "police",
                          "armed_police", kid, 10, ["armed_response", "crowd_control"],
                          "parked 150 m from the post", (lat, lon)))
    # Fire stations (消防站) with engines, and one hazmat team.
    for sid, label in (("s01", "Gongchen"), ("s05", "Daguan"), ("s09", "Shangtang")):
        for k in range(2):
            units.append(unit("fe-%s-%d" % (sid, k + 1), "%s fire station engine %d" % (label, k + 1),
                              "fire", "fire_engine", sid, 6,
                              ["fire_suppression", "rescue", "ladder"] if k == 1
                              else ["fire_suppression", "rescue"]))
    units.append(unit("fire-hazmat", "Hazmat response team", "fire", "hazmat_team", "s05", 8,
                      ["hazmat", "decontamination"]))
    # Ambulances (120): two at the hospital, one at each odd street.
    for k in range(2):
        units.append(unit("amb-hosp-%d" % (k + 1), "Hospital ambulance %d" % (k + 1), "health",
                          "ambulance", "kp-hospital", 3, ["ems", "trauma"]))
    for s in streets[::2]:
        units.append(unit("amb-%s" % s["id"], "%s ambulance" % s["name"], "health", "ambulance",
                          s["id"], 3, ["ems"]))
    # Engineering teams: transport (roads, slopes) and housing (structures).
    for i, sid in enumerate(("s02", "s06", "s10")):
        units.append(unit("tr-eng-%d" % (i + 1), "Road and slope engineering team %d" % (i + 1),
                          "transport", "engineering_team", sid, 8,
                          ["road_repair", "slope_stabilisation", "heavy_machinery"]))
    for i, sid in enumerate(("s03", "s05", "s08")):
        units.append(unit("hs-eng-%d" % (i + 1), "Structural engineering team %d" % (i + 1),
                          "housing", "engineering_team", sid, 6,
                          ["structural_assessment", "shoring"]))
    # Emergency management: rescue teams (应急救援队).
    for i, kid in enumerate(("kp-gov", "kp-stadium")):
        units.append(unit("em-rescue-%d" % (i + 1), "Emergency rescue team %d" % (i + 1),
                          "emergency", "rescue_team", kid, 12,
                          ["rescue", "flood", "first_aid", "heavy_machinery"]))

    people = []
    ranks = {"commander": "deputy director", "coordinator": "section chief"}
    for did, dname, _ in DEPARTMENTS:
        for role in ("commander", "coordinator"):
            people.append(dict(id="%s-%s" % (did, role), name="%s duty %s" % (
                dname.split(" (")[0], role), department=did, role=role, rank=ranks[role],
                unit=None, skills=["command"] if role == "commander" else ["coordination"]))
    for s in streets:
        people.append(dict(id="police-chief-%s" % s["id"], name="%s police station chief" % s["name"],
                           department="police", role="commander", rank="station chief", unit=None,
                           skills=["command"]))
    for u in units:
        if u["kind"] in ("micro_fire_station", "fire_engine") and u["id"].endswith(("c01", "-1")):
            people.append(dict(id="lead-%s" % u["id"], name="Team leader of %s" % u["name"],
                               department=u["department"], role="responder", rank="team leader",
                               unit=u["id"], skills=["fire_suppression", "command"]))

    experts = [
        dict(id="x-fire-1", name="Senior fire engineer", department="fire", field="fire"),
        dict(id="x-hazmat-1", name="Chemical hazards specialist", department="emergency",
             field="hazmat"),
        dict(id="x-struct-1", name="Chief structural engineer", department="housing",
             field="structural"),
        dict(id="x-geo-1", name="Slope and geotechnical engineer", department="transport",
             field="geotechnical"),
        dict(id="x-trauma-1", name="Trauma surgeon on call", department="health",
             field="trauma"),
        dict(id="x-crowd-1", name="Crowd safety adviser", department="police", field="crowd"),
    ]
    fields = ["flood", "old_buildings", "urban_village", "canal", "slopes"]
    for i, s in enumerate(streets):
        experts.append(dict(id="x-local-%s" % s["id"], name="%s local expert" % s["name"],
                            department="emergency", field=fields[i % len(fields)],
                            street=s["id"]))
    return units, people, experts


def q(s):
    """Quotes a string for libconfig."""
    return "\"%s\"" % s.replace("\\", "\\\\").replace("\"", "\\\"")


def write_roster(units, people, experts, path=None, intro=None):
    """Writes roster.conf (beside this script unless PATH is given); INTRO replaces the
    first two comment lines."""
    out = []
    w = out.append
    for line in intro or [
            "# roster.conf: departments, units, people and experts of the sample district",
            "# (libconfig syntax). Written by generate.py. See docs/configuration.md."]:
        w(line)
    w("")
    w("# Departments (条). 'supervisor' is the identity told when a task is not handled in time")
    w("# (督办); it must be enrolled in clients.conf. Here each department's agent relays it.")
    w("departments = (")
    w(",\n".join("\t# %s\n\t{ id = %s; name = %s; supervisor = %s; }" % (
        c, q(d), q(n), q("agent:" + d)) for d, n, c in DEPARTMENTS))
    w(");")
    w("")
    w("# Units: 'kind' is the responder class the plans and rings use; 'station' is a place id")
    w("# (street, community, grid or key place) whose coordinates are the unit's home unless")
    w("# 'lat'/'lon' are given; 'agent' is the enrolled identity that speaks for the unit and")
    w("# must be of the unit's department; 'people' is the headcount.")
    w("# Kinds here: volunteer_guard (义警), patrol (巡逻/铁骑), post_24h (囤警点),")
    w("# armed_police (武警), micro_fire_station (微消防站), fire_engine, hazmat_team,")
    w("# ambulance (120), traffic_patrol (交警), city_management_team (城管),")
    w("# engineering_team (交通/住建 抢险队), rescue_team (应急救援队).")
    w("units = (")
    rows = []
    for u in units:
        extra = ""
        if u["latlon"]:
            extra = "\n\t  lat = %s; lon = %s;" % (fmt(u["latlon"][0]), fmt(u["latlon"][1]))
        row = "\t{ id = %s; name = %s; department = %s; kind = %s;\n" \
              "\t  station = %s; agent = %s; people = %d;\n\t  skills = [ %s ];%s }" % (
                  q(u["id"]), q(u["name"]), q(u["department"]), q(u["kind"]), q(u["station"]),
                  q("agent:" + u["department"]), u["people"],
                  ", ".join(q(s) for s in u["skills"]), extra)
        if u["comment"]:
            row = "\t# %s\n%s" % (u["comment"], row)
        rows.append(row)
    w(",\n".join(rows))
    w(");")
    w("")
    w("# People: commanders (指挥长) and coordinators with the rank that whistle-and-report")
    w("# (吹哨报到) asks for; 'unit' attaches a person to a unit.")
    w("people = (")
    rows = []
    for p in people:
        unitpart = "\n\t  unit = %s;" % q(p["unit"]) if p["unit"] else ""
        rows.append("\t{ id = %s; name = %s; department = %s;\n\t  role = %s; rank = %s;%s"
                    " skills = [ %s ]; }" % (
                        q(p["id"]), q(p["name"]), q(p["department"]), q(p["role"]), q(p["rank"]),
                        unitpart, ", ".join(q(s) for s in p["skills"])))
    w(",\n".join(rows))
    w(");")
    w("")
    w("# Experts (专家库): department experts have no street; local experts (土专家) name the")
    w("# street they know. 'agent' relays the expert's advice through the platform.")
    w("experts = (")
    rows = []
    for e in experts:
        street = " street = %s;" % q(e["street"]) if e.get("street") else ""
        rows.append("\t{ id = %s; name = %s; department = %s; field = %s;%s agent = %s; }" % (
            q(e["id"]), q(e["name"]), q(e["department"]), q(e["field"]), street,
            q("agent:" + e["department"])))
    w(",\n".join(rows))
    w(");")
    with open(path or os.path.join(HERE, "roster.conf"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


# ---------------------------------------------------------------------------------------------
# The full-size district (--full OUTDIR): the sample district grown to the size of the one in
# the field studies. It is a superset of the sample's places: every street, community, grid and
# key place of the sample keeps its id, name and position, so a scenario written for the sample
# names places that exist here too. Around them: 10 communities per street, 4 grids per
# community, 92 key places with 24-hour posts, 100,000 volunteer guards, and the other units
# scaled from the sample's by about 3 (the number of communities grows from 35 to 100).

FULL_SEED = 20250901
FULL_COMMUNITIES_PER_STREET = 10
# Community name endings c01..c10; the first four are the sample's.
FULL_COMMUNITY_KINDS = COMMUNITY_KINDS + ["Lakeside", "Orchard", "Bridgehead", "Willow Lane",
                                          "Harbour", "Silk Mill"]
# Grids g1..g4 of a community: g1 north and g2 south (the sample's two), g3 east, g4 west;
# (km north, km east) from the community's centre.
FULL_GRID_OFFSETS = [(0.25, 0.0), (-0.25, 0.0), (0.0, 0.25), (0.0, -0.25)]
FULL_GUARDS = 100000          # volunteer guards (义警), one unit each, people = 1
FULL_POSTS = 92               # key places with a 24-hour post (囤警点), the sample's 10 included
FULL_OTHER_KEY_PLACES = 18    # key places without a post, the sample's 2 parks included
# New key places with a post: id suffix, name ending, kind. Cycled in street-by-street order.
FULL_POST_KINDS = [
    ("metro", "Metro Station", "station"),
    ("mall", "Plaza Mall", "mall"),
    ("market", "Market", "market"),
    ("square", "Square", "square"),
    ("school", "Middle School", "school"),
    ("bus", "Bus Terminal", "station"),
    ("hospital", "Hospital", "hospital"),
    ("bars", "Bar Street", "nightlife"),
    ("wharf", "Wharf", "dock"),
]
FULL_OTHER_KINDS = [("park", "Pocket Park", "park"), ("library", "Library", "library")]
# Margin kept from the district's bounds (km), so grids and guards around a place stay inside.
FULL_MARGIN_KM = 0.7
# Least distance between two communities' centres (km) when placing new ones.
FULL_MIN_SEPARATION_KM = 0.45


def inside_margin(lat, lon, km):
    """Tells whether a point is inside BOUNDS with KM to spare on every side."""
    return (BOUNDS["south"] + km * KM_LAT < lat < BOUNDS["north"] - km * KM_LAT and
            BOUNDS["west"] + km * KM_LON < lon < BOUNDS["east"] - km * KM_LON)


def full_place_community(rng, street, streets, placed):
    """Returns (lat, lon) for a new community of STREET: within 2.2 km of its centre, nearer
    to it than to any other street's centre, inside the bounds with a margin, and at least
    FULL_MIN_SEPARATION_KM from every community in PLACED (relaxed if no spot is found)."""
    sep = FULL_MIN_SEPARATION_KM
    while True:
        for _ in range(2000):
            ang = rng.random() * 2 * math.pi
            r = 0.5 + rng.random() * 1.7
            lat, lon = offset(street["lat"], street["lon"], r * math.sin(ang), r * math.cos(ang))
            if not inside_margin(lat, lon, FULL_MARGIN_KM):
                continue
            own = dist_km((lat, lon), (street["lat"], street["lon"]))
            if any(dist_km((lat, lon), (s["lat"], s["lon"])) < own for s in streets
                   if s is not street):
                continue
            if all(dist_km((lat, lon), p) >= sep for p in placed):
                return lat, lon
        sep *= 0.9


def full_build_places():
    """Returns streets, communities, grids and key places of the full-size district: the
    sample's (same ids, names and positions) and the new ones, in the sample's order."""
    streets, sample_comms, sample_grids, sample_keys = build_places(random.Random(20240601))
    rng = random.Random(FULL_SEED)
    by_id = {c["id"]: c for c in sample_comms}
    grids_by_id = {g["id"]: g for g in sample_grids}
    placed = [(c["lat"], c["lon"]) for c in sample_comms]
    communities, grids = [], []
    for s in streets:
        name = s["name"][:-len(" Street")]
        for ci in range(FULL_COMMUNITIES_PER_STREET):
            cid = "%s-c%02d" % (s["id"], ci + 1)
            c = by_id.get(cid)
            if c is None:
                lat, lon = full_place_community(rng, s, streets, placed)
                placed.append((lat, lon))
                kind = FULL_COMMUNITY_KINDS[ci]
                c = dict(id=cid, name="%s %s Community" % (name, kind), street=s["id"],
                         lat=lat, lon=lon, sname=name, cname=kind)
            communities.append(c)
            for gi, (dn, de) in enumerate(FULL_GRID_OFFSETS):
                gid = "%s-g%d" % (cid, gi + 1)
                g = grids_by_id.get(gid)
                if g is None:
                    jit = (rng.random() - 0.5) * 0.3
                    glat, glon = offset(c["lat"], c["lon"], dn or jit, de or jit)
                    g = dict(id=gid, name="%s %s Grid %d" % (name, c["cname"], gi + 1),
                             community=cid, lat=glat, lon=glon)
                assert inside(g["lat"], g["lon"]), gid
                grids.append(g)
    # Neighbours over all 100: the three nearest, made symmetric (as the sample's).
    nb = {c["id"]: set() for c in communities}
    for c in communities:
        others = sorted((dist_km((c["lat"], c["lon"]), (o["lat"], o["lon"])), o["id"])
                        for o in communities if o is not c)
        for _, oid in others[:3]:
            nb[c["id"]].add(oid)
            nb[oid].add(c["id"])
    communities = [dict(c, neighbours=sorted(nb[c["id"]])) for c in communities]
    # Key places: the sample's 12, then new ones beside communities taken street by street
    # (c01 of every street, then c02 of every street, ...), shuffled within each street.
    keys = list(sample_keys)
    n_posts = FULL_POSTS - sum(1 for k in keys if k["post24h"])
    n_other = FULL_OTHER_KEY_PLACES - sum(1 for k in keys if not k["post24h"])
    per_street = []
    for s in streets:
        cs = [c for c in communities if c["street"] == s["id"]]
        rng.shuffle(cs)
        per_street.append(cs)
    order = [per_street[si][r] for r in range(FULL_COMMUNITIES_PER_STREET)
             for si in range(len(streets))]
    for i, c in enumerate(order[:n_posts + n_other]):
        post = i < n_posts
        suffix, ending, kind = (FULL_POST_KINDS[i % len(FULL_POST_KINDS)] if post else
                                FULL_OTHER_KINDS[(i - n_posts) % len(FULL_OTHER_KINDS)])
        ang = rng.random() * 2 * math.pi
        r = 0.1 + rng.random() * 0.2
        lat, lon = offset(c["lat"], c["lon"], r * math.sin(ang), r * math.cos(ang))
        assert inside(lat, lon), c["id"]
        keys.append(dict(id="kp-%s-%s" % (c["id"].replace("-", ""), suffix),
                         name="%s %s %s" % (c["sname"], c["cname"], ending), kind=kind,
                         community=c["id"], lat=lat, lon=lon, post24h=post,
                         street=int(c["street"][1:]) - 1))
    return streets, communities, grids, keys


def full_build_roster(streets, communities, grids, keys):
    """Returns units, people and experts of the full-size district."""
    rng = random.Random(FULL_SEED + 1)
    units = []
    cname = {c["id"]: c["name"].replace(" Community", "") for c in communities}
    grids_of = {}
    for g in grids:
        grids_of.setdefault(g["community"], []).append(g)
    # Volunteer guards (义警): one unit per guard, spread evenly over the grids, each living
    # in a 300 m square around its grid's centre; every one trained in crowd control, about
    # 60% in first aid too. Then one micro fire station (微消防站) per community.
    per_grid, extra = divmod(FULL_GUARDS, len(grids))
    gi_all = 0
    for c in communities:
        short = c["id"].replace("-", "")
        for gi, g in enumerate(grids_of[c["id"]]):
            n = per_grid + (1 if gi_all < extra else 0)
            gi_all += 1
            for k in range(n):
                lat, lon = offset(g["lat"], g["lon"], (rng.random() - 0.5) * 0.3,
                                  (rng.random() - 0.5) * 0.3)
                skills = (["first_aid", "crowd_control"] if rng.random() < 0.6
                          else ["crowd_control"])
                units.append(unit("vg-%s-g%d-%d" % (short, gi + 1, k + 1),
                                  "%s volunteer guard G%d/%d" % (cname[c["id"]], gi + 1, k + 1),
                                  "police", "volunteer_guard", g["id"], 1, skills,
                                  latlon=(lat, lon)))
        units.append(unit("ms-%s" % short, "%s micro fire station" % cname[c["id"]],
                          "fire", "micro_fire_station", c["id"], 6,
                          ["fire_suppression", "rescue", "first_aid"]))
    # Per street: six patrols (巡逻/铁骑, every other one on motorcycles), three traffic
    # police teams, three city management teams, a fire station with two engines (the
    # second with a ladder), an ambulance.
    for s in streets:
        sid = s["id"]
        for k in range(6):
            units.append(unit("patrol-%s-%d" % (sid, k + 1), "%s patrol %d" % (s["name"], k + 1),
                              "police", "patrol", sid, 2,
                              ["motorcycle"] if k % 2 == 1 else ["car"]))
        for k in range(3):
            units.append(unit("traffic-%s-%d" % (sid, k + 1),
                              "%s traffic police %d" % (s["name"], k + 1), "traffic",
                              "traffic_patrol", sid, 3, ["traffic_control"]))
        for k in range(3):
            units.append(unit("cm-%s-%d" % (sid, k + 1),
                              "%s city management team %d" % (s["name"], k + 1), "citymgmt",
                              "city_management_team", sid, 5, ["cordon", "street_order"]))
        label = s["name"][:-len(" Street")]
        for k in range(2):
            units.append(unit("fe-%s-%d" % (sid, k + 1), "%s fire station engine %d" % (label, k + 1),
                              "fire", "fire_engine", sid, 6,
                              ["fire_suppression", "rescue", "ladder"] if k == 1
                              else ["fire_suppression", "rescue"]))
        units.append(unit("amb-%s" % sid, "%s ambulance" % s["name"], "health", "ambulance",
                          sid, 3, ["ems"]))
    # 24-hour posts at the 92 key places (囤警点); armed police (武警) at the sample's four
    # and at eight new stations and malls, one street after another.
    for k in keys:
        if k["post24h"]:
            units.append(unit("post-%s" % k["id"][3:], "%s 24h post" % k["name"], "police",
                              "post_24h", k["id"], 4, ["crowd_control", "first_aid"]))
    armed = ["kp-gov", "kp-stadium", "kp-dock", "kp-rail"]
    armed += [k["id"] for k in keys[12:] if k["post24h"] and k["kind"] in ("station", "mall")][:8]
    for kid in armed:
        k = next(k for k in keys if k["id"] == kid)
        lat, lon = offset(k["lat"], k["lon"], 0.15, -0.1)
        units.append(unit("armed-%s" % kid[3:], "Armed police squad at %s" % k["name"], "police",
                          "armed_police", kid, 10, ["armed_response", "crowd_control"],
                          "parked 150 m from the post", (lat, lon)))
    # Hazmat teams; ambulances at the hospitals (two at the district hospital, one at each
    # new one); engineering and rescue teams.
    for i, sid in enumerate(("s05", "s02", "s09")):
        units.append(unit("fire-hazmat" if i == 0 else "fire-hazmat-%d" % (i + 1),
                          "Hazmat response team" if i == 0 else "Hazmat response team %d" % (i + 1),
                          "fire", "hazmat_team", sid, 8, ["hazmat", "decontamination"]))
    for k in range(2):
        units.append(unit("amb-hosp-%d" % (k + 1), "Hospital ambulance %d" % (k + 1), "health",
                          "ambulance", "kp-hospital", 3, ["ems", "trauma"]))
    for k in keys[12:]:
        if k["kind"] == "hospital":
            units.append(unit("amb-%s" % k["id"][3:], "%s ambulance" % k["name"], "health",
                              "ambulance", k["id"], 3, ["ems", "trauma"]))
    for i, s in enumerate(streets[1:]):
        units.append(unit("tr-eng-%d" % (i + 1), "Road and slope engineering team %d" % (i + 1),
                          "transport", "engineering_team", s["id"], 8,
                          ["road_repair", "slope_stabilisation", "heavy_machinery"]))
    for i, s in enumerate(streets[:-1]):
        units.append(unit("hs-eng-%d" % (i + 1), "Structural engineering team %d" % (i + 1),
                          "housing", "engineering_team", s["id"], 6,
                          ["structural_assessment", "shoring"]))
    for i, station in enumerate(("kp-gov", "kp-stadium", "s02", "s06", "s08", "s10")):
        units.append(unit("em-rescue-%d" % (i + 1), "Emergency rescue team %d" % (i + 1),
                          "emergency", "rescue_team", station, 12,
                          ["rescue", "flood", "first_aid", "heavy_machinery"]))

    # People: each department's duty commander and coordinator (the sample's), a police
    # station chief per street (the sample's), a street coordinator per department and street,
    # and the team leaders of every street's c01 micro fire station and first engine.
    people = []
    ranks = {"commander": "deputy director", "coordinator": "section chief"}
    for did, dname, _ in DEPARTMENTS:
        for role in ("commander", "coordinator"):
            people.append(dict(id="%s-%s" % (did, role), name="%s duty %s" % (
                dname.split(" (")[0], role), department=did, role=role, rank=ranks[role],
                unit=None, skills=["command"] if role == "commander" else ["coordination"]))
    for s in streets:
        people.append(dict(id="police-chief-%s" % s["id"], name="%s police station chief" % s["name"],
                           department="police", role="commander", rank="station chief", unit=None,
                           skills=["command"]))
        for did, dname, _ in DEPARTMENTS:
            people.append(dict(id="%s-coordinator-%s" % (did, s["id"]),
                               name="%s coordinator for %s" % (dname.split(" (")[0], s["name"]),
                               department=did, role="coordinator", rank="team leader",
                               unit=None, skills=["coordination"]))
    for u in units:
        if u["kind"] in ("micro_fire_station", "fire_engine") and u["id"].endswith(("c01", "-1")):
            people.append(dict(id="lead-%s" % u["id"], name="Team leader of %s" % u["name"],
                               department=u["department"], role="responder", rank="team leader",
                               unit=u["id"], skills=["fire_suppression", "command"]))

    # Experts: three per field of the sample's department experts, and three local experts
    # (土专家) per street, of different fields.
    experts = []
    for xid, name, dept, field in (
            ("fire", "Senior fire engineer", "fire", "fire"),
            ("hazmat", "Chemical hazards specialist", "emergency", "hazmat"),
            ("struct", "Chief structural engineer", "housing", "structural"),
            ("geo", "Slope and geotechnical engineer", "transport", "geotechnical"),
            ("trauma", "Trauma surgeon on call", "health", "trauma"),
            ("crowd", "Crowd safety adviser", "police", "crowd")):
        for k in range(3):
            experts.append(dict(id="x-%s-%d" % (xid, k + 1),
                                name=name if k == 0 else "%s %d" % (name, k + 1),
                                department=dept, field=field))
    fields = ["flood", "old_buildings", "urban_village", "canal", "slopes"]
    for i, s in enumerate(streets):
        for k in range(3):
            experts.append(dict(id="x-local-%s" % s["id"] if k == 0 else
                                "x-local-%s-%d" % (s["id"], k + 1),
                                name="%s local expert" % s["name"] if k == 0 else
                                "%s local expert %d" % (s["name"], k + 1),
                                department="emergency", field=fields[(i + k) % len(fields)],
                                street=s["id"]))
    return units, people, experts


def write_full(outdir):
    """Writes the full-size district's district.conf, roster.conf, plans.conf (the sample's)
    and musterd.conf (the sample's with a larger max_frame) into OUTDIR."""
    streets, communities, grids, keys = full_build_places()
    units, people, experts = full_build_roster(streets, communities, grids, keys)
    os.makedirs(outdir, exist_ok=True)
    write_district(streets, communities, grids, keys, os.path.join(outdir, "district.conf"), [
        "# district.conf: the places of the full-size \"G district\" (libconfig syntax).",
        "# Written by scenarios/sample/generate.py --full; a superset of the sample's places:",
        "# the sample's streets, communities, grids and key places keep their ids and positions."],
                   "four per community here")
    write_roster(units, people, experts, os.path.join(outdir, "roster.conf"), [
        "# roster.conf: departments, units, people and experts of the full-size district",
        "# (libconfig syntax). Written by scenarios/sample/generate.py --full; the departments",
        "# and agents are the sample's. See docs/configuration.md."])
    shutil.copyfile(os.path.join(HERE, "plans.conf"), os.path.join(outdir, "plans.conf"))
    # musterd.conf is the sample's but for max_frame: the police agent registers and reports
    # 100,164 units, messages of megabytes; at the sample's 64 KiB it is cut off again and again.
    with open(os.path.join(HERE, "musterd.conf"), encoding="utf-8") as f:
        text = f.read()
    old = "max_frame = 65536;                # bytes; a larger frame disconnects the peer\n"
    assert old in text, "the sample's musterd.conf changed: update write_full"
    text = text.replace(old, "# Full-size district: an agent's Register and heartbeats carry "
                        "up to 100,164 units.\n"
                        "max_frame = 16777216;             # bytes; a larger frame disconnects "
                        "the peer\n")
    with open(os.path.join(outdir, "musterd.conf"), "w", encoding="utf-8") as f:
        f.write(text)
    kinds = {}
    for u in units:
        kinds[u["kind"]] = kinds.get(u["kind"], 0) + 1
    print("%s: %d streets, %d communities, %d grids, %d key places (%d with 24h posts); "
          "%d units, %d people, %d experts" % (
              outdir, len(streets), len(communities), len(grids), len(keys),
              sum(1 for k in keys if k["post24h"]), len(units), len(people), len(experts)))
    print("units by kind: " + ", ".join("%s %d" % kv for kv in sorted(kinds.items())))


def main():
    """Builds the district and the roster and writes both files; with --full OUTDIR, writes
    the full-size district's configuration directory instead."""
    ap = argparse.ArgumentParser(description="Writes the sample district (beside this script) "
                                 "or, with --full, a full-size district.")
    ap.add_argument("--full", metavar="OUTDIR",
                    help="write the full-size district's district.conf, roster.conf, "
                    "plans.conf and musterd.conf into OUTDIR (created if needed)")
    args = ap.parse_args()
    if args.full:
        write_full(args.full)
        return
    rng = random.Random(20240601)
    streets, communities, grids, keys = build_places(rng)
    units, people, experts = build_roster(rng, streets, communities, grids, keys)
    write_district(streets, communities, grids, keys)
    write_roster(units, people, experts)
    print("%d streets, %d communities, %d grids, %d key places; %d units, %d people, %d experts"
          % (len(streets), len(communities), len(grids), len(keys), len(units), len(people),
             len(experts)))


if __name__ == "__main__":
    main()
