#!/usr/bin/env python3
"""Plot aggregated hardy-hpc results as PNG files.

`plot_results.py DIR [DIR ...] --out PLOTDIR` aggregates the runs under DIR the way
aggregate.py does (same --metric, --group-by, --allow-mixed options), or reads a summary
written by `aggregate.py --json` (`--from-json FILE`), and writes into PLOTDIR:

  rate.png        the headline metric against the missing rate, one line per column, error
                  bars = std over seeds (when the runs hold rate conditions such as rate0.30);
  conditions.png  grouped bars per fixed condition and their mean, one bar per column;
  hardness.png    easy / medium / hard test terciles per column (for --condition, default the
                  mean over conditions when every condition has terciles, else the first one).

Each plot is written only when the summary has the data for it; no plot at all is an input
error (exit 2). Fractions (WA, UA, F1, ACC2) are shown in percent. Uses matplotlib's Agg
backend: no display needed.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardy_deps  # noqa: E402  (the install hint before the imports it guards)

hardy_deps.need("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)

import aggregate  # noqa: E402



def colours_of(doc):
    """One colour per column, the same in every plot of a summary."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {g["group"]: cycle[i % len(cycle)] for i, g in enumerate(doc["groups"])}


def legend_label(group, cells):
    """'hardy (n=3)': the seed counts behind a column's points or bars."""
    counts = sorted({c["n"] for c in cells})
    return "%s (n=%s)" % (group, "/".join(map(str, counts)))


def save(fig, path):
    """Write fig to path atomically (a plot under its real name is always complete)."""
    tmp = path + ".tmp"
    fig.savefig(tmp, format="png", dpi=fig.dpi)
    plt.close(fig)
    os.replace(tmp, path)
    print("wrote %s" % path)


def cell_index(items, metric):
    return {(c["group"], c["condition"], c.get("tercile")): c for c in items
            if c["metric"] == metric and c["n"] > 0}


def axis_label(metric):
    return aggregate.unit_note(metric)


def title_of(doc, what):
    return "%s: %s (%s split), mean ± std over seeds" % (
        ", ".join(os.path.basename(d) for d in doc["datasets"]), what, doc["split"])


def plot_rate(doc, metric, path):
    cells = cell_index(doc["cells"], metric)
    rates = [c for c in doc["conditions"] if aggregate.condition_rate(c) is not None]
    groups = [g["group"] for g in doc["groups"]]
    if len(rates) < 1 or not any((g, r, None) in cells for g in groups for r in rates):
        return False
    k = aggregate.scale(metric)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    span = max(aggregate.condition_rate(r) for r in rates) - min(
        aggregate.condition_rate(r) for r in rates)
    # Spread the columns a little along x so their error bars do not hide each other.
    shift = 0.008 * (span or 1.0)
    for i, g in enumerate(groups):
        pts = [(aggregate.condition_rate(r), cells[g, r, None]) for r in rates
               if (g, r, None) in cells]
        if not pts:
            continue
        x = [p[0] + (i - (len(groups) - 1) / 2) * shift for p in pts]
        y = [p[1]["mean"] * k for p in pts]
        err = [(p[1]["std"] or 0.0) * k for p in pts]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, color=colours_of(doc)[g],
                    label=legend_label(g, [p[1] for p in pts]))
    ax.set_xlabel("missing rate")
    ax.set_ylabel(axis_label(metric))
    ax.set_title(title_of(doc, "%s vs missing rate" % metric.upper()), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)
    return True


def grouped_bars(ax, doc, metric, labels, groups, cell_of):
    """Bars for each label, one per group, error bars = std; cell_of(group, label) -> cell or
    None. Returns the bar heights drawn."""
    width = 0.8 / max(1, len(groups))
    k = aggregate.scale(metric)
    colours = colours_of(doc)
    heights = []
    for i, g in enumerate(groups):
        xs, ys, errs, cells = [], [], [], []
        for j, lab in enumerate(labels):
            c = cell_of(g, lab)
            if c is not None:
                xs.append(j + (i - (len(groups) - 1) / 2) * width)
                ys.append(c["mean"] * k)
                errs.append((c["std"] or 0.0) * k)
                cells.append(c)
        ax.bar(xs, ys, width * 0.95, yerr=errs, capsize=2, color=colours[g],
               label=legend_label(g, cells))
        heights += ys
    ax.set_xticks(range(len(labels)))
    ax.grid(axis="y", alpha=0.3)
    return heights


