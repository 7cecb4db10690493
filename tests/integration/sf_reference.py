"""An independent computation of the response-circle figures of docs/metrics.md, straight from a
CAD CSV export with nothing but Python's csv and datetime modules: no database, no muster code.
test_report.py compares `muster report --json` with it.

The rules (docs/metrics.md, "Missing and inconsistent times"), written out again here:
- a call is every row with its call number, wherever the rows are in the file; its received
  (and entered) time is the earliest non-empty one among its rows;
- a row with a unit is one response; empty cells are missing times;
- a segment has a value only when both of its times exist; a negative value (times out of
  order in the source) is counted as "negative" and left out of the percentiles;
- processing ends at the call's earliest dispatch; response ends at its earliest on-scene
  time (a unit with no on-scene time does not count); a call with no on-scene time at all
  is counted in "no arrival";
- percentiles are nearest-rank: the value at rank ceil(p * n / 100) of the sorted values;
- "within the circle" counts calls whose response value is 0..circle seconds, out of the
  calls with a response value;
- a miss (no ring deadlines in an export) is a call whose first arrival is later than the
  circle, or that nobody reached; a zone (the call's Box, the first non-empty one) is judged
  over its calls with an arrival or with none at all.

Run it by hand: python3 sf_reference.py FILE.csv
"""
import csv
import datetime

SF_COLUMNS = {
    "call_id": "Call Number",
    "unit": "Unit ID",
    "received": "Received DtTm",
    "entered": "Entry DtTm",
    "ordered": "Dispatch DtTm",
    "en_route": "Response DtTm",
    "on_scene": "On Scene DtTm",
    "grid": "Box",
}
SF_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
SEGMENTS = ("intake", "processing", "receipt", "turnout", "travel", "response")


def nearest_rank(values, p):
    """The p-th percentile by nearest rank of VALUES (sorted): rank ceil(p*n/100), 1-based."""
    n = len(values)
    rank = (p * n + 99) // 100
    return values[max(rank, 1) - 1]


def reference(path, columns=SF_COLUMNS, time_format=SF_TIME_FORMAT, delimiter=",",
              circle_s=300):
    """Returns {segment: {n, no_value, negative, p50_s, p90_s, p95_s}} plus 'within' figures,
    computed from the CSV file PATH. Times are naive local wall times, as in the export;
    values are whole milliseconds (a fraction of a second, where given, is cut to ms)."""

    def when(row, field):
        name = columns.get(field)
        text = (row.get(name) or "").strip() if name else ""
        return datetime.datetime.strptime(text, time_format) if text else None

    calls = {}  # call number -> {"received", "entered", "responses": [...]}, in file order
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f, delimiter=delimiter):
            cid = row[columns["call_id"]].strip()
            call = calls.setdefault(cid, {"received": None, "entered": None, "responses": [],
                                          "grid": None})
            grid = (row.get(columns.get("grid", ""), "") or "").strip()
            if call["grid"] is None and grid:
                call["grid"] = grid  # the first non-empty value in file order
            for field in ("received", "entered"):
                t = when(row, field)
                if t is not None and (call[field] is None or t < call[field]):
                    call[field] = t
            if row[columns["unit"]].strip():
                call["responses"].append({k: when(row, k) for k in
                                          ("ordered", "receipt", "en_route", "on_scene")})

    values = {s: [] for s in SEGMENTS}
    no_value = {s: 0 for s in SEGMENTS}
    negative = {s: 0 for s in SEGMENTS}

    def add(seg, start, end):
        if start is None or end is None:
            no_value[seg] += 1
            return
        delta = end - start
        ms = delta.days * 86400000 + delta.seconds * 1000 + delta.microseconds // 1000
        if ms < 0:
            negative[seg] += 1
        else:
            values[seg].append(ms)

    no_arrival = 0
    within = 0
    misses = 0  # no ring deadlines in an export: a call misses the circle, or nobody came
    zones = {}  # grid -> [within, judged (an arrival, or none at all)]
    for call in calls.values():
        received = call["received"]
        add("intake", received, call["entered"])
        orders = [r["ordered"] for r in call["responses"] if r["ordered"] is not None]
        arrivals = [r["on_scene"] for r in call["responses"] if r["on_scene"] is not None]
        add("processing", received, min(orders) if orders else None)
        for r in call["responses"]:
            add("receipt", r["ordered"], r["receipt"])
            add("turnout", r["ordered"], r["en_route"])
            add("travel", r["en_route"], r["on_scene"])
        first = min(arrivals) if arrivals else None
        add("response", received, first)
        zone = zones.setdefault(call["grid"] or "(none)", [0, 0])
        if first is None:
            no_arrival += 1
            misses += 1
            zone[1] += 1
        elif received is not None and first >= received:
            zone[1] += 1
            if first - received <= datetime.timedelta(seconds=circle_s):
                within += 1
                zone[0] += 1
            else:
                misses += 1

    out = {"calls": len(calls)}
    for s in SEGMENTS:
        v = sorted(values[s])
        out[s] = {"n": len(v), "no_value": no_value[s], "negative": negative[s]}
        for p in (50, 90, 95):
            out[s][f"p{p}_s"] = nearest_rank(v, p) / 1000 if v else None
    n = out["response"]["n"]
    out["within"] = {"calls": n, "within": within, "no_arrival": no_arrival,
                     "share": within / n if n else None}
    out["misses"] = misses
    out["zones"] = {k: {"within": w, "judged": j} for k, (w, j) in zones.items()}
    return out


if __name__ == "__main__":
    import sys
    r = reference(sys.argv[1])
    print(f"calls {r['calls']}")
    for s in SEGMENTS:
        print(f"{s:11} {r[s]}")
    print(f"within {r['within']}")
