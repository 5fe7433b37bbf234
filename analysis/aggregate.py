#!/usr/bin/env python3
"""Aggregate hardy-hpc training runs into result tables.

`aggregate.py DIR [DIR ...]` searches each DIR recursively for run directories (those holding
results.json, config.ini or metrics.jsonl, as `hardy-hpc train --out` writes them), groups the
runs into columns by method (from config.ini: "hardy" = curriculum on with retrieval views,
"self-control" = curriculum on with views = self, "uniform" = curriculum off) and by any
--group-by config keys, and into rows by missing condition or rate. Each run is first averaged
over its folds, then each cell reports mean ± std over seeds (std with n - 1, n shown). Also:
the average over conditions (per seed, then over seeds: what papers report), the easy / medium /
hard tercile tables when runs carry test_by_hardness, and paired differences of every column
against the baseline (same seed, same condition, same folds) with mean, std, a sign count and
an exact two-sided sign test.

Runs whose results.json carry provenance are also checked by method fingerprint (a hash of
every result-determining config key except seed, fold, condition, rate and data): a column that
would average runs with different method fingerprints is an input error naming the keys that
differ (--group-by them to separate the runs).

Runs without results.json are listed as missing (with the last epoch they logged), never
dropped silently. Runs on different datasets, two runs claiming the same (column, condition,
seed, fold), unknown metrics and empty inputs are input errors: one message, exit status 2.
This module is also the loader of plot_results.py (`summarize` returns the --json document).
"""

import argparse
import configparser
import csv
import io
import json
import math
import os
import sys

EXIT_INPUT = 2
EXIT_INCOMPLETE = 1
RUN_FILES = ("results.json", "config.ini", "metrics.jsonl", "status.json")
FIXED_ORDER = ("a", "t", "v", "at", "av", "tv", "atv")
METHOD_ORDER = ("hardy", "self-control", "uniform")
TERCILES = ("easy", "medium", "hard")
FRACTION_METRICS = {"wa", "ua", "f1", "acc2", "acc2_has0", "f1_has0", "acc5", "acc7"}
LOWER_IS_BETTER = {"mae"}
HEADLINE = {"classification": "wa", "regression": "mae"}
METRIC_ORDER = ("wa", "ua", "f1", "mae", "corr", "acc2", "acc2_has0", "f1_has0", "acc5", "acc7")
# Config keys that legitimately differ between the runs of one column (data.path too: the
# dataset is compared through results.json, where the same file may be spelt differently).
VARYING_KEYS = {"run.seed", "run.name", "run.threads", "run.progress_seconds",
                "run.save_predictions", "missing.condition",
                "missing.rate", "data.fold", "data.path", "teacher.checkpoint"}
VARYING_SECTIONS = {"checkpoint"}


class InputError(Exception):
    """Unusable input: the program prints the message and exits with status 2."""


# ---------------------------------------------------------------------------------------------
# Statistics


def mean_std(values):
    """(mean, sample std with n - 1 or None when n < 2, n) of a list of floats."""
    n = len(values)
    if n == 0:
        return None, None, 0
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None, n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var), n


def sign_test_p(n_pos, n_neg):
    """Exact two-sided sign test (ties excluded): P(at least this lopsided | p = 1/2)."""
    n = n_pos + n_neg
    if n == 0:
        return None
    k = min(n_pos, n_neg)
    tail = math.fsum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


# ---------------------------------------------------------------------------------------------
# Finding and reading runs


def find_run_dirs(roots):
    """(complete, incomplete) run directories below roots, sorted. A directory is a run when it
    holds one of RUN_FILES; one without results.json is incomplete, unless it only holds a
    config.ini and has runs below it (a sweep folder that keeps its base config)."""
    complete, incomplete = {}, {}  # real path -> path as found (overlapping DIRs count once)
    for root in roots:
        if not os.path.isdir(root):
            raise InputError("%s: no such directory (pass the --out directories of the runs, or "
                             "a folder holding them)" % root)
        for path, dirs, files in os.walk(root):
            dirs.sort()
            names = set(files)
            real = os.path.realpath(path)
            if "results.json" in names:
                complete.setdefault(real, os.path.normpath(path))
            elif names & set(RUN_FILES):
                incomplete.setdefault(real, os.path.normpath(path))
    for real in sorted(incomplete):
        if names_in(real) == {"config.ini"}:
            prefix = real + os.sep
            if any(p.startswith(prefix) for p in list(complete) + list(incomplete)):
                del incomplete[real]
    return sorted(complete.values()), sorted(incomplete.values())