def zoom(ax, values):
    """Start the y axis near the data (accuracies cluster far from zero)."""
    lo, hi = min(values), max(values)
    pad = max(0.15 * (hi - lo), 0.02 * abs(hi) or 1.0)
    ax.set_ylim(max(0.0, lo - 3 * pad), hi + 2 * pad)


def plot_conditions(doc, metric, path):
    cells = cell_index(doc["cells"], metric)
    fixed = [c for c in doc["conditions"] if aggregate.condition_rate(c) is None]
    labels = fixed + (["average"] if "average" in doc["averages"] else [])
    groups = [g["group"] for g in doc["groups"]]
    if not any((g, c, None) in cells for g in groups for c in labels):
        return False
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels) + 2.5), 4.2), dpi=100)
    heights = grouped_bars(ax, doc, metric, labels, groups,
                           lambda g, lab: cells.get((g, lab, None)))
    ax.set_xticklabels(["mean" if c == "average" else c for c in labels])
    zoom(ax, heights)
    ax.set_xlabel("available modalities (a audio, t text, v visual)")
    ax.set_ylabel(axis_label(metric))
    ax.set_title(title_of(doc, "%s per condition" % metric.upper()), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)
    return True


def plot_hardness(doc, metric, path, condition=None):
    cells = cell_index(doc["by_hardness"], metric)
    have = aggregate.sort_conditions({c for (_, c, _) in cells if c not in doc["averages"]})
    have += [c for c in doc["averages"] if any(key[1] == c for key in cells)]
    if not have:
        return False
    if condition is None:
        condition = "average" if "average" in have else have[0]
    elif condition not in have:
        raise aggregate.InputError("--condition %s: no tercile results for it (have: %s)"
                                   % (condition, ", ".join(have)))
    groups = [g["group"] for g in doc["groups"] if any((g["group"], condition, t) in cells
                                                       for t in aggregate.TERCILES)]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    heights = grouped_bars(ax, doc, metric, list(aggregate.TERCILES), groups,
                           lambda g, t: cells.get((g, condition, t)))
    ax.set_xticklabels(["easy third", "medium third", "hard third"])
    zoom(ax, heights)
    ax.set_ylabel(axis_label(metric))
    where = aggregate.row_label(condition, doc)
    ax.set_title(title_of(doc, "%s by test-hardness tercile, %s" % (metric.upper(), where)),
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)
    return True


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dirs", nargs="*", metavar="DIR",
                   help="run directories or folders of them (or --from-json)")
    p.add_argument("--from-json", metavar="FILE",
                   help="plot a summary written by aggregate.py --json instead of DIRs")
    aggregate.add_selection_options(p)
    p.add_argument("--out", required=True, metavar="PLOTDIR", help="folder for the PNG files")
    p.add_argument("--condition", help="condition of hardness.png (default: the mean)")
    p.add_argument("--only", default="rate,conditions,hardness",
                   help="comma-separated subset of rate, conditions, hardness")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.from_json:
            with open(args.from_json, encoding="utf-8") as f:
                doc = json.load(f)
        elif args.dirs:
            doc = aggregate.load_and_summarize(args)
        else:
            raise aggregate.InputError("give run directories or --from-json FILE")
        metric = args.metric or doc["metric"]
        if metric not in doc["metrics"]:
            raise aggregate.InputError("--metric %s: not in the summary (available: %s)"
                                       % (metric, ", ".join(doc["metrics"])))
        os.makedirs(args.out, exist_ok=True)
        kinds = {k.strip() for k in args.only.split(",") if k.strip()}
        made = []
        if "rate" in kinds and plot_rate(doc, metric, os.path.join(args.out, "rate.png")):
            made.append("rate")
        if "conditions" in kinds and plot_conditions(
                doc, metric, os.path.join(args.out, "conditions.png")):
            made.append("conditions")
        if "hardness" in kinds and plot_hardness(
                doc, metric, os.path.join(args.out, "hardness.png"), args.condition):
            made.append("hardness")
        if not made:
            raise aggregate.InputError("nothing to plot: no %s results for %s"
                                       % (metric, " / ".join(sorted(kinds))))
    except (aggregate.InputError, OSError, ValueError) as e:
        print("plot_results.py: error: %s" % e, file=sys.stderr)
        return aggregate.EXIT_INPUT
    if doc.get("missing"):
        print("plot_results.py: %d run(s) without results.json are not in the plots (see "
              "aggregate.py)" % len(doc["missing"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
