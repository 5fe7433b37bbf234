#!/usr/bin/env python3
"""Write fixture run directories with known numbers for the analysis tests.

`make_fixtures.py OUT` creates, in the layout `hardy-hpc train --out DIR` writes (config.ini,
results.json, metrics.jsonl):

  OUT/study/   4-class runs (IEMOCAP-like): methods hardy, uniform and self-control, seeds 1-3,
               conditions at and tv, folds 1 and 2 (hardy and uniform carry test_by_hardness on
               condition at), plus hardy seed 4 killed in stage 1 (no results.json, its
               metrics.jsonl ends in a cut-off line), uniform seed 4 failed (status.json),
               and self-control seed 5 with only fold 1 of condition at (WA 0.99);
  OUT/sweep/   a Slurm-array rate sweep: one task directory per (method, rate, seed), hardy and
               uniform, rates 0.1 / 0.3 / 0.5, seeds 1-2, the file's own split (fold "none");
  OUT/sigmoid/ hardy with curriculum.score = sigmoid, seeds 1-2, condition at, folds 1-2;
  OUT/regression/ a regression dataset (uniform and hardy, seeds 1-2, rate 0.3);
  OUT/resumed/ one run whose metrics.jsonl repeats stage-2 epoch 2 after a resume.

The test-split WA of every (method, condition, seed, fold) is listed in the tables below;
check_aggregate.py holds the means, stds and differences computed from them by hand.
"""

import json
import os
import sys

# WA per fold: (method, condition) -> {seed: (fold 1, fold 2)}
STUDY_WA = {
    ("hardy", "at"): {1: (0.70, 0.74), 2: (0.75, 0.77), 3: (0.79, 0.81)},
    ("uniform", "at"): {1: (0.68, 0.70), 2: (0.71, 0.73), 3: (0.74, 0.76)},
    ("self-control", "at"): {1: (0.69, 0.71), 2: (0.72, 0.74), 3: (0.72, 0.74)},
    ("hardy", "tv"): {1: (0.58, 0.62), 2: (0.62, 0.62), 3: (0.66, 0.68)},
    ("uniform", "tv"): {1: (0.60, 0.62), 2: (0.62, 0.62), 3: (0.62, 0.64)},
    ("self-control", "tv"): {1: (0.61, 0.63), 2: (0.62, 0.62), 3: (0.65, 0.65)},
}
# Hard / medium / easy tercile WA = WA + offset (only condition at, only these methods).
TERCILE_OFFSET = {"easy": 0.10, "medium": 0.0, "hard": -0.20}
TERCILE_METHODS = ("hardy", "uniform")
# WA of the rate sweep: (method, rate) -> {seed: WA}
SWEEP_WA = {
    ("hardy", 0.1): {1: 0.74, 2: 0.76}, ("hardy", 0.3): {1: 0.70, 2: 0.70},
    ("hardy", 0.5): {1: 0.60, 2: 0.66},
    ("uniform", 0.1): {1: 0.73, 2: 0.73}, ("uniform", 0.3): {1: 0.66, 2: 0.68},
    ("uniform", 0.5): {1: 0.58, 2: 0.60},
}
SIGMOID_WA = {1: (0.73, 0.75), 2: (0.74, 0.74)}
REGRESSION_MAE = {"uniform": {1: 0.60, 2: 0.64}, "hardy": {1: 0.58, 2: 0.60}}

METHOD_CURRICULUM = {"hardy": ("true", "retrieval"), "uniform": ("false", "retrieval"),
                     "self-control": ("true", "self")}


def config_text(dataset, method, seed, condition="atv", rate="", fold="all", score="rank"):
    enabled, views = METHOD_CURRICULUM[method]
    sections = [
        ("data", [("path", dataset), ("fold", fold), ("val_fraction", "0.1"),
                  ("allow_nonfinite", "error")]),
        ("missing", [("condition", condition), ("rate", rate)]),
        ("run", [("seed", seed), ("threads", "0"), ("name", "%s-s%d" % (method, seed)),
                 ("progress_seconds", "10")]),
        ("model", [("hidden", "256"), ("depth", "4"), ("heads", "2"), ("dropout", "0.5")]),
        ("train", [("batch_dialogues", "16"), ("lr", "0.0001"), ("stage1_epochs", "25"),
                   ("stage2_epochs", "25")]),
        ("teacher", [("warmup_epochs", "100"), ("epochs", "100"), ("checkpoint", "")]),
        ("hardness", [("estimator", "entropy"), ("mi_sign", "low_is_hard"), ("scorer", "teacher")]),
        ("retrieval", [("k", "3"), ("space", "input")]),
        ("curriculum", [("enabled", enabled), ("score", score), ("k_min", "0"),
                        ("pacing", "none"), ("refresh_every", "0"), ("views", views),
                        ("dynamic_k", "true")]),
        ("checkpoint", [("every_steps", "0"), ("every_seconds", "1800"), ("keep", "2")]),
    ]
    out = []
    for name, items in sections:
        out.append("[%s]" % name)
        out.extend("%s = %s" % (k, v) for k, v in items)
        out.append("")
    return "\n".join(out)