def names_in(path):
    return {n for n in RUN_FILES if os.path.exists(os.path.join(path, n))}


def read_config(path):
    """config.ini as {"section.key": value}; {} when the file is absent."""
    if not os.path.exists(path):
        return {}
    parser = configparser.RawConfigParser(strict=False, comment_prefixes=(";", "#"))
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as e:
        raise InputError("%s: not a readable INI file: %s" % (path, e)) from None
    return {"%s.%s" % (s, k): v.strip() for s in parser.sections() for k, v in parser.items(s)}


def truthy(text):
    return str(text).strip().lower() in ("1", "true", "yes", "on")


def method_of(cfg, results):
    """hardy / self-control / uniform from the effective config (results.json's "curriculum"
    flag when config.ini is absent)."""
    if "curriculum.enabled" in cfg:
        enabled = truthy(cfg["curriculum.enabled"])
    else:
        enabled = bool((results or {}).get("curriculum", False))
    if not enabled:
        return "uniform"
    return "self-control" if cfg.get("curriculum.views", "retrieval") == "self" else "hardy"


def last_progress(path):
    """The last per-epoch line of DIR/metrics.jsonl as "phase run epoch E", or None."""
    last = None
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a killed job
                if isinstance(obj, dict) and "epoch" in obj and "phase" in obj:
                    last = obj
    except OSError:
        return None
    if last is None:
        return None
    return "%s %s epoch %s" % (last["phase"], last.get("run", "?"), last["epoch"])


def read_status(path):
    """What DIR/status.json says about a run that ended without results: "preempted (will
    resume when requeued)", "failed (exit 2): MESSAGE", or None (no file: still running, or
    killed before it could write one)."""
    try:
        with open(path, encoding="utf-8") as f:
            status = json.load(f)
    except (OSError, ValueError):
        return None
    state = str(status.get("state", "?"))
    if state == "preempted":
        return "preempted (resumes from its checkpoint when requeued or resubmitted)"
    if state == "failed":
        return "failed (exit %s): %s" % (status.get("exit_code", "?"),
                                         str(status.get("error", "")).strip() or "no message")
    return state


class Run:
    """One run directory: its config, results and identity."""

    def __init__(self, path, cfg, results):
        self.path = path
        self.cfg = cfg
        self.results = results
        self.method = method_of(cfg, results)
        seed = results.get("seed") if results else None
        self.seed = int(seed if seed is not None else cfg.get("run.seed", 1))
        self.dataset = os.path.normpath(str(results.get("dataset") or cfg.get("data.path", "?"))) \
            if results else cfg.get("data.path", "?")
        self.task = results.get("task", "?") if results else "?"
        self.column = None  # set by Collection


def load_results(path):
    file = os.path.join(path, "results.json")
    try:
        with open(file, encoding="utf-8") as f:
            results = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError("%s: cannot read: %s (a results file is written atomically, so this is "
                         "not a partial write; rerun the job or remove the directory)"
                         % (file, e)) from None
    if not isinstance(results, dict) or not isinstance(results.get("runs"), list):
        raise InputError("%s: no \"runs\" list; not a hardy-hpc results file" % file)
    return results


def config_difference(a, b):
    """Config keys (outside VARYING_KEYS) whose values differ between two runs."""
    keys = set(a) | set(b)
    return sorted(k for k in keys if k not in VARYING_KEYS
                  and k.split(".")[0] not in VARYING_SECTIONS and a.get(k) != b.get(k))


