#!/usr/bin/env python3
"""Check analysis/aggregate.py on the fixtures of make_fixtures.py against numbers computed by
hand from the fixture tables (tolerance 1e-9 on fractions).

`check_aggregate.py AGGREGATE_PY FIXTURES WORK` exits 0 when every check passes.

Hand computations (WA fold means per seed, seeds 1, 2, 3; std with n - 1):
  hardy at   0.72 0.76 0.80 -> 0.76 ± 0.04      uniform at 0.69 0.72 0.75 -> 0.72 ± 0.03
  self at    0.70 0.73 0.73 -> 0.72 ± sqrt(3e-4)
  hardy tv   0.60 0.62 0.67 -> 0.63 ± sqrt(13e-4) uniform tv 0.61 0.62 0.63 -> 0.62 ± 0.01
  self tv    0.62 0.62 0.65 -> 0.63 ± sqrt(3e-4)
  average of (at, tv) per seed: hardy 0.66 0.69 0.735 -> 0.695 ± sqrt(14.25e-4);
    uniform 0.65 0.67 0.69 -> 0.67 ± 0.02; self 0.66 0.675 0.69 -> 0.675 ± 0.015
  paired hardy - uniform: at 0.03 0.04 0.05 -> 0.04 ± 0.01 (+3); tv -0.01 0 0.04 -> 0.01 ±
    sqrt(7e-4) (+1 -1 =1); average 0.01 0.02 0.045 -> 0.025 ± sqrt(3.25e-4) (+3)
  paired self - uniform: at 0.01 0.01 -0.02 -> 0 ± sqrt(3e-4) (+2 -1); tv 0.01 0 0.02 -> 0.01
    ± 0.01 (+2 =1)
  rate sweep (seeds 1, 2): hardy 0.10 -> 0.75 ± sqrt(2e-4); 0.30 -> 0.70 ± 0; 0.50 -> 0.63 ±
    sqrt(18e-4); uniform 0.30 -> 0.67 ± sqrt(2e-4); paired 0.30: 0.04 0.02 -> 0.03 ±
    sqrt(2e-4); mean of rates: hardy 0.68 0.70667 -> 0.69333 ± (0.08/3)/sqrt(2), uniform
    0.65667 0.67 -> 0.66333 ± (0.04/3)/sqrt(2), paired 0.02333 0.03667 -> 0.03 ± (0.04/3)/sqrt(2)
  hard tercile (at, WA - 0.20): hardy 0.56 ± 0.04, uniform 0.52 ± 0.03; easy (WA + 0.10):
    hardy 0.86 ± 0.04
  sigmoid (at, seeds 1-2): 0.74 0.74 -> 0.74 ± 0; minus uniform 0.69 0.72: 0.05 0.02 -> 0.035 ±
    0.03/sqrt(2)
  regression MAE (rate 0.3): uniform 0.60 0.64 -> 0.62 ± sqrt(8e-4); hardy - uniform -0.02 -0.04 ->
    -0.03 ± sqrt(2e-4), 2 of 2 better (lower)
"""

import csv
import json
import math
import os
import sys

from checklib import check, finish, near, run


def find(items, **keys):
    found = [i for i in items if all(i.get(k) == v for k, v in keys.items())]
    if len(found) != 1:
        check(False, "exactly one entry with %s (found %d)" % (keys, len(found)))
        return None
    return found[0]


def expect_cell(doc, group, cond, mean, std, n, metric="wa", section="cells", **extra):
    c = find(doc[section], group=group, condition=cond, metric=metric, **extra)
    if c is None:
        return
    label = " ".join([section, group, cond, metric] + list(extra.values()))
    near(c["mean"], mean, label + " mean")
    near(c["std"], std, label + " std")
    check(c["n"] == n, "%s n = %d (expected %d)" % (label, c["n"], n))


def expect_pair(doc, group, cond, mean, std, n, signs, metric="wa"):
    p = find(doc["paired"], group=group, condition=cond, metric=metric)
    if p is None:
        return
    label = "paired %s %s %s" % (group, cond, metric)
    near(p["mean"], mean, label + " mean")
    near(p["std"], std, label + " std")
    got = (p["n"], p["positive"], p["negative"], p["ties"])
    check(got == (n,) + signs, "%s (n, +, -, =) = %s (expected %s)" % (label, got, (n,) + signs))


