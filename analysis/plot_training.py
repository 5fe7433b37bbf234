#!/usr/bin/env python3
"""Plot one hardy-hpc training run from DIR/metrics.jsonl.

`plot_training.py DIR [--out FILE.png]` reads the JSON lines a run writes (one per epoch and
phase: teacher_warmup, teacher, stage1, stage2; plus hardness and checkpoint lines) and draws
one figure (default DIR/training.png and DIR/training.pdf, 300 dpi) with these panels:

  loss          training loss per epoch, one panel per phase (teacher warm-up, teacher,
                stage 1, stage 2 define their losses differently, so they are never joined);
  validation    the stage-2 validation metric per epoch (WA, or MAE for regression), with the
                epoch model selection kept (from DIR/results.json) marked;
  throughput    utterances per second per epoch, the phases side by side, never joined;
  time split    per phase: compute, waiting in the gradient allreduce, and the rest of the
                epoch (batching, I/O), summed over epochs and runs.

A resumed run repeats the epochs after its checkpoint: for each (run, phase, epoch) the later
line wins. A line cut short by a killed job is skipped with a warning. It also prints a
per-phase summary (epochs, mean utt/s, allreduce share, checkpoint write speed); --json writes
the deduplicated series and that summary. Uses matplotlib's Agg backend: no display needed.
"""

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardy_deps  # noqa: E402  (the install hint before the imports it guards)

hardy_deps.need("matplotlib")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

import figstyle  # noqa: E402  (sets the Agg backend)

EXIT_INPUT = 2
PHASES = ("teacher_warmup", "teacher", "stage1", "stage2")
PHASE_LABELS = {"teacher_warmup": "warm-up", "teacher": "teacher", "stage1": "stage 1",
                "stage2": "stage 2"}
MAX_LEGEND = 10


class InputError(Exception):
    """Unusable input: the program prints the message and exits with status 2."""


def read_metrics(path):
    """(series, checkpoints, superseded, bad): series[run][phase] = epoch lines sorted by epoch,
    later duplicates replacing earlier ones; checkpoint lines; counts of replaced and unreadable
    lines."""
    series, checkpoints, superseded, bad = {}, [], 0, []
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise InputError("%s: %s (is DIR the --out directory of a run?)" % (path, e.strerror))
    with f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                bad.append(number)
                continue
            phase = obj.get("phase") if isinstance(obj, dict) else None
            if phase == "checkpoint":
                checkpoints.append(obj)
            elif phase in PHASES and finite(obj.get("epoch")):
                obj["epoch"] = int(obj["epoch"])
                by_epoch = series.setdefault(str(obj.get("run", "?")), {}).setdefault(phase, {})
                superseded += obj["epoch"] in by_epoch
                by_epoch[obj["epoch"]] = obj
    for run in series.values():
        for phase in run:
            run[phase] = [run[phase][e] for e in sorted(run[phase])]
    return series, checkpoints, superseded, bad


def finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def selected_epochs(results_path):
    """{run name "condition/foldF": selected stage-2 epoch} from results.json, if present."""
    try:
        with open(results_path, encoding="utf-8") as f:
            results = json.load(f)
    except (OSError, ValueError):
        return {}
    out = {}
    for rec in results.get("runs", []):
        fold = rec.get("fold", "none")
        name = str(rec.get("condition"))  # as train names runs: "at/fold3", or "at" without folds
        out[name if fold == "none" else "%s/fold%s" % (name, fold)] = rec.get("selected_epoch")
    return out


def validation_metric(series, wanted):
    if wanted:
        return wanted
    for run in series.values():
        for line in run.get("stage2", []):
            val = line.get("validation") or {}
            for key in ("wa", "mae"):
                if key in val:
                    return key
    return "wa"


def phase_summary(series, checkpoints):
    out = {}
    for phase in PHASES:
        lines = [x for run in series.values() for x in run.get(phase, [])]
        if not lines:
            continue
        total = math.fsum(x.get("seconds", 0.0) for x in lines if finite(x.get("seconds")))
        compute = math.fsum(x["compute_s"] for x in lines if finite(x.get("compute_s")))
        wait = math.fsum(x["allreduce_wait_s"] for x in lines if finite(x.get("allreduce_wait_s")))
        rates = [x["utt_per_s"] for x in lines if finite(x.get("utt_per_s"))]
        out[phase] = {"epochs": len(lines), "seconds": total, "compute_s": compute,
                      "allreduce_wait_s": wait, "other_s": max(0.0, total - compute - wait),
                      "utt_per_s_mean": math.fsum(rates) / len(rates) if rates else None,
                      "allreduce_share": wait / (compute + wait) if compute + wait > 0 else None}
    speeds = [c["write_mb_per_s"] for c in checkpoints if finite(c.get("write_mb_per_s"))]
    out["checkpoint"] = {"writes": len(checkpoints),
                         "write_mb_per_s_mean": math.fsum(speeds) / len(speeds) if speeds else None}
    return out