class Collection:
    """Every run found, grouped into columns; facts[(column, condition, seed)][fold] = RUN."""

    def __init__(self, roots, group_by=(), allow_mixed=False):
        complete, incomplete = find_run_dirs(roots)
        self.group_by = list(group_by)
        self.runs = [Run(p, read_config(os.path.join(p, "config.ini")), load_results(p))
                     for p in complete]
        self.missing = []
        for p in incomplete:
            cfg = read_config(os.path.join(p, "config.ini"))
            self.missing.append({
                "dir": p, "method": method_of(cfg, None) if cfg else None,
                "seed": int(cfg["run.seed"]) if cfg.get("run.seed", "").isdigit() else None,
                "condition": cfg.get("missing.condition"), "rate": cfg.get("missing.rate") or None,
                "last": last_progress(os.path.join(p, "metrics.jsonl")),
                "state": read_status(os.path.join(p, "status.json"))})
        self.datasets = sorted({r.dataset for r in self.runs})
        self.tasks = sorted({r.task for r in self.runs})
        self.mixed = len(self.datasets) > 1 or len(self.tasks) > 1
        if self.mixed and not allow_mixed:
            raise InputError(self._mixed_message())
        self.notes = []
        self._assign_columns()
        self._collect_facts()
        self._check_folds()
        self._check_configs()

    def _mixed_message(self):
        lines = ["runs on different datasets or tasks cannot share a table:"]
        for ds in self.datasets:
            of = [r for r in self.runs if r.dataset == ds]
            tasks = ",".join(sorted({r.task for r in of}))
            lines.append("  %s (%s): %d run%s, e.g. %s" % (ds, tasks, len(of),
                                                          "" if len(of) == 1 else "s", of[0].path))
        lines.append("aggregate one dataset at a time, or pass --allow-mixed to put each dataset "
                     "in its own columns")
        return "\n".join(lines)

    def _key_names(self):
        """Short names for the --group-by keys: the part after the dot unless ambiguous."""
        short = [k.split(".")[-1] for k in self.group_by]
        return [s if short.count(s) == 1 else k for s, k in zip(short, self.group_by)]

    def _assign_columns(self):
        names = self._key_names()
        for key in self.group_by:
            if self.runs and all(key not in r.cfg for r in self.runs):
                raise InputError("--group-by %s: no run's config.ini has that key (use "
                                 "section.key, e.g. curriculum.score)" % key)
        columns = {}
        for r in self.runs:
            values = tuple(r.cfg.get(k, "?") for k in self.group_by)
            extra = (os.path.basename(r.dataset),) if self.mixed else ()
            label = " ".join([r.method] + ["%s=%s" % kv for kv in zip(names, values)]
                             + ["[%s]" % e for e in extra])
            key = (r.method, values + extra)
            r.column = label
            columns[label] = key
        order = {m: i for i, m in enumerate(METHOD_ORDER)}
        self.columns = sorted(columns, key=lambda c: (columns[c][1], order.get(columns[c][0], 9)))
        self.column_key = columns

    def _collect_facts(self):
        self.facts = {}
        owner = {}
        for r in self.runs:
            for rec in r.results["runs"]:
                cond = str(rec.get("condition"))
                fold = str(rec.get("fold", "none"))
                ident = (r.column, cond, r.seed, fold)
                if ident in owner:
                    other = owner[ident]
                    diff = config_difference(other.cfg, r.cfg)
                    hint = ("their configs differ in %s: add --group-by %s" % (
                        ", ".join(diff), ",".join(diff)) if diff else
                        "keep one of them (move the other out of the searched directories)")
                    raise InputError("%s and %s both hold column '%s', condition %s, seed %d, "
                                     "fold %s; %s" % (other.path, r.path, r.column, cond, r.seed,
                                                      fold, hint))
                owner[ident] = r
                self.facts.setdefault((r.column, cond, r.seed), {})[fold] = rec
        self.conditions = sort_conditions({k[1] for k in self.facts})
        # Every seed of every column is compared on the same folds of a condition: the union
        # of the folds any run holds for it.
        self.expected_folds = {}
        for (_, cond, _), folds in self.facts.items():
            self.expected_folds.setdefault(cond, set()).update(folds)

    def _check_folds(self):
        for (col, cond, seed), folds in sorted(self.facts.items()):
            want = self.expected_folds[cond]
            if set(folds) != want:
                self.notes.append(
                    "column '%s', condition %s, seed %d has folds %s of %s: left out of the "
                    "tables (a fold's run is missing, failed or still running)"
                    % (col, cond, seed, ",".join(sorted(folds)), ",".join(sorted(want))))

    def _check_configs(self):
        for col in self.columns:
            of = [r for r in self.runs if r.column == col]
            self._check_methods(col, of)
            diff = sorted({k for r in of[1:] for k in config_difference(of[0].cfg, r.cfg)})
            if diff:
                self.notes.append("column '%s' mixes runs whose configs differ in %s (pass "
                                  "--group-by %s to separate them)" % (col, ", ".join(diff),
                                                                      ",".join(diff)))

    def _check_methods(self, col, of):
        """Refuse a column whose runs carry different method fingerprints (results.json
        provenance: every result-determining key except seed, fold, condition, rate and data):
        averaging them would mix methods."""
        by_fp = {}
        for r in of:
            fp = (r.results.get("provenance") or {}).get("method_fingerprint")
            if fp:
                by_fp.setdefault(fp, r)
        if len(by_fp) < 2:
            return
        first, other = list(by_fp.values())[:2]
        diff = config_difference(first.cfg, other.cfg)
        raise InputError("column '%s' would average runs whose method settings differ (%d method "
                         "fingerprints; e.g. %s and %s differ in %s): pass --group-by %s to "
                         "separate them, or aggregate them apart"
                         % (col, len(by_fp), first.path, other.path,
                            ", ".join(diff) or "keys outside config.ini",
                            ",".join(diff) or "KEY"))

    def metric_names(self):
        names = set()
        for folds in self.facts.values():
            for rec in folds.values():
                names |= {k for k, v in rec.get("test", {}).items()
                          if k != "n" and isinstance(v, (int, float))}
        known = [m for m in METRIC_ORDER if m in names]
        return known + sorted(names - set(known))


