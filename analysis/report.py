#!/usr/bin/env python3
"""Turn a study of hardy-hpc runs into one Markdown report with its tables and figures.

`report.py DIR [DIR ...] --out REPORT_DIR` searches the DIRs for run directories as
aggregate.py does (any mix of single runs, sweeps and seeds), and writes REPORT_DIR/report.md
with:

  - the result tables in the paper's layout: one row per method (column of aggregate.py), the
    fixed missing conditions as columns plus their mean, one table per metric (WA, UA, F1 for
    classification; MAE, Corr, ACC2, F1 for regression), mean ± std over seeds, the best per
    column in bold; missing-rate sweeps in their own tables (rates as columns plus the mean);
  - the easy / medium / hard test-tercile tables and the paired comparisons against the
    baseline (aggregate.py's per-seed differences, sign counts and exact sign test);
  - the figures (figures/: plot_results.py's rate, condition and tercile plots, and for the
    first run directory of each curriculum column plot_hardness.py's hardness scatter, k
    distribution, neighbour agreement and hardest / easiest utterances, and plot_training.py's
    training curves), each as PDF and 300-dpi PNG;
  - the provenance of every run directory (program, dataset, seed, conditions, ranks x threads,
    wall time, disk use, and any further fields results.json holds, such as version, commit
    and hosts), the config.ini keys that separate the columns, and the runs that are missing,
    failed or were preempted (status.json);
  - REPORT_DIR/summary.json: aggregate.py's --json document the tables come from.

Options as aggregate.py (--metric for the headline, --group-by, --baseline, --allow-mixed);
--no-figures writes the tables only. Input errors exit with status 2.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardy_deps  # noqa: E402  (the install hint before the imports it guards)

hardy_deps.need("numpy", "h5py", "matplotlib")
import aggregate  # noqa: E402
import plot_hardness  # noqa: E402
import plot_results  # noqa: E402
import plot_training  # noqa: E402

TABLE_METRICS = {"classification": ("wa", "ua", "f1"),
                 "regression": ("mae", "corr", "acc2", "acc2_has0", "f1")}
# results.json fields shown in their own provenance columns; anything else is listed as is
STANDARD_FIELDS = {"program", "dataset", "task", "run_name", "seed", "curriculum", "ranks",
                   "threads", "wall_seconds", "conditions", "validation", "test", "runs",
                   "disk_bytes"}


def md_table(header, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def fmt(c, metric, signed=False, with_n=False):
    """'76.00 ± 4.00' (fractions in percent), with ' (n)' when asked; '-' for no data."""
    if c is None or c["n"] == 0:
        return "-"
    text = aggregate.fmt_cell(c, metric, signed)
    return text if with_n else text.rsplit(" (", 1)[0]


def best_of(cells, metric):
    """The best mean of a column of cells (lower for MAE), or None."""
    values = [c["mean"] for c in cells if c is not None and c["n"] > 0]
    if not values:
        return None
    return min(values) if metric in aggregate.LOWER_IS_BETTER else max(values)


def condition_header(name, doc):
    if name == "average":
        return "mean (%d)" % len(doc["averages"]["average"])
    if name == "average_rate":
        return "mean (%d rates)" % len(doc["averages"]["average_rate"])
    rate = aggregate.condition_rate(name)
    return name if rate is None else "rate %.2g" % rate


def paper_table(doc, metric, names, title):
    """Methods as rows, the conditions `names` as columns; the best per column in bold."""
    index = {(c["group"], c["condition"]): c for c in doc["cells"] if c["metric"] == metric}
    groups = [g["group"] for g in doc["groups"]]
    ns = sorted({index[g, n]["n"] for g in groups for n in names
                 if (g, n) in index and index[g, n]["n"]})
    if not ns:
        return ""
    best = {n: best_of([index.get((g, n)) for g in groups], metric) for n in names}
    rows = []
    for g in groups:
        row = [g]
        for n in names:
            c = index.get((g, n))
            text = fmt(c, metric, with_n=len(ns) > 1)
            if c is not None and c["n"] and len(groups) > 1 and c["mean"] == best[n]:
                text = "**%s**" % text
            row.append(text)
        rows.append(row)
    seeds = ("n = %d seeds per cell" % ns[0]) if len(ns) == 1 else "(n) = seeds per cell"
    better = "lower" if metric in aggregate.LOWER_IS_BETTER else "higher"
    caption = "**%s** — %s, %s split: mean ± std over seeds, %s; each seed averaged over its " \
              "folds; bold = best (%s is better).\n\n" % (
                  title, aggregate.unit_note(metric).replace(" (lower is better)", ""),
                  doc["split"], seeds, better)
    return caption + md_table(["method"] + [condition_header(n, doc) for n in names], rows)


def result_tables(doc):
    task = doc["tasks"][0] if len(doc["tasks"]) == 1 else "classification"
    metrics = [m for m in TABLE_METRICS.get(task, ()) if m in doc["metrics"]] or [doc["metric"]]
    fixed = [c for c in doc["conditions"] if aggregate.condition_rate(c) is None]
    rates = [c for c in doc["conditions"] if aggregate.condition_rate(c) is not None]
    out = []
    for names, what in ((fixed + [a for a in ("average",) if a in doc["averages"]],
                         "missing conditions"),
                        (rates + [a for a in ("average_rate",) if a in doc["averages"]],
                         "missing rates")):
        if not names:
            continue
        for m in metrics:
            table = paper_table(doc, m, names, "%s, %s" % (m.upper(), what))
            if table:
                out.append(table)
    return out


def tercile_tables(doc):
    metric = doc["metric"]
    cells = [c for c in doc["by_hardness"] if c["metric"] == metric]
    if not cells:
        return []
    index = {(c["group"], c["condition"], c["tercile"]): c for c in cells}
    names = [n for n in doc["conditions"] + list(doc["averages"])
             if any(c["condition"] == n for c in cells)]
    groups = [g["group"] for g in doc["groups"] if any(c["group"] == g["group"] for c in cells)]
    rows = []
    for g in groups:
        for t in reversed(aggregate.TERCILES):
            rows.append([g, t] + [fmt(index.get((g, n, t)), metric, with_n=True)
                                  for n in names])
    caption = "**%s by test-hardness tercile** (hard first), mean ± std (n seeds).\n\n" % (
        aggregate.unit_note(metric))
    return [caption + md_table(["method", "tercile"] + [condition_header(n, doc) for n in names],
                               rows, ["---", "---"] + ["---:"] * len(names))]


def paired_tables(doc):
    out = []
    task = doc["tasks"][0] if len(doc["tasks"]) == 1 else "classification"
    metrics = [doc["metric"]] + [m for m in TABLE_METRICS.get(task, ())[:2]
                                 if m != doc["metric"] and m in doc["metrics"]]
    for metric in metrics:
        pairs = [p for p in doc["paired"] if p["metric"] == metric and p["n"] > 0]
        if not pairs:
            continue
        rows = []
        for p in pairs:
            pval = "-" if p["sign_test_p"] is None else "%.3g" % p["sign_test_p"]
            rows.append(["%s − %s" % (p["group"], p["baseline"]),
                         condition_header(p["condition"], doc),
                         fmt(p, metric, signed=True, with_n=True),
                         "+%d −%d =%d" % (p["positive"], p["negative"], p["ties"]),
                         "%d/%d" % (p["better"], p["n"]), pval])
        better = "lower" if metric in aggregate.LOWER_IS_BETTER else "higher"
        out.append("**Paired %s**: difference per seed on the same condition and folds, mean ± "
                   "std (n pairs); better = %s; exact two-sided sign test.\n\n" % (
                       aggregate.unit_note(metric), better) +
                   md_table(["comparison", "condition", "difference", "signs", "better",
                             "sign test p"], rows, ["---", "---", "---:", "---:", "---:",
                                                    "---:"]))
    return out


def human_bytes(n):
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return ("%.0f %s" if unit == "B" else "%.1f %s") % (n, unit)
        n /= 1000.0


def flat_extra(results):
    """The results.json fields beyond the standard ones (provenance such as version, commit,
    hosts), flattened to 'key=value'."""
    out = []

    def add(prefix, v):
        if isinstance(v, dict):
            for k in sorted(v):
                add("%s.%s" % (prefix, k) if prefix else k, v[k])
        elif isinstance(v, list):
            text = ",".join(str(x) for x in v[:8]) + (",..." if len(v) > 8 else "")
            out.append("%s=%s" % (prefix, text))
        else:
            out.append("%s=%s" % (prefix, v))
    for k in sorted(set(results) - STANDARD_FIELDS):
        add(k, results[k])
    return "; ".join(out) or "-"


def provenance(coll, base):
    rows, disk_total, kinds = [], 0.0, {}
    for r in sorted(coll.runs, key=lambda r: (r.column, r.seed, r.path)):
        res = r.results
        conds = ",".join(aggregate.sort_conditions({str(x.get("condition")) for x in res["runs"]}))
        folds = sorted({str(x.get("fold", "none")) for x in res["runs"]})
        disk = res.get("disk_bytes") or {}
        if isinstance(disk.get("total"), (int, float)):
            disk_total += disk["total"]
            for k, v in disk.items():
                if isinstance(v, (int, float)) and k != "total":
                    kinds[k] = kinds.get(k, 0.0) + v
        rows.append([os.path.relpath(r.path, base), r.column, r.seed, conds,
                     ",".join(folds), "%s×%s" % (res.get("ranks", "?"), res.get("threads", "?")),
                     "%.1f" % float(res.get("wall_seconds", 0.0)), res.get("program", "?"),
                     human_bytes(disk["total"]) if "total" in disk else "-", flat_extra(res)])
    text = md_table(["run directory", "method", "seed", "conditions", "folds", "ranks×threads",
                     "wall s", "program", "disk", "further provenance"], rows,
                    ["---", "---", "---:", "---", "---", "---:", "---:", "---", "---:", "---"])
    datasets = "datasets: %s (%s)\n\n" % (", ".join("`%s`" % d for d in coll.datasets),
                                         ", ".join(coll.tasks))
    if kinds:
        text += "\nDisk left by these runs: %s in all (%s).\n" % (
            human_bytes(disk_total), ", ".join("%s %s" % (k.replace("_", " "), human_bytes(v))
                                               for k, v in sorted(kinds.items()) if v))
    return datasets + text


def configuration(coll):
    """The config.ini keys in which the columns' first runs differ (what separates the methods),
    and the first run's whole config.ini."""
    firsts = [min((r for r in coll.runs if r.column == c), key=lambda r: (r.seed, r.path))
              for c in coll.columns]
    keys = sorted({k for a in firsts for b in firsts for k in aggregate.config_difference(a.cfg,
                                                                                          b.cfg)})
    out = []
    if keys and len(firsts) > 1:
        rows = [[k] + [r.cfg.get(k, "-") for r in firsts] for k in keys]
        out.append("Keys of config.ini in which the columns differ (first run of each; seeds, "
                   "conditions, folds and paths may vary within a column):\n\n" +
                   md_table(["key"] + coll.columns, rows, ["---"] * (len(firsts) + 1)))
    try:
        with open(os.path.join(firsts[0].path, "config.ini"), encoding="utf-8") as f:
            text = f.read()
        out.append("<details><summary>config.ini of %s</summary>\n\n```ini\n%s```\n\n"
                   "</details>\n" % (os.path.basename(firsts[0].path), text))
    except OSError:
        pass
    return out