def class_metrics(wa):
    return {"wa": wa, "ua": wa - 0.01, "f1": wa - 0.02, "n": 100}


def reg_metrics(mae):
    return {"mae": mae, "corr": 0.7, "acc2": 0.8, "acc2_has0": 0.79, "f1": 0.8, "n": 50}


def run_record(condition, fold, test, curriculum, by_hardness=None, refreshes=None, selected=20):
    rec = {"condition": condition, "fold": fold, "selected_epoch": selected,
           "validation": dict(test), "test": test, "curriculum": curriculum, "seconds": 60.0}
    if by_hardness:
        rec["test_by_hardness"] = by_hardness
    if refreshes:
        rec["curriculum_refreshes"] = refreshes
    return rec


def mean_block(records, split):
    keys = [k for k in records[0][split] if k != "n"]
    out = {k: sum(r[split][k] for r in records) / len(records) for k in keys}
    out["n"] = records[0][split]["n"]
    out["runs"] = len(records)
    return out


def results_doc(dataset, task, method, seed, records):
    conditions = {}
    for rec in records:
        conditions.setdefault(rec["condition"], []).append(rec)
    cond_doc = {c: {"folds": {str(r["fold"]): r for r in rs},
                    "validation": mean_block(rs, "validation"), "test": mean_block(rs, "test")}
                for c, rs in conditions.items()}
    return {"program": "hardy-hpc 0.1.0", "dataset": dataset, "task": task,
            "run_name": "%s-s%d" % (method, seed), "seed": seed, "curriculum": method != "uniform",
            "ranks": 4, "threads": 1, "wall_seconds": 900.0, "conditions": cond_doc,
            "validation": mean_block(records, "validation"), "test": mean_block(records, "test"),
            "runs": records}


def epoch_lines(run, phases, val_metric, resume_at=None):
    """Per-epoch metrics.jsonl objects; resume_at=(phase, epoch) repeats that epoch later with
    different numbers, as a resumed run does (the repeated line is the one that counts)."""
    lines, step = [], 0
    for phase, n_epochs in phases:
        for epoch in range(1, n_epochs + 1):
            step += 10
            obj = {"phase": phase, "run": run, "epoch": epoch, "steps": 10, "global_step": step,
                   "loss": 2.0 / epoch, "loss_task": 1.5 / epoch, "loss_rec": 0.5 / epoch,
                   "utterances": 1000, "utt_per_s": 500.0 + 10 * epoch, "seconds": 2.0,
                   "compute_s": 1.6, "allreduce_wait_s": 0.4}
            if phase == "stage2":
                obj["validation"] = {val_metric: 0.5 + 0.05 * epoch, "n": 100}
            if resume_at == (phase, epoch):
                stale = dict(obj, loss=9.9, utt_per_s=1.0)
                lines.append(stale)
                lines.append({"phase": "checkpoint", "run": run, "name": "step%d" % step,
                              "write_mb_per_s": 850.0, "seconds": 0.5})
            lines.append(obj)
        if phase == "stage1":
            lines.append({"phase": "hardness", "run": run, "seconds": 1.2, "estimator": "entropy"})
    return lines


PHASES = [("teacher_warmup", 2), ("teacher", 2), ("stage1", 2), ("stage2", 3)]


def write_run(path, cfg, results=None, lines=(), tail=""):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.ini"), "w") as f:
        f.write(cfg)
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        for obj in lines:
            f.write(json.dumps(obj) + "\n")
        f.write(tail)
    if results is not None:
        with open(os.path.join(path, "results.json"), "w") as f:
            json.dump(results, f, indent=1)


def hardness_block(wa):
    return dict({t: class_metrics(wa + off) for t, off in TERCILE_OFFSET.items()},
                source="teacher")