def condition_rate(cond):
    """The missing rate of a condition key "rate0.30", or None for a fixed condition."""
    if cond.startswith("rate"):
        try:
            return float(cond[4:])
        except ValueError:
            return None
    return None


def sort_conditions(conds):
    def key(c):
        rate = condition_rate(c)
        if rate is not None:
            return (1, rate, c)
        return (0, FIXED_ORDER.index(c) if c in FIXED_ORDER else len(FIXED_ORDER), c)
    return sorted(conds, key=key)


# ---------------------------------------------------------------------------------------------
# Aggregation


def metric_of(rec, split, metric, tercile=None):
    block = rec.get(split) if tercile is None else (rec.get("test_by_hardness") or {}).get(tercile)
    if not isinstance(block, dict):
        return None
    value = block.get(metric)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None  # a metric undefined for this run (e.g. corr of constant predictions)
    return float(value)


def seed_values(coll, column, cond, split, metric, tercile=None):
    """{seed: (mean over folds, tuple of folds)} for one cell; seeds lacking a fold of the
    condition, or the metric in any fold, are left out (a partial fold mean would not be
    comparable; _check_folds notes them)."""
    out = {}
    for (col, c, seed), folds in coll.facts.items():
        if col != column or c != cond or set(folds) != coll.expected_folds[c]:
            continue
        values = [metric_of(folds[f], split, metric, tercile) for f in sorted(folds)]
        if values and all(v is not None for v in values):
            out[seed] = (math.fsum(values) / len(values), tuple(sorted(folds)))
    return out


def average_values(coll, column, conds, split, metric, tercile=None):
    """{seed: (mean over conds of the fold means, folds signature)} for seeds with every cond."""
    per = [seed_values(coll, column, c, split, metric, tercile) for c in conds]
    seeds = set.intersection(*(set(p) for p in per)) if per else set()
    return {s: (math.fsum(p[s][0] for p in per) / len(per), tuple(p[s][1] for p in per))
            for s in seeds}


def cell(column, cond, metric, by_seed, tercile=None):
    seeds = sorted(by_seed)
    values = [by_seed[s][0] for s in seeds]
    mean, std, n = mean_std(values)
    out = {"group": column, "condition": cond, "metric": metric, "mean": mean, "std": std, "n": n,
           "seeds": seeds, "values": values}
    if tercile:
        out["tercile"] = tercile
    return out


def average_rows(conds):
    """[(row name, conditions)]: the fixed conditions and the rates are averaged separately
    (a mean of one condition would only repeat its row)."""
    fixed = [c for c in conds if condition_rate(c) is None]
    rates = [c for c in conds if condition_rate(c) is not None]
    return [(name, cs) for name, cs in (("average", fixed), ("average_rate", rates))
            if len(cs) > 1]


def baseline_of(coll, column, baseline):
    """The baseline column matching column's group-by values, or the only baseline column."""
    method, extra = coll.column_key[column]
    if method == baseline:
        return None
    candidates = [c for c in coll.columns if coll.column_key[c][0] == baseline]
    same = [c for c in candidates if coll.column_key[c][1] == extra]
    if same:
        return same[0]
    return candidates[0] if len(candidates) == 1 else None