def missing_section(doc, base):
    if not doc["missing"]:
        return "Every run directory found has its results.json.\n"
    rows = []
    for m in doc["missing"]:
        cond = m["condition"] if not m["rate"] else "rate %s" % m["rate"]
        rows.append([os.path.relpath(m["dir"], base), m["method"] or "?",
                     "-" if m["seed"] is None else m["seed"], cond or "-",
                     m["last"] or "nothing", m["state"] or "no status.json (running or killed)"])
    return ("%d run director%s without results.json (not in the tables):\n\n" % (
        len(doc["missing"]), "y" if len(doc["missing"]) == 1 else "ies") +
        md_table(["run directory", "method", "seed", "condition", "last logged", "status"], rows,
                 ["---"] * 6))


HARDNESS_CAPTIONS = {
    "hardness_scatter": "indirect (MI) against direct (reconstruction) hardness of the training "
                        "utterances",
    "k_agreement": "neighbour budget k and neighbour label agreement against hardness"}


def figures(doc, coll, out, data_path):
    """Draw every figure; returns [(caption, relative PNG path)], markdown tables, and what
    could not be drawn."""
    fig_dir = os.path.join(out, "figures")
    os.makedirs(fig_dir, exist_ok=True)
    made, extra, skipped = [], [], []
    for png in plot_results.plot_all(doc, doc["metric"], fig_dir):
        name = os.path.basename(png)[:-4]
        made.append(({"rate": "%s against the missing rate" % doc["metric"].upper(),
                      "conditions": "%s per missing condition" % doc["metric"].upper(),
                      "hardness": "%s by test-hardness tercile" % doc["metric"].upper(),
                      "hardness_rate": "%s by test-hardness tercile over the missing rates"
                      % doc["metric"].upper()}.get(name, name), png))
    for col in coll.columns:
        first = sorted(r.path for r in coll.runs if r.column == col)[0]
        slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in col)
        png = os.path.join(fig_dir, "training-%s.png" % slug)
        try:
            series, checkpoints, _, _ = plot_training.read_metrics(
                os.path.join(first, "metrics.jsonl"))
        except plot_training.InputError as e:
            skipped.append("training curves of %s: %s" % (col, e))
            series = None
        if series:
            summary = plot_training.phase_summary(series, checkpoints)
            plot_training.plot_run(first, series, summary,
                                   plot_training.validation_metric(series, None),
                                   plot_training.selected_epochs(
                                       os.path.join(first, "results.json")), png)
            made.append(("training curves of %s, %s" % (col, os.path.relpath(first, out)), png))
        if plot_hardness.tags_of(first):
            try:
                pngs, md = plot_hardness.plot_dir(first, os.path.join(fig_dir, "hardness-" + slug),
                                                  data_path)
            except (plot_hardness.InputError, OSError, KeyError) as e:
                skipped.append("hardness figures of %s: %s" % (col, e))
                continue
            for p in pngs:
                name = os.path.basename(p)[:-4]
                what = HARDNESS_CAPTIONS.get(name) or (
                    "the hardest and easiest training utterances of %s with their retrieved "
                    "neighbours" % name[len("neighbours_"):])
                made.append(("%s: %s, %s" % (col, what, os.path.relpath(first, out)), p))
            extra.append("%s (column %s)\n\n%s" % (md.split("\n", 1)[0], col,
                                                   md.split("\n", 1)[1]))
    return [(c, os.path.relpath(p, out)) for c, p in made], extra, skipped


