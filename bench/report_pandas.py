"""report_pandas: the baseline of bench_report. The total of `muster report DB --json` (the
whole selection: live calls only, exercise calls left out), computed the way an analyst would
with pandas: read the two tables with pandas.read_sql, then vectorised column arithmetic and
groupby. No muster code, no Python loops over rows.

The rules are those of docs/metrics.md (and tests/integration/sf_reference.py):
- intake, processing (received -> the call's first order), response (received -> the call's
  first on-scene time) per call; receipt, turnout, travel per response;
- a value only when both its times exist (else "no value"); a negative value is counted in
  "negative" and left out of the percentiles;
- percentiles are nearest-rank on the raw values: rank ceil(p * n / 100), 1-based;
- first on scene within the circle (300 s): 0 <= response <= 300 s; calls with no on-scene time
  at all are "no arrival";
- ring compliance per responder class, for each call and class with a ring deadline: the
  class's first arrival within ring_s of the call's receipt.

Prints JSON in the shape of muster's `total` (plus `filters`), and its own phases on stderr.
Usage: python3 report_pandas.py DB
"""
import json
import sqlite3
import sys
import time

import numpy as np
import pandas as pd

CIRCLE_MS = 300_000
SEGMENTS = ("intake", "processing", "receipt", "turnout", "travel", "response")


def nearest_rank(v, p):
    """The p-th percentile by nearest rank of the sorted array V: rank ceil(p*n/100)."""
    rank = (p * len(v) + 99) // 100
    return int(v[max(rank, 1) - 1])


def segment(start, end, per):
    """The figures of one segment from two aligned float columns of ms (NaN: missing)."""
    both = start.notna() & end.notna()
    d = (end[both] - start[both]).to_numpy()
    v = np.sort(d[d >= 0]).astype(np.int64)
    out = {"per": per, "n": int(len(v)), "no_value": int((~both).sum()),
           "negative": int((d < 0).sum())}
    for p in (50, 90, 95):
        out[f"p{p}_s"] = nearest_rank(v, p) / 1000 if len(v) else None
    return out


def report(path):
    t0 = time.monotonic()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    left_out = con.execute("SELECT count(*) FROM calls WHERE exercise != 0").fetchone()[0]
    calls = pd.read_sql("SELECT id, received_ms, entered_ms FROM calls WHERE exercise = 0",
                        con)
    resp = pd.read_sql("SELECT call_id, kind, ordered_ms, received_ms AS receipt_ms,"
                       " en_route_ms, on_scene_ms, ring_s FROM responses", con)
    con.close()
    t1 = time.monotonic()

    # Every time as float64 ms (NaN for NULL; ms since the epoch are exact in a double).
    for df, cols in ((calls, ("received_ms", "entered_ms")),
                     (resp, ("ordered_ms", "receipt_ms", "en_route_ms", "on_scene_ms",
                             "ring_s"))):
        for c in cols:
            df[c] = df[c].astype("float64")
    # The responses of the selected calls, each with its call's position.
    pos = pd.Index(calls["id"]).get_indexer(resp["call_id"])
    resp = resp[pos >= 0].assign(call=pos[pos >= 0])
    received = calls["received_ms"]

    first = (resp.groupby("call")[["ordered_ms", "on_scene_ms"]].min()
             .reindex(pd.RangeIndex(len(calls))))
    first_order, first_scene = first["ordered_ms"], first["on_scene_ms"]
    segs = {
        "intake": segment(received, calls["entered_ms"], "call"),
        "processing": segment(received, first_order, "call"),
        "receipt": segment(resp["ordered_ms"], resp["receipt_ms"], "response"),
        "turnout": segment(resp["ordered_ms"], resp["en_route_ms"], "response"),
        "travel": segment(resp["en_route_ms"], resp["on_scene_ms"], "response"),
        "response": segment(received, first_scene, "call"),
    }
    r = first_scene - received
    within = int(((r >= 0) & (r <= CIRCLE_MS)).sum())
    n_resp = segs["response"]["n"]

    # Rings: per call and class (a missing class is "(none)") with a ring deadline, the class's
    # first arrival against the smallest ring among its responses.
    per = (resp.assign(kind=resp["kind"].fillna("(none)"))
           .groupby(["call", "kind"], sort=False)
           .agg(ring=("ring_s", "min"), arrive=("on_scene_ms", "min")))
    per = per[per["ring"].notna()].reset_index()
    d = per["arrive"].to_numpy() - received.to_numpy()[per["call"].to_numpy()]
    per["no_arrival"] = np.isnan(d)
    per["negative"] = d < 0
    per["met"] = (d >= 0) & (d <= per["ring"].to_numpy() * 1000)
    per["pairs"] = 1
    rings = []
    for kind, row in per.groupby("kind")[["pairs", "met", "no_arrival", "negative"]].sum() \
            .sort_index().iterrows():  # one row per class: a handful
        calls_with = int(row["pairs"] - row["no_arrival"] - row["negative"])
        rings.append({"kind": kind, "calls": calls_with, "met": int(row["met"]),
                      "share": int(row["met"]) / calls_with if calls_with else None,
                      "no_arrival": int(row["no_arrival"]), "negative": int(row["negative"])})
    t2 = time.monotonic()

    total = {
        "key": "all",
        "calls": int(len(calls)),
        "responses": int(len(resp)),
        "segments": {s: segs[s] for s in SEGMENTS},
        "first_on_scene_within_circle": {
            "circle_s": CIRCLE_MS / 1000, "calls": n_resp, "within": within,
            "share": within / n_resp if n_resp else None,
            "no_arrival": int(first_scene.isna().sum()),
            "share_of_all_calls": within / len(calls) if len(calls) else None,
        },
        "rings": rings,
    }
    print(f"report_pandas: read_sql {t1 - t0:.2f} s, aggregation {t2 - t1:.2f} s",
          file=sys.stderr)
    return {"database": path,
            "filters": {"include_exercise": False, "exercise_calls_left_out": left_out},
            "by": None, "total": total, "groups": []}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: report_pandas.py DB")
    json.dump(report(sys.argv[1]), sys.stdout, indent=2)
    sys.stdout.write("\n")