def paired(column, base, cond, metric, ours, theirs):
    """Paired differences column - base over seeds present in both with the same folds."""
    common = sorted(s for s in set(ours) & set(theirs) if ours[s][1] == theirs[s][1])
    diffs = [ours[s][0] - theirs[s][0] for s in common]
    mean, std, n = mean_std(diffs)
    pos = sum(d > 0 for d in diffs)
    neg = sum(d < 0 for d in diffs)
    better = neg if metric in LOWER_IS_BETTER else pos
    return {"group": column, "baseline": base, "condition": cond, "metric": metric, "mean": mean,
            "std": std, "n": n, "seeds": common, "differences": diffs, "positive": pos,
            "negative": neg, "ties": n - pos - neg, "better": better,
            "sign_test_p": sign_test_p(pos, neg),
            "unpaired_seeds": sorted((set(ours) | set(theirs)) - set(common))}


def summarize(coll, metric=None, split="test", baseline="uniform"):
    """The --json document: every metric's cells, averages, terciles and paired differences."""
    if not coll.runs:
        raise InputError("no completed runs (no results.json) under the given directories" +
                         ("; %d incomplete run(s) found" % len(coll.missing)
                          if coll.missing else ""))
    available = coll.metric_names()
    if metric is None:
        metric = HEADLINE.get(coll.tasks[0], available[0] if available else "wa")
    if metric not in available:
        raise InputError("--metric %s: not in these results (available: %s)"
                         % (metric, ", ".join(available)))
    doc = {"program": "aggregate.py", "datasets": coll.datasets, "tasks": coll.tasks,
           "metric": metric, "metrics": available, "split": split, "baseline": baseline,
           "group_by": coll.group_by, "fraction_metrics": sorted(FRACTION_METRICS),
           "lower_is_better": sorted(LOWER_IS_BETTER),
           "groups": [group_info(coll, c) for c in coll.columns],
           "conditions": coll.conditions, "averages": {}, "cells": [], "by_hardness": [],
           "paired": [], "missing": coll.missing, "notes": coll.notes}
    rows = [(c, [c]) for c in coll.conditions] + average_rows(coll.conditions)
    doc["averages"] = {name: conds for name, conds in rows[len(coll.conditions):]}
    for m in available:
        values = {}
        for col in coll.columns:
            for name, conds in rows:
                values[col, name] = average_values(coll, col, conds, split, m)
                doc["cells"].append(cell(col, name, m, values[col, name]))
                for t in TERCILES:
                    by_seed = average_values(coll, col, conds, "test", m, t)
                    if by_seed:
                        doc["by_hardness"].append(cell(col, name, m, by_seed, t))
        for col in coll.columns:
            base = baseline_of(coll, col, baseline)
            for name, _ in rows if base else ():
                doc["paired"].append(paired(col, base, name, m, values[col, name],
                                            values[base, name]))
    return doc


def group_info(coll, column):
    of = [r for r in coll.runs if r.column == column]
    method, extra = coll.column_key[column]
    wall = [float(r.results.get("wall_seconds", 0.0)) for r in of]
    rank_hours = math.fsum(float(r.results.get("ranks", 1)) * w for r, w in zip(of, wall)) / 3600
    return {"group": column, "method": method, "keys": dict(zip(coll.group_by, extra)),
            "runs": len(of), "seeds": sorted({r.seed for r in of}),
            "wall_seconds_mean": mean_std(wall)[0], "rank_hours": rank_hours,
            "retrieval": retrieval_info(of)}


def retrieval_info(runs):
    """Mean neighbour label agreement (top-1, top-3) of the last curriculum refresh per run."""
    top1, top3 = [], []
    for r in runs:
        for rec in r.results["runs"]:
            refreshes = rec.get("curriculum_refreshes") or []
            if refreshes:
                last = refreshes[-1]
                for key, acc in (("neighbor_label_agreement_top1", top1),
                                 ("neighbor_label_agreement_top3", top3)):
                    if isinstance(last.get(key), (int, float)):
                        acc.append(float(last[key]))
    if not top1 and not top3:
        return None
    return {"label_agreement_top1": mean_std(top1)[0], "label_agreement_top3": mean_std(top3)[0],
            "refreshed_runs": max(len(top1), len(top3))}


# ---------------------------------------------------------------------------------------------
# Output


def scale(metric):
    return 100.0 if metric in FRACTION_METRICS else 1.0