def build(args):
    group_by = [k.strip() for k in args.group_by.split(",") if k.strip()]
    coll = aggregate.Collection(args.dirs, group_by, args.allow_mixed)
    doc = aggregate.summarize(coll, args.metric, args.split, args.baseline)
    os.makedirs(args.out, exist_ok=True)
    base = os.path.abspath(args.out)
    parts = ["# Study report\n",
             "Made by `analysis/report.py %s` from %d run director%s (%d with results). "
             "Headline metric %s; columns are methods (config.ini), cells average each seed's "
             "folds first and then report mean ± std over seeds (sample std, n − 1).\n" % (
                 " ".join(args.dirs), len(coll.runs) + len(coll.missing),
                 "y" if len(coll.runs) + len(coll.missing) == 1 else "ies", len(coll.runs),
                 doc["metric"].upper())]
    parts.append("## Results\n")
    parts += result_tables(doc)
    hard = tercile_tables(doc)
    if hard:
        parts.append("## By test hardness\n")
        parts += hard
    pairs = paired_tables(doc)
    if pairs:
        parts.append("## Paired comparisons against %s\n" % doc["baseline"])
        parts += pairs
    if doc["notes"]:
        parts.append("Notes:\n\n" + "".join("- %s\n" % n for n in doc["notes"]))
    if not args.no_figures:
        made, extra, skipped = figures(doc, coll, args.out, args.data)
        parts.append("## Figures\n")
        if skipped:
            parts.append("Not drawn:\n\n" + "".join("- %s\n" % x for x in skipped))
        for caption, rel in made:
            parts.append("![%s](%s)\n\n*%s* ([PDF](%s))\n" % (caption, rel, caption,
                                                               rel[:-4] + ".pdf"))
        if extra:
            parts.append("## Hardest and easiest training utterances\n")
            parts += extra
    parts.append("## Runs and provenance\n")
    parts.append(provenance(coll, base))
    parts += configuration(coll)
    parts.append("## Missing, failed and preempted runs\n")
    parts.append(missing_section(doc, base))
    aggregate.write_output(os.path.join(args.out, "summary.json"),
                           json.dumps(doc, indent=1, allow_nan=False) + "\n")
    aggregate.write_output(os.path.join(args.out, "report.md"), "\n".join(parts))
    return doc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run directories or folders of them")
    aggregate.add_selection_options(p)
    p.add_argument("--out", required=True, metavar="REPORT_DIR")
    p.add_argument("--data", metavar="FILE.h5",
                   help="the dataset, for the hardness figures (default: each run's data.path)")
    p.add_argument("--no-figures", action="store_true", help="tables only")
    args = p.parse_args(argv)
    try:
        doc = build(args)
    except (aggregate.InputError, plot_training.InputError, OSError) as e:
        print("report.py: error: %s" % e, file=sys.stderr)
        return aggregate.EXIT_INPUT
    print("wrote %s (%d columns, %d conditions, %d missing run(s))" % (
        os.path.join(args.out, "report.md"), len(doc["groups"]), len(doc["conditions"]),
        len(doc["missing"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
