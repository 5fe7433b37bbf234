#!/usr/bin/env python3
"""Plot aggregated hardy-hpc results as PDF and 300-dpi PNG files.

`plot_results.py DIR [DIR ...] --out PLOTDIR` aggregates the runs under DIR the way
aggregate.py does (same --metric, --group-by, --allow-mixed options), or reads a summary
written by `aggregate.py --json` (`--from-json FILE`), and writes into PLOTDIR (each as .pdf
and .png):

  rate         the headline metric against the missing rate, one line per column, band =
               std over seeds (when the runs hold rate conditions such as rate0.30);
  conditions   grouped bars per fixed condition and their mean, one bar per column;
  hardness     easy / medium / hard test terciles, one panel each: bars per fixed condition
               and the mean, or lines over every rate of a sweep (hardness_rate when a study
               has both); --condition draws one condition only.

Each plot is written only when the summary has the data for it; no plot at all is an input
error (exit 2). Fractions (WA, UA, F1, ACC2) are shown in percent. Colours and order of the
methods are fixed (figstyle.py); value axes start at 0 or carry a break mark. Uses
matplotlib's Agg backend: no display needed.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardy_deps  # noqa: E402  (the install hint before the imports it guards)

hardy_deps.need("matplotlib")
import matplotlib.pyplot as plt  # noqa: E402

import aggregate  # noqa: E402
import figstyle  # noqa: E402  (sets the Agg backend)


def colours_of(doc):
    """One colour per column, fixed per method, the same in every plot of a study."""
    return figstyle.colours_for([(g["group"], g["method"]) for g in doc["groups"]])


def method_of(doc, group):
    return next((g["method"] for g in doc["groups"] if g["group"] == group), None)


def legend_label(group, cells):
    """'hardy (n=3 seeds)': the seed counts behind a column's points or bars."""
    counts = sorted({c["n"] for c in cells})
    return "%s (n=%s seed%s)" % (group, "/".join(map(str, counts)),
                                 "" if counts == [1] else "s")


def cell_index(items, metric):
    return {(c["group"], c["condition"], c.get("tercile")): c for c in items
            if c["metric"] == metric and c["n"] > 0}


def axis_label(metric):
    return aggregate.unit_note(metric)


def title_of(doc, what):
    return "%s: %s (%s split)" % (", ".join(os.path.basename(d) for d in doc["datasets"]),
                                  what, doc["split"])


def err_note(doc):
    return "mean ± std over seeds"


def rate_lines(ax, doc, metric, cells, rates, groups, tercile=None, label=True):
    """One line per column over the missing rates, a band = ± std over seeds; returns the
    lower and upper ends drawn."""
    k = aggregate.scale(metric)
    colours = colours_of(doc)
    lows, highs = [], []
    for g in groups:
        pts = [(aggregate.condition_rate(r), cells[g, r, tercile]) for r in rates
               if (g, r, tercile) in cells]
        if not pts:
            continue
        x = [p[0] for p in pts]
        y = [p[1]["mean"] * k for p in pts]
        sd = [(p[1]["std"] or 0.0) * k for p in pts]
        lo = [a - b for a, b in zip(y, sd)]
        hi = [a + b for a, b in zip(y, sd)]
        ax.fill_between(x, lo, hi, color=colours[g], alpha=0.18, lw=0)
        ax.plot(x, y, marker=figstyle.marker_of(method_of(doc, g)), ms=4, lw=1.3,
                color=colours[g], label=legend_label(g, [p[1] for p in pts]) if label else None)
        lows += lo
        highs += hi
    ax.set_xticks(sorted({aggregate.condition_rate(r) for r in rates}))
    ax.set_xlabel("missing rate")
    ax.grid(alpha=0.3)
    return lows, highs


def plot_rate(doc, metric, stem):
    cells = cell_index(doc["cells"], metric)
    rates = [c for c in doc["conditions"] if aggregate.condition_rate(c) is not None]
    groups = [g["group"] for g in doc["groups"]]
    if len(rates) < 1 or not any((g, r, None) in cells for g in groups for r in rates):
        return None
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    lows, highs = rate_lines(ax, doc, metric, cells, rates, groups)
    figstyle.value_axis(ax, lows, highs, metric in aggregate.FRACTION_METRICS)
    ax.set_ylabel(axis_label(metric))
    ax.set_title(title_of(doc, "%s vs missing rate" % metric.upper()))
    ax.legend(title="band: %s" % err_note(doc), title_fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False)
    return figstyle.save(fig, stem)


def grouped_bars(ax, doc, metric, labels, groups, cell_of, hatch=""):
    """Bars for each label, one per group, error bars = std; cell_of(group, label) -> cell or
    None. Returns the lower and upper ends drawn (mean -/+ std)."""
    width = 0.8 / max(1, len(groups))
    k = aggregate.scale(metric)
    colours = colours_of(doc)
    lows, highs = [], []
    for i, g in enumerate(groups):
        xs, ys, errs, cells = [], [], [], []
        for j, lab in enumerate(labels):
            c = cell_of(g, lab)
            if c is not None:
                xs.append(j + (i - (len(groups) - 1) / 2) * width)
                ys.append(c["mean"] * k)
                errs.append((c["std"] or 0.0) * k)
                cells.append(c)
        ax.bar(xs, ys, width * 0.92, yerr=errs, capsize=2, color=colours[g], hatch=hatch,
               edgecolor="white", linewidth=0.4, error_kw={"elinewidth": 0.8},
               label=legend_label(g, cells) if cells else None)
        lows += [y - e for y, e in zip(ys, errs)]
        highs += [y + e for y, e in zip(ys, errs)]
    ax.set_xticks(range(len(labels)))
    ax.grid(axis="y", alpha=0.3)
    return lows, highs