def fmt_cell(c, metric, signed=False):
    if c is None or c["n"] == 0:
        return "-"
    k = scale(metric)
    digits = 2 if k == 100.0 else 4
    text = ("%+.*f" if signed else "%.*f") % (digits, c["mean"] * k)
    if c["std"] is not None:
        text += " ± %.*f" % (digits, c["std"] * k)
    return text + " (%d)" % c["n"]


def row_label(name, doc):
    if name in doc["averages"]:
        what = "rates" if name == "average_rate" else "conditions"
        return "mean of %d %s" % (len(doc["averages"][name]), what)
    return name


def render_table(title, header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).rjust(w) if i else str(v).ljust(w)
                               for i, (v, w) in enumerate(zip(r, widths)))
    out = [title, line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


def unit_note(metric):
    if metric in FRACTION_METRICS:
        return "%s in %%" % metric.upper()
    return metric.upper() + (" (lower is better)" if metric in LOWER_IS_BETTER else "")


def text_metric_table(doc, metric):
    index = {(c["group"], c["condition"]): c for c in doc["cells"] if c["metric"] == metric}
    names = doc["conditions"] + list(doc["averages"])
    rows = [[row_label(n, doc)] + [fmt_cell(index.get((g["group"], n)), metric)
                                   for g in doc["groups"]] for n in names]
    title = "%s, %s split: mean ± std over seeds (n seeds), each seed averaged over its folds" % (
        unit_note(metric), doc["split"])
    return render_table(title, ["condition"] + [g["group"] for g in doc["groups"]], rows)


def text_hardness_table(doc, metric):
    cells = [c for c in doc["by_hardness"] if c["metric"] == metric]
    if not cells:
        return ""
    index = {(c["group"], c["condition"], c["tercile"]): c for c in cells}
    groups = [g["group"] for g in doc["groups"] if any(c["group"] == g["group"] for c in cells)]
    names = doc["conditions"] + list(doc["averages"])
    out = []
    for t in reversed(TERCILES):  # the hard tercile is the one the method is about
        rows = [[row_label(n, doc)] + [fmt_cell(index.get((g, n, t)), metric) for g in groups]
                for n in names if any((g, n, t) in index for g in groups)]
        if rows:
            out.append(render_table("%s on the %s test tercile" % (unit_note(metric), t),
                                    ["condition"] + groups, rows))
    return "\n".join(out)


def text_paired(doc, metric):
    pairs = [p for p in doc["paired"] if p["metric"] == metric]
    if not pairs:
        return ""
    out = []
    for group in dict.fromkeys(p["group"] for p in pairs):
        of = [p for p in pairs if p["group"] == group and p["n"] > 0]
        if not of:
            continue
        rows = []
        for p in of:
            signs = "+%d -%d =%d" % (p["positive"], p["negative"], p["ties"])
            pval = "-" if p["sign_test_p"] is None else "%.3g" % p["sign_test_p"]
            rows.append([row_label(p["condition"], doc), fmt_cell(p, metric, signed=True), signs,
                         "%d/%d" % (p["better"], p["n"]), pval])
        better = "lower" if metric in LOWER_IS_BETTER else "higher"
        title = ("paired %s: %s - %s per seed (same seed, condition and folds); better = %s"
                 % (unit_note(metric), group, of[0]["baseline"], better))
        out.append(render_table(title, ["condition", "difference", "signs", "better",
                                        "sign test p"], rows))
    return "\n".join(out)


def text_report(doc, all_metrics=False):
    out = ["datasets: %s (%s)" % (", ".join(doc["datasets"]), ", ".join(doc["tasks"]))]
    for g in doc["groups"]:
        hours = g["rank_hours"]
        cost = "%.2f rank-hours" % hours if hours >= 0.1 else "%.1f rank-seconds" % (3600 * hours)
        line = "  %-28s %3d run dirs, seeds %s, %s" % (
            g["group"], g["runs"], ",".join(map(str, g["seeds"])), cost)
        if g["retrieval"]:
            line += ", neighbour label agreement top-1 %.3f top-3 %.3f" % (
                g["retrieval"]["label_agreement_top1"] or float("nan"),
                g["retrieval"]["label_agreement_top3"] or float("nan"))
        out.append(line)
    out.append("")
    metrics = [doc["metric"]] + ([m for m in doc["metrics"] if m != doc["metric"]]
                                 if all_metrics else [])
    for m in metrics:
        out.append(text_metric_table(doc, m))
    for part in (text_hardness_table(doc, doc["metric"]), text_paired(doc, doc["metric"])):
        if part:
            out.append(part)
    for note in doc["notes"]:
        out.append("note: " + note)
    if doc["missing"]:
        out.append("missing: %d run director%s without results.json" % (
            len(doc["missing"]), "y" if len(doc["missing"]) == 1 else "ies"))
        for m in doc["missing"]:
            what = ", ".join("%s=%s" % (k, m[k]) for k in ("method", "seed", "condition", "rate")
                             if m[k] not in (None, ""))
            out.append("  %s  (%s; last logged: %s)" % (m["dir"], what, m["last"] or "nothing"))
            if m["state"]:
                out.append("    status.json: %s" % m["state"])
    return "\n".join(out).rstrip("\n") + "\n"


CSV_FIELDS = ("section", "group", "baseline", "condition", "tercile", "metric", "mean", "std", "n",
              "seeds", "positive", "negative", "ties", "sign_test_p", "dir", "state")


def csv_text(doc):
    """One tidy table: cells, hardness terciles and paired differences, one row each."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for section, items in (("cell", doc["cells"]), ("hardness", doc["by_hardness"]),
                           ("paired", doc["paired"])):
        for item in items:
            row = {k: ("" if item.get(k) is None else item.get(k)) for k in CSV_FIELDS}
            row["section"] = section
            row["seeds"] = " ".join(map(str, item["seeds"]))
            for k in ("mean", "std", "sign_test_p"):
                if row[k] != "":
                    row[k] = repr(float(row[k]))
            w.writerow(row)
    for m in doc["missing"]:
        cond = m["condition"] if not m["rate"] else "rate %s" % m["rate"]
        w.writerow({"section": "missing", "group": m["method"] or "", "condition": cond or "",
                    "seeds": "" if m["seed"] is None else m["seed"], "dir": m["dir"],
                    "state": m["state"] or m["last"] or ""})
    return buf.getvalue()


def write_output(path, text):
    if path == "-":
        sys.stdout.write(text)
        return
    if os.path.exists(path) and not os.path.isfile(path):
        # a device or pipe (/dev/null, /dev/stdout): write through it; renaming a temporary
        # file onto it would replace the device itself when run as root
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def add_selection_options(p):
    """The options that decide what a summary holds (shared with plot_results.py)."""
    p.add_argument("--metric", help="headline metric (default wa for classification, mae for "
                   "regression; any key of the results' metrics: ua, f1, corr, acc2, ...)")
    p.add_argument("--split", choices=("test", "validation"), default="test")
    p.add_argument("--group-by", default="", metavar="KEYS",
                   help="comma-separated config keys that also split columns, e.g. "
                   "curriculum.score,hardness.estimator")
    p.add_argument("--baseline", default="uniform", choices=METHOD_ORDER,
                   help="method the paired differences subtract (default uniform)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="accept runs on different datasets (each dataset gets its own columns)")


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run directories or folders of them")
    add_selection_options(p)
    p.add_argument("--all-metrics", action="store_true", help="print a table for every metric")
    p.add_argument("--json", metavar="PATH", help="write the full summary as JSON ('-': stdout)")
    p.add_argument("--csv", metavar="PATH", help="write a tidy CSV ('-': stdout)")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 1 when some runs have no results.json")
    return p


def load_and_summarize(args):
    group_by = [k.strip() for k in args.group_by.split(",") if k.strip()]
    for k in group_by:
        if "." not in k:
            raise InputError("--group-by %s: use section.key, e.g. curriculum.score" % k)
    coll = Collection(args.dirs, group_by, args.allow_mixed)
    return summarize(coll, args.metric, args.split, args.baseline)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        doc = load_and_summarize(args)
    except InputError as e:
        print("aggregate.py: error: %s" % e, file=sys.stderr)
        return EXIT_INPUT
    if args.json:
        write_output(args.json, json.dumps(doc, indent=1, allow_nan=False) + "\n")
    if args.csv:
        write_output(args.csv, csv_text(doc))
    if "-" not in (args.json, args.csv):
        sys.stdout.write(text_report(doc, args.all_metrics))
    for note in doc["notes"]:
        print("aggregate.py: warning: %s" % note, file=sys.stderr)
    if doc["missing"]:
        print("aggregate.py: %d run(s) without results.json (listed above)"
              % len(doc["missing"]), file=sys.stderr)
        if args.strict:
            return EXIT_INCOMPLETE
    return 0


if __name__ == "__main__":
    sys.exit(main())