def phase_lines(ax, series, phase, key, colours):
    """One line per run over the epochs of one phase; returns whether anything was drawn."""
    drawn = False
    for name, run in series.items():
        pts = [(x["epoch"], x[key]) for x in run.get(phase, []) if finite(x.get(key))]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", ms=3, lw=1,
                    color=colours[name], label=name)
            drawn = True
    values = [x[key] for run in series.values() for x in run.get(phase, []) if finite(x.get(key))]
    if values:
        figstyle.value_axis(ax, values, values)
    last = max([x["epoch"] for run in series.values() for x in run.get(phase, [])] + [1])
    ax.set_xlim(0.5, last + 0.5)
    if last <= 6:
        ax.set_xticks(range(1, last + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    ax.grid(alpha=0.3)
    return drawn


def run_colours(series):
    names = sorted(series)
    return {n: figstyle.PALETTE[i % len(figstyle.PALETTE)] for i, n in enumerate(names)}


def plot_throughput(ax, series, colours, phases):
    """Utterances / s per epoch, the phases side by side on x with a gap and a label each:
    a line never joins two phases."""
    offset, ticks = 0, []
    for phase in phases:
        longest = 0
        for name, run in series.items():
            pts = [(x["epoch"], x["utt_per_s"]) for x in run.get(phase, [])
                   if finite(x.get("utt_per_s"))]
            if pts:
                ax.plot([offset + p[0] for p in pts], [p[1] for p in pts], marker=".", ms=3,
                        lw=1, color=colours[name])
                longest = max(longest, max(p[0] for p in pts))
        if longest:
            ticks.append((offset + (longest + 1) / 2, PHASE_LABELS[phase]))
            ax.axvspan(offset + 0.5, offset + longest + 0.5, color="0.93", lw=0, zorder=0)
            offset += longest + 1
    ax.set_xticks([t[0] for t in ticks])
    ax.set_xticklabels([t[1] for t in ticks], fontsize=6)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("utterances / s")
    ax.set_xlabel("epochs of each phase (shaded)")
    ax.grid(axis="y", alpha=0.3)


def plot_validation(ax, series, metric, selected, colours):
    values = [x["validation"][metric] for run in series.values() for x in run.get("stage2", [])
              if finite((x.get("validation") or {}).get(metric))]
    if values:
        figstyle.value_axis(ax, values, values)
    for name, run in series.items():
        pts = [(x["epoch"], x["validation"][metric]) for x in run.get("stage2", [])
               if finite((x.get("validation") or {}).get(metric))]
        if not pts:
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", ms=3, lw=1,
                color=colours[name], label=name)
        chosen = [p for p in pts if p[0] == selected.get(name)]
        if chosen:
            ax.plot(chosen[0][0], chosen[0][1], marker="*", ms=9, color=colours[name],
                    ls="none")
    ax.margins(x=0.08)
    ax.set_xlabel("stage-2 epoch (star: selected)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.set_ylabel("validation %s" % metric.upper())
    ax.grid(alpha=0.3)


def plot_time_split(ax, summary):
    phases = [p for p in PHASES if p in summary]
    bottom = [0.0] * len(phases)
    for key, label, colour in (("compute_s", "compute", "#0072B2"),
                               ("allreduce_wait_s", "allreduce wait", "#E69F00"),
                               ("other_s", "other (batching, I/O)", "#BBBBBB")):
        values = [summary[p][key] for p in phases]
        ax.bar([PHASE_LABELS[p] for p in phases], values, bottom=bottom, label=label,
               color=colour)
        bottom = [b + v for b, v in zip(bottom, values)]
    for i, p in enumerate(phases):
        share = summary[p]["allreduce_share"]
        if share is not None:
            ax.text(i, bottom[i], "%.0f%% wait" % (100 * share), ha="center", va="bottom",
                    fontsize=6)
    ax.set_ylim(0, 1.18 * max(bottom + [1e-9]))  # room for the share labels
    ax.set_ylabel("seconds, all epochs and runs")
    ax.tick_params(axis="x", labelsize=6)
    ax.legend(fontsize=6, frameon=False)


def plot_run(directory, series, summary, metric, selected, out):
    """The losses in one panel per phase (their losses are defined differently: never joined),
    then validation, throughput and the time split. Writes out's stem as .png and .pdf."""
    phases = [p for p in PHASES if any(run.get(p) for run in series.values())]
    colours = run_colours(series)
    fig = plt.figure(figsize=(max(9.0, 2.3 * len(phases)), 5.8))
    grid = fig.add_gridspec(2, 12, hspace=0.6, wspace=3.6)
    width = 12 // max(1, len(phases))
    for i, phase in enumerate(phases):
        ax = fig.add_subplot(grid[0, i * width:(i + 1) * width])
        phase_lines(ax, series, phase, "loss", colours)
        ax.set_title("%s loss" % ("teacher warm-up" if phase == "teacher_warmup"
                                  else PHASE_LABELS[phase]))
        ax.set_xlabel("epoch")
        if i == 0:
            ax.set_ylabel("training loss (per phase)")
        if i == len(phases) - 1 and len(series) <= MAX_LEGEND:
            ax.legend(title="run", title_fontsize=6, fontsize=6, frameon=False,
                      loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax = fig.add_subplot(grid[1, 0:4])
    plot_validation(ax, series, metric, selected, colours)
    ax.set_title("validation per epoch (stage 2)")
    ax = fig.add_subplot(grid[1, 4:8])
    plot_throughput(ax, series, colours, phases)
    ax.set_title("throughput")
    ax = fig.add_subplot(grid[1, 8:12])
    plot_time_split(ax, summary)
    ax.set_title("compute / allreduce split")
    fig.suptitle(os.path.normpath(directory), fontsize=9)
    stem = out[:-4] if out.endswith(".png") else out
    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    return figstyle.save(fig, stem)


def print_summary(series, summary, superseded):
    print("%d run(s): %s; epochs below are summed over them" % (len(series),
                                                               ", ".join(sorted(series))))
    print("%-15s %6s %10s %10s %10s %9s" % ("phase", "epochs", "utt/s", "compute s", "wait s",
                                             "wait %"))
    for phase in PHASES:
        s = summary.get(phase)
        if s:
            print("%-15s %6d %10s %10.1f %10.1f %9s" % (
                phase, s["epochs"], "-" if s["utt_per_s_mean"] is None else
                "%.1f" % s["utt_per_s_mean"], s["compute_s"], s["allreduce_wait_s"],
                "-" if s["allreduce_share"] is None else "%.1f" % (100 * s["allreduce_share"])))
    ck = summary["checkpoint"]
    if ck["writes"]:
        print("checkpoints: %d written, mean %s MB/s" % (ck["writes"], "-" if ck[
            "write_mb_per_s_mean"] is None else "%.0f" % ck["write_mb_per_s_mean"]))
    if superseded:
        print("%d epoch line(s) repeated after a resume: the later ones are used" % superseded)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", metavar="DIR", help="the --out directory of a training run")
    p.add_argument("--out", metavar="FILE", help="PNG to write, with a PDF beside it "
                   "(default DIR/training.png)")
    p.add_argument("--run", action="append", metavar="NAME",
                   help="only this run, e.g. at/fold1 or rate0.30 (repeatable; default all)")
    p.add_argument("--metric", help="validation metric (default wa, or mae for regression)")
    p.add_argument("--json", metavar="PATH", help="write the deduplicated series and summary")
    args = p.parse_args(argv)
    try:
        series, checkpoints, superseded, bad = read_metrics(os.path.join(args.dir,
                                                                         "metrics.jsonl"))
        if args.run:
            unknown = sorted(set(args.run) - set(series))
            if unknown:
                raise InputError("--run %s: not in metrics.jsonl (runs: %s)"
                                 % (", ".join(unknown), ", ".join(sorted(series))))
            series = {k: v for k, v in series.items() if k in args.run}
        if not series:
            raise InputError("%s: no per-epoch lines yet" % os.path.join(args.dir,
                                                                         "metrics.jsonl"))
        if bad:
            print("plot_training.py: warning: skipped unreadable line(s) %s of metrics.jsonl "
                  "(cut short by a killed job?)" % ", ".join(map(str, bad)), file=sys.stderr)
        summary = phase_summary(series, checkpoints)
        metric = validation_metric(series, args.metric)
        out = args.out or os.path.join(args.dir, "training.png")
        selected = selected_epochs(os.path.join(args.dir, "results.json"))
        plot_run(args.dir, series, summary, metric, selected, out)
    except (InputError, OSError) as e:
        print("plot_training.py: error: %s" % e, file=sys.stderr)
        return EXIT_INPUT
    print_summary(series, summary, superseded)
    print("wrote %s" % out)
    if args.json:
        doc = {"series": series, "summary": summary, "superseded": superseded,
               "unreadable_lines": bad, "validation_metric": metric,
               "selected_epochs": selected}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
