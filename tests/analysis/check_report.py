#!/usr/bin/env python3
"""Check report.py's Markdown against the summary it was made from.

`check_report.py REPORT_DIR RUNS`: report.md has the WA, UA and F1 tables with methods as rows
and the conditions at, tv and their mean as columns, whose cells are summary.json's means and
stds (in percent, to the printed 2 decimals), the best per column in bold; the tercile and
paired tables (hardy - uniform differences per condition); one provenance row per completed
run directory with its seed, ranks x threads and disk use equal to results.json's; and the
failed run with its status.json message.
"""

import json
import os
import re
import sys

from checklib import check, finish


def table_after(md, caption):
    """Rows (lists of cells) of the first Markdown table after the line starting caption."""
    lines = md.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith(caption)), None)
    if start is None:
        return None
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif rows:
            break
    return rows


def main():
    out, runs = sys.argv[1:3]
    md = open(os.path.join(out, "report.md"), encoding="utf-8").read()
    doc = json.load(open(os.path.join(out, "summary.json")))
    cells = {(c["group"], c["condition"], c["metric"]): c for c in doc["cells"]}
    for metric in ("wa", "ua", "f1"):
        rows = table_after(md, "**%s, missing conditions**" % metric.upper())
        check(rows is not None and rows[0] == ["method", "at", "tv", "mean (2)"],
              "%s table: methods x (at, tv, mean) header" % metric.upper())
        if rows is None:
            continue
        body = {r[0]: r[1:] for r in rows[2:]}
        check(sorted(body) == ["hardy", "uniform"], "%s table rows hardy, uniform" % metric)
        for group, values in body.items():
            for cond, text in zip(("at", "tv", "average"), values):
                c = cells[group, cond, metric]
                want = "%.2f ± %.2f" % (100 * c["mean"], 100 * c["std"])
                check(text.strip("*") == want, "%s %s %s: '%s' = summary %s"
                      % (metric, group, cond, text, want))
        for j, cond in enumerate(("at", "tv", "average")):
            means = {g: cells[g, cond, metric]["mean"] for g in body}
            best = max(means, key=means.get)
            check(body[best][j].startswith("**") and
                  not any(body[g][j].startswith("**") for g in body if g != best),
                  "%s %s: the best column (%s) in bold" % (metric, cond, best))
    rows = table_after(md, "**WA in % by test-hardness tercile**")
    check(rows is not None and len(rows) == 2 + 2 * 3, "tercile table: 2 methods x 3 terciles")
    rows = table_after(md, "**Paired WA in %**")
    paired = {p["condition"]: p for p in doc["paired"] if p["metric"] == "wa"}
    check(rows is not None and [r[1] for r in rows[2:]] == ["at", "tv", "mean (2)"],
          "paired WA table for at, tv and the mean")
    for r in (rows or [])[2:]:
        cond = {"mean (2)": "average"}.get(r[1], r[1])
        p = paired[cond]
        check(r[0] == "hardy − uniform" and
              r[2] == "%+.2f ± %.2f (%d)" % (100 * p["mean"], 100 * p["std"], p["n"]),
              "paired %s: %s" % (cond, r[2]))
    rows = table_after(md, "| run directory | method | seed")
    prov = {os.path.basename(r[0]): r for r in (rows or [])[1:] if not r[0].startswith("---")}
    check(sorted(prov) == ["false-s1", "false-s2", "true-s1", "true-s2"],
          "provenance rows for the 4 completed runs (%s)" % sorted(prov))
    for name, r in prov.items():
        res = json.load(open(os.path.join(runs, name, "results.json")))
        total = res["disk_bytes"]["total"]
        check(r[2] == str(res["seed"]) and r[5] == "%d×%d" % (res["ranks"], res["threads"]),
              "%s: seed and ranks x threads from results.json" % name)
        check(re.fullmatch(r"[0-9.]+ kB", r[8]) is not None and
              abs(float(r[8].split()[0]) * 1000 - total) <= 50,
              "%s: disk %s = results.json disk_bytes.total %d" % (name, r[8], total))
    rows = table_after(md, "1 run directory without results.json")
    check(rows is not None and len(rows) == 3 and rows[2][0].endswith("broken") and
          rows[2][5].startswith("failed (exit 2): ") and "data.fold" in rows[2][5],
          "the failed run listed with its status.json message")
    check("![" in md and "## Figures" in md, "figures section with images")
    return finish("report")


if __name__ == "__main__":
    sys.exit(main())