def refreshes_for(method):
    if method != "hardy":
        return None
    return [{"epoch": 1, "k_distribution": [25, 25, 25, 25], "neighbor_label_agreement_top1": 0.6,
             "neighbor_label_agreement_top3": 0.55}]


def make_study(out, dataset):
    for method in ("hardy", "uniform", "self-control"):
        for seed in (1, 2, 3):
            records = []
            for cond in ("at", "tv"):
                for fold, wa in zip((1, 2), STUDY_WA[method, cond][seed]):
                    hard = hardness_block(wa) if cond == "at" and method in TERCILE_METHODS \
                        else None
                    records.append(run_record(cond, fold, class_metrics(wa), method != "uniform",
                                              hard, refreshes_for(method)))
            path = os.path.join(out, "study", "%s_s%d" % (method, seed))
            write_run(path, config_text(dataset, method, seed, "at, tv"),
                      results_doc(dataset, "classification", method, seed, records),
                      epoch_lines("at/fold1", PHASES, "wa"))
    lines = epoch_lines("at/fold1", [("teacher_warmup", 2), ("teacher", 2), ("stage1", 3)], "wa")
    write_run(os.path.join(out, "study", "hardy_s4"), config_text(dataset, "hardy", 4, "at, tv"),
              None, lines, tail='{"phase": "stage1", "run": "at/fold1", "epo')
    # A fold job of a one-fold-per-job layout whose other fold never ran: must not count.
    write_run(os.path.join(out, "study", "self-control_s5_fold1"),
              config_text(dataset, "self-control", 5, "at", fold="1"),
              results_doc(dataset, "classification", "self-control", 5,
                          [run_record("at", 1, class_metrics(0.99), True)]))
    path = os.path.join(out, "study", "uniform_s4")
    write_run(path, config_text(dataset, "uniform", 4, "at, tv"), None,
              epoch_lines("at/fold1", [("teacher_warmup", 1)], "wa"))
    with open(os.path.join(path, "status.json"), "w") as f:
        json.dump({"state": "failed", "exit_code": 3, "error": "out of memory on rank 2"}, f)


def make_sweep(out, dataset):
    task = 0
    for (method, rate), by_seed in sorted(SWEEP_WA.items()):
        for seed, wa in sorted(by_seed.items()):
            cond = "rate%.2f" % rate
            rec = run_record(cond, "none", class_metrics(wa), method != "uniform")
            path = os.path.join(out, "sweep", "task_%04d" % task)
            write_run(path, config_text(dataset, method, seed, "atv", "%g" % rate, "none"),
                      results_doc(dataset, "classification", method, seed, [rec]),
                      epoch_lines(cond, PHASES, "wa"))
            task += 1


def make_sigmoid(out, dataset):
    for seed, folds in SIGMOID_WA.items():
        records = [run_record("at", fold, class_metrics(wa), True)
                   for fold, wa in zip((1, 2), folds)]
        write_run(os.path.join(out, "sigmoid", "hardy_sigmoid_s%d" % seed),
                  config_text(dataset, "hardy", seed, "at", score="sigmoid"),
                  results_doc(dataset, "classification", "hardy", seed, records))


def make_regression(out):
    dataset = "data/fixture-regression.h5"
    for method, by_seed in REGRESSION_MAE.items():
        for seed, mae in by_seed.items():
            rec = run_record("rate0.30", "none", reg_metrics(mae), method != "uniform")
            write_run(os.path.join(out, "regression", "%s_s%d" % (method, seed)),
                      config_text(dataset, method, seed, "atv", "0.3", "none"),
                      results_doc(dataset, "regression", method, seed, [rec]),
                      epoch_lines("rate0.30", PHASES, "mae"))


def make_resumed(out, dataset):
    rec = run_record("at", "none", class_metrics(0.7), True, selected=2)
    lines = epoch_lines("at", PHASES, "wa", resume_at=("stage2", 2))
    write_run(os.path.join(out, "resumed"), config_text(dataset, "hardy", 1, "at", fold="none"),
              results_doc(dataset, "classification", "hardy", 1, [rec]), lines)


def main():
    if len(sys.argv) != 2:
        print("usage: make_fixtures.py OUT", file=sys.stderr)
        return 2
    out = sys.argv[1]
    dataset = "data/fixture-4class.h5"
    make_study(out, dataset)
    make_sweep(out, dataset)
    make_sigmoid(out, dataset)
    make_regression(out)
    make_resumed(out, dataset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