def check_study(aggregate, fx, work):
    out = os.path.join(work, "study.json")
    rc, text, err = run(aggregate, os.path.join(fx, "study"), os.path.join(fx, "sweep"),
                        "--json", out, "--csv", os.path.join(work, "study.csv"))
    check(rc == 0, "study + sweep aggregate exits 0 (got %d; stderr %s)" % (rc, err.strip()))
    doc = json.load(open(out))
    check(doc["metric"] == "wa", "headline metric of a classification dataset is wa")
    check([g["group"] for g in doc["groups"]] == ["hardy", "self-control", "uniform"],
          "columns hardy, self-control, uniform")
    check(doc["conditions"] == ["at", "tv", "rate0.10", "rate0.30", "rate0.50"],
          "rows: fixed conditions in canonical order, then rates ascending")
    s3, s13, s1425 = math.sqrt(3e-4), math.sqrt(13e-4), math.sqrt(14.25e-4)
    expect_cell(doc, "hardy", "at", 0.76, 0.04, 3)
    expect_cell(doc, "uniform", "at", 0.72, 0.03, 3)
    expect_cell(doc, "self-control", "at", 0.72, s3, 3)
    expect_cell(doc, "hardy", "tv", 0.63, s13, 3)
    expect_cell(doc, "uniform", "tv", 0.62, 0.01, 3)
    expect_cell(doc, "self-control", "tv", 0.63, s3, 3)
    expect_cell(doc, "hardy", "average", 0.695, s1425, 3)
    expect_cell(doc, "uniform", "average", 0.67, 0.02, 3)
    expect_cell(doc, "self-control", "average", 0.675, 0.015, 3)
    expect_cell(doc, "hardy", "at", 0.75, 0.04, 3, metric="ua")
    expect_cell(doc, "hardy", "rate0.10", 0.75, math.sqrt(2e-4), 2)
    expect_cell(doc, "hardy", "rate0.30", 0.70, 0.0, 2)
    expect_cell(doc, "hardy", "rate0.50", 0.63, math.sqrt(18e-4), 2)
    expect_cell(doc, "uniform", "rate0.30", 0.67, math.sqrt(2e-4), 2)
    expect_cell(doc, "hardy", "average_rate", 2.08 / 3, 0.08 / 3 / math.sqrt(2), 2)
    expect_cell(doc, "uniform", "average_rate", 1.99 / 3, 0.04 / 3 / math.sqrt(2), 2)
    expect_cell(doc, "self-control", "rate0.30", None, None, 0)  # no such runs: empty cell
    check(doc["averages"] == {"average": ["at", "tv"],
                              "average_rate": ["rate0.10", "rate0.30", "rate0.50"]},
          "averages over the two fixed conditions and over the three rates")
    expect_pair(doc, "hardy", "at", 0.04, 0.01, 3, (3, 0, 0))
    expect_pair(doc, "hardy", "tv", 0.01, math.sqrt(7e-4), 3, (1, 1, 1))
    expect_pair(doc, "hardy", "average", 0.025, math.sqrt(3.25e-4), 3, (3, 0, 0))
    expect_pair(doc, "hardy", "rate0.30", 0.03, math.sqrt(2e-4), 2, (2, 0, 0))
    expect_pair(doc, "hardy", "average_rate", 0.03, 0.04 / 3 / math.sqrt(2), 2, (2, 0, 0))
    expect_pair(doc, "self-control", "at", 0.0, s3, 3, (2, 1, 0))
    expect_pair(doc, "self-control", "tv", 0.01, 0.01, 3, (2, 0, 1))
    p = find(doc["paired"], group="hardy", condition="at", metric="wa")
    near(p["sign_test_p"], 0.25, "sign test p of 3 wins out of 3")
    check(p["baseline"] == "uniform", "paired differences subtract the uniform column")
    expect_cell(doc, "hardy", "at", 0.56, 0.04, 3, section="by_hardness", tercile="hard")
    expect_cell(doc, "uniform", "at", 0.52, 0.03, 3, section="by_hardness", tercile="hard")
    expect_cell(doc, "hardy", "at", 0.86, 0.04, 3, section="by_hardness", tercile="easy")
    check(not [c for c in doc["by_hardness"] if c["group"] == "self-control"],
          "no tercile cells for runs without test_by_hardness")
    check(not [c for c in doc["by_hardness"] if c["condition"] == "average"],
          "no tercile average when a condition lacks terciles")
    check(any("seed 5 has folds 1 of 1,2" in n for n in doc["notes"]),
          "a seed with fold 2 missing is noted (and left out: self-control at stays n = 3)")
    hardy = find(doc["groups"], group="hardy")
    near(hardy["retrieval"]["label_agreement_top1"], 0.6, "neighbour label agreement top-1")
    dirs = ["/".join(m["dir"].split(os.sep)[-2:]) for m in doc["missing"]]
    check(dirs == ["study/hardy_s4", "study/uniform_s4"],
          "the killed and the failed run are listed as missing (%s)" % dirs)
    check(doc["missing"][0]["last"] == "stage1 at/fold1 epoch 3",
          "the missing run's last logged epoch (a cut-off last line is skipped)")
    check(doc["missing"][0]["state"] is None and "out of memory on rank 2" in
          doc["missing"][1]["state"], "status.json's error is reported for the failed run")
    check("missing: 2 run directories without results.json" in text and "hardy_s4" in text
          and "uniform_s4" in text, "the text report lists the missing runs")
    check("76.00 ± 4.00 (3)" in text and "+4.00 ± 1.00 (3)" in text,
          "the text table shows WA in percent with std and n")
    rows = list(csv.DictReader(open(os.path.join(work, "study.csv"))))
    r = [x for x in rows if (x["section"], x["group"], x["condition"], x["metric"]) ==
         ("cell", "hardy", "at", "wa")]
    check(len(r) == 1, "one CSV row for the hardy / at / wa cell")
    if r:
        near(float(r[0]["mean"]), 0.76, "CSV mean")
        near(float(r[0]["std"]), 0.04, "CSV std")
        check(r[0]["seeds"] == "1 2 3", "CSV seeds")
    missing = [x for x in rows if x["section"] == "missing"]
    check(len(missing) == 2 and missing[1]["dir"].endswith("uniform_s4") and
          missing[1]["seeds"] == "4" and "out of memory" in missing[1]["state"],
          "CSV lists the missing runs with directory, seed and status")
    rc, _, _ = run(aggregate, os.path.join(fx, "study"), os.path.join(fx, "study", "hardy_s1"),
                   "--json", os.path.join(work, "overlap.json"))
    check(rc == 0 and json.load(open(os.path.join(work, "overlap.json")))["groups"][0]["runs"] == 3,
          "a directory passed twice (directly and inside its parent) counts once")
    rc, _, _ = run(aggregate, os.path.join(fx, "study"), "--strict", "--json", os.devnull)
    check(rc == 1, "--strict exits 1 when a run is missing (got %d)" % rc)


