#!/usr/bin/env python3
"""Plot one hardy-hpc training run from DIR/metrics.jsonl.

`plot_training.py DIR [--out FILE.png]` reads the JSON lines a run writes (one per epoch and
phase: teacher_warmup, teacher, stage1, stage2; plus hardness and checkpoint lines) and draws
one PNG (default DIR/training.png) with four panels:

  loss          training loss per epoch, the phases one after another on the x axis;
  validation    the stage-2 validation metric per epoch (WA, or MAE for regression), with the
                epoch model selection kept (from DIR/results.json) marked;
  throughput    utterances per second per epoch;
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
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)
from matplotlib.ticker import MaxNLocator  # noqa: E402

EXIT_INPUT = 2
PHASES = ("teacher_warmup", "teacher", "stage1", "stage2")
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


def concatenated(run):
    """(x, lines, boundaries): the run's epoch lines with a running x across phases."""
    xs, lines, bounds, offset = [], [], [], 0
    for phase in PHASES:
        part = run.get(phase, [])
        if not part:
            continue
        bounds.append((offset, phase))
        xs += [offset + x["epoch"] for x in part]
        lines += part
        offset += max(x["epoch"] for x in part)
    return xs, lines, bounds


def draw_phase_bounds(ax, bounds):
    for x0, phase in bounds:
        ax.axvline(x0 + 0.5, color="0.6", lw=0.8, ls="--")
        # Vertical, so the names of one-epoch phases do not run into each other.
        ax.text(x0 + 0.6, 0.98, phase, transform=ax.get_xaxis_transform(), fontsize=7,
                va="top", rotation=90, color="0.35")


def plot_series(ax, series, key, ylabel):
    bounds = []
    for name, run in series.items():
        xs, lines, b = concatenated(run)
        pts = [(x, line[key]) for x, line in zip(xs, lines) if finite(line.get(key))]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", lw=1, label=name)
            bounds = bounds or b
    draw_phase_bounds(ax, bounds)
    ax.set_xlabel("epoch (phases in order)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def plot_validation(ax, series, metric, selected):
    for name, run in series.items():
        pts = [(x["epoch"], x["validation"][metric]) for x in run.get("stage2", [])
               if finite((x.get("validation") or {}).get(metric))]
        if not pts:
            continue
        line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", lw=1, label=name)
        chosen = [p for p in pts if p[0] == selected.get(name)]
        if chosen:
            ax.plot(chosen[0][0], chosen[0][1], marker="*", ms=12, color=line.get_color(),
                    ls="none")
    ax.set_xlabel("stage-2 epoch (star: the epoch model selection kept)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("validation %s" % metric.upper())
    ax.grid(alpha=0.3)


def plot_time_split(ax, summary):
    phases = [p for p in PHASES if p in summary]
    bottom = [0.0] * len(phases)
    for key, label, colour in (("compute_s", "compute", "#4c72b0"),
                               ("allreduce_wait_s", "allreduce wait", "#dd8452"),
                               ("other_s", "other (batching, I/O)", "#bbbbbb")):
        values = [summary[p][key] for p in phases]
        ax.bar(phases, values, bottom=bottom, label=label, color=colour)
        bottom = [b + v for b, v in zip(bottom, values)]
    for i, p in enumerate(phases):
        share = summary[p]["allreduce_share"]
        if share is not None:
            ax.text(i, bottom[i], "%.0f%% wait" % (100 * share), ha="center", va="bottom",
                    fontsize=7)
    ax.set_ylim(0, 1.15 * max(bottom + [1e-9]))  # room for the share labels
    ax.set_ylabel("seconds (all epochs and runs)")
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=7)


def plot_run(directory, series, summary, metric, selected, out):
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), dpi=90)
    plot_series(axes[0, 0], series, "loss", "training loss")
    axes[0, 0].set_title("loss per epoch", fontsize=9)
    plot_validation(axes[0, 1], series, metric, selected)
    axes[0, 1].set_title("validation per epoch (stage 2)", fontsize=9)
    plot_series(axes[1, 0], series, "utt_per_s", "utterances / s")
    axes[1, 0].set_title("throughput", fontsize=9)
    plot_time_split(axes[1, 1], summary)
    axes[1, 1].set_title("compute / allreduce split", fontsize=9)
    if len(series) <= MAX_LEGEND:
        axes[0, 0].legend(fontsize=7)
    fig.suptitle(os.path.normpath(directory), fontsize=10)
    fig.tight_layout()
    tmp = out + ".tmp"
    fig.savefig(tmp, format="png", dpi=fig.dpi)
    plt.close(fig)
    os.replace(tmp, out)


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
    p.add_argument("--out", metavar="FILE", help="PNG to write (default DIR/training.png)")
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