def plot_conditions(doc, metric, stem):
    cells = cell_index(doc["cells"], metric)
    fixed = [c for c in doc["conditions"] if aggregate.condition_rate(c) is None]
    labels = fixed + (["average"] if "average" in doc["averages"] else [])
    groups = [g["group"] for g in doc["groups"]]
    if not any((g, c, None) in cells for g in groups for c in labels):
        return None
    fig, ax = plt.subplots(figsize=(max(3.6, 0.55 * len(labels) * max(2, len(groups)) + 1.5),
                                    3.2))
    lows, highs = grouped_bars(ax, doc, metric, labels, groups,
                               lambda g, lab: cells.get((g, lab, None)))
    if "average" in labels:
        ax.axvline(len(labels) - 1.5, color="0.6", lw=0.6, ls=":")
    ax.set_xticklabels(["mean" if c == "average" else c for c in labels])
    figstyle.value_axis(ax, lows, highs, metric in aggregate.FRACTION_METRICS)
    ax.set_xlabel("available modalities (a audio, t text, v visual)")
    ax.set_ylabel(axis_label(metric))
    ax.set_title(title_of(doc, "%s per condition" % metric.upper()))
    ax.legend(title="error bars: %s" % err_note(doc), title_fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False)
    return figstyle.save(fig, stem)


def hardness_conditions(doc, cells, condition):
    """The fixed conditions (and their mean) with tercile results, or just `condition`."""
    have = aggregate.sort_conditions({c for (_, c, _) in cells if c not in doc["averages"]})
    have += [c for c in doc["averages"] if any(key[1] == c for key in cells)]
    if condition is not None and condition not in have:
        raise aggregate.InputError("--condition %s: no tercile results for it (have: %s)"
                                   % (condition, ", ".join(have)))
    return have if condition is None else [condition]


def plot_hardness(doc, metric, stem, condition=None):
    """Easy / medium / hard test thirds per column: for fixed conditions grouped bars per
    condition in one panel per tercile; for a rate sweep lines over every rate (stem_rate)."""
    cells = cell_index(doc["by_hardness"], metric)
    have = hardness_conditions(doc, cells, condition)
    fixed = [c for c in have if aggregate.condition_rate(c) is None and c != "average_rate"]
    rates = [c for c in have if aggregate.condition_rate(c) is not None]
    groups = [g["group"] for g in doc["groups"]
              if any((g["group"], c, t) in cells for c in have for t in aggregate.TERCILES)]
    made = []
    percent = metric in aggregate.FRACTION_METRICS
    for kind, rows in (("fixed", fixed), ("rate", rates)):
        if not rows:
            continue
        width = 0.32 * len(rows) * max(2, len(groups)) + 0.8 if kind == "fixed" else 2.6
        fig, axes = plt.subplots(1, 3, figsize=(min(12.0, max(6.4, 3 * width)), 3.0), sharey=True)
        lows, highs = [], []
        for ax, t in zip(axes, aggregate.TERCILES):
            if kind == "fixed":
                lo, hi = grouped_bars(ax, doc, metric, rows, groups,
                                      lambda g, c, t=t: cells.get((g, c, t)))
                ax.set_xticklabels(["mean" if c in doc["averages"] else c for c in rows])
            else:
                lo, hi = rate_lines(ax, doc, metric, cells, rates, groups, tercile=t,
                                    label=t == "easy")
            lows += lo
            highs += hi
            ax.set_title("%s third of the test set" % t)
        broken = figstyle.value_axis(axes[0], lows, highs, percent)
        for ax in axes[1:]:
            ax.tick_params(labelleft=True)
            if broken:
                figstyle.break_mark(ax)
        axes[0].set_ylabel(axis_label(metric))
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=max(1, len(groups)),
                   bbox_to_anchor=(0.5, -0.02), title="%s; terciles by test hardness"
                   % err_note(doc), title_fontsize=7, frameon=False)
        fig.suptitle(title_of(doc, "%s by test-hardness tercile" % metric.upper()), fontsize=9)
        fig.tight_layout(rect=(0, 0.12, 1, 1))
        made.append(figstyle.save(fig, stem if kind == "fixed" or not fixed else stem + "_rate"))
    return made or None


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


def plot_all(doc, metric, out, kinds=("rate", "conditions", "hardness"), condition=None):
    """Every plot the summary has data for, into folder out; returns the PNG paths."""
    made = []
    if "rate" in kinds:
        made.append(plot_rate(doc, metric, os.path.join(out, "rate")))
    if "conditions" in kinds:
        made.append(plot_conditions(doc, metric, os.path.join(out, "conditions")))
    if "hardness" in kinds:
        made += plot_hardness(doc, metric, os.path.join(out, "hardness"), condition) or []
    return [m for m in made if m]


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
        made = plot_all(doc, metric, args.out, kinds, args.condition)
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