def check_group_by(aggregate, fx, work):
    dirs = [os.path.join(fx, "study"), os.path.join(fx, "sigmoid")]
    rc, _, err = run(aggregate, *dirs)
    check(rc == 2 and "curriculum.score" in err,
          "runs that differ only in curriculum.score collide without --group-by (exit 2 naming "
          "the key; got %d)" % rc)
    out = os.path.join(work, "group.json")
    rc, _, err = run(aggregate, *dirs, "--group-by", "curriculum.score", "--json", out)
    check(rc == 0, "--group-by curriculum.score exits 0 (%s)" % err.strip())
    doc = json.load(open(out))
    labels = [g["group"] for g in doc["groups"]]
    check(labels == ["hardy score=rank", "self-control score=rank", "uniform score=rank",
                     "hardy score=sigmoid"], "group-by columns %s" % labels)
    expect_cell(doc, "hardy score=sigmoid", "at", 0.74, 0.0, 2)
    expect_cell(doc, "hardy score=rank", "at", 0.76, 0.04, 3)
    expect_pair(doc, "hardy score=sigmoid", "at", 0.035, 0.03 / math.sqrt(2), 2, (2, 0, 0))
    p = find(doc["paired"], group="hardy score=sigmoid", condition="at", metric="wa")
    check(p["baseline"] == "uniform score=rank", "the only uniform column is the baseline")


def check_mixed(aggregate, fx, work):
    dirs = [os.path.join(fx, "study"), os.path.join(fx, "regression")]
    rc, text, err = run(aggregate, *dirs)
    check(rc == 2, "mixed datasets are refused with exit 2 (got %d)" % rc)
    check("data/fixture-4class.h5" in err and "data/fixture-regression.h5" in err
          and "--allow-mixed" in err,
          "the refusal names both datasets and --allow-mixed")
    check(text == "", "a refused aggregation prints no table")
    rc, _, _ = run(aggregate, *dirs, "--allow-mixed", "--json", os.devnull)
    check(rc == 0, "--allow-mixed accepts them (got %d)" % rc)
    rc, out, err = run(aggregate, os.path.join(fx, "regression"), "--json", "-")
    check(rc == 0, "regression aggregate exits 0 (%s)" % err.strip())
    doc = json.loads(out)
    check(doc["metric"] == "mae", "headline metric of a regression dataset is mae")
    expect_cell(doc, "uniform", "rate0.30", 0.62, math.sqrt(8e-4), 2, metric="mae")
    expect_pair(doc, "hardy", "rate0.30", -0.03, math.sqrt(2e-4), 2, (0, 2, 0), metric="mae")
    p = find(doc["paired"], group="hardy", condition="rate0.30", metric="mae")
    check(p["better"] == 2, "a lower MAE counts as better")


def check_errors(aggregate, fx, work):
    rc, _, err = run(aggregate, os.path.join(fx, "study"), "--metric", "bogus")
    check(rc == 2 and "available" in err, "an unknown metric exits 2 listing the available ones")
    rc, _, err = run(aggregate, os.path.join(work, "no-such-dir"))
    check(rc == 2 and "no such directory" in err, "a missing directory exits 2")
    empty = os.path.join(work, "empty")
    os.makedirs(empty, exist_ok=True)
    rc, _, err = run(aggregate, empty)
    check(rc == 2 and "no completed runs" in err, "a folder without runs exits 2")


def main():
    aggregate, fx, work = sys.argv[1:4]
    check_study(aggregate, fx, work)
    check_group_by(aggregate, fx, work)
    check_mixed(aggregate, fx, work)
    check_errors(aggregate, fx, work)
    return finish("aggregate")


if __name__ == "__main__":
    sys.exit(main())
