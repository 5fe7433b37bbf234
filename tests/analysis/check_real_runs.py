#!/usr/bin/env python3
"""Check the analysis scripts on directories written by `hardy-hpc train`.

`check_real_runs.py ANALYSIS_DIR RUNS WORK`: aggregates RUNS (uniform and hardy, seeds 1-2,
conditions at and tv, no folds) and checks that every per-seed value equals the mean the
program stored in results.json under conditions.<c>.test (tolerance 1e-9), that the paired
differences are those values subtracted, and that the plot scripts write WORK/plots/*.png and
WORK/training.png.
"""

import glob
import json
import os
import sys

from checklib import TOL, check, finish, run


def main():
    analysis, runs, work = sys.argv[1:4]
    out = os.path.join(work, "real.json")
    rc, _, err = run(os.path.join(analysis, "aggregate.py"), runs, "--json", out)
    check(rc == 0, "aggregate.py exits 0 (%s)" % err.strip())
    doc = json.load(open(out))
    check([g["group"] for g in doc["groups"]] == ["hardy", "uniform"], "columns hardy, uniform")
    check(doc["missing"] == [], "no missing runs")
    stored = {}
    for path in glob.glob(os.path.join(runs, "*", "results.json")):
        res = json.load(open(path))
        method = "hardy" if res["curriculum"] else "uniform"
        for cond, block in res["conditions"].items():
            for metric in doc["metrics"]:
                stored[method, cond, metric, res["seed"]] = block["test"][metric]
    check(len(stored) == 2 * 2 * 2 * 3, "12 (method, condition, seed) x 3 metrics stored")
    compared = 0
    for c in doc["cells"]:
        if c["condition"] not in ("at", "tv"):
            continue
        for seed, value in zip(c["seeds"], c["values"]):
            ref = stored[c["group"], c["condition"], c["metric"], seed]
            compared += 1
            if abs(value - ref) > TOL:
                check(False, "%s %s %s seed %d: %r vs results.json %r"
                      % (c["group"], c["condition"], c["metric"], seed, value, ref))
    check(compared == 24, "all 24 per-seed values equal results.json's condition means")
    for p in doc["paired"]:
        if p["condition"] in ("at", "tv"):
            want = [stored["hardy", p["condition"], p["metric"], s] -
                    stored["uniform", p["condition"], p["metric"], s] for s in (1, 2)]
            check(p["seeds"] == [1, 2] and all(abs(a - b) <= TOL for a, b in
                                              zip(p["differences"], want)),
                  "paired %s %s = hardy - uniform per seed" % (p["condition"], p["metric"]))
    check(any(c["tercile"] == "hard" for c in doc["by_hardness"]),
          "hard-tercile cells from test_by_hardness")
    rc, _, err = run(os.path.join(analysis, "plot_results.py"), runs, "--out",
                     os.path.join(work, "plots"))
    check(rc == 0, "plot_results.py exits 0 (%s)" % err.strip())
    one = sorted(glob.glob(os.path.join(runs, "true-s1")))[0]
    tj = os.path.join(work, "training.json")
    rc, _, err = run(os.path.join(analysis, "plot_training.py"), one, "--out",
                     os.path.join(work, "training.png"), "--json", tj)
    check(rc == 0, "plot_training.py exits 0 (%s)" % err.strip())
    t = json.load(open(tj))
    check(sorted(t["series"]) == ["at", "tv"], "training series for runs at and tv")
    check(len(t["series"]["at"].get("stage2", [])) == 2 and
          all("wa" in x["validation"] for x in t["series"]["at"]["stage2"]),
          "two stage-2 epochs with validation WA")
    check(set(t["selected_epochs"]) == {"at", "tv"}, "selected epochs matched to the runs")
    return finish("real-run")


if __name__ == "__main__":
    sys.exit(main())
