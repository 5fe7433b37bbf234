#!/usr/bin/env python3
"""The paper's hardness figures of one hardy-hpc training run, from the files it writes.

`plot_hardness.py DIR [--run TAG] [--data FILE.h5] --out PLOTDIR` reads DIR/hardness-<tag>.h5
(every training utterance's direct and indirect hardness, score and global rank q; one file per
condition, rate and fold), the neighbour lists and budgets of DIR/checkpoints/<tag>-final.h5
(tables neighbors/id and curriculum/budget, by global utterance id) and the dataset's labels
and names (the path in DIR/results.json or config.ini, relative to the current folder or to
DIR; --data overrides), and writes into PLOTDIR (each as .pdf and 300-dpi .png):

  hardness_scatter    indirect (summed cross-modal MI) against direct (reconstruction error)
                      hardness per training utterance, colour = global hardness rank q, one
                      panel per condition / rate / fold, Spearman rho in each title;
  k_agreement         the distribution of the neighbour budget k over the training set per
                      condition, and how often the retrieved neighbours share the anchor's
                      class (regression: the sign of its score) against hardness (q deciles);
  neighbours_<tag>    a table figure of the hardest and easiest utterances of one condition
                      (--run, default the first) with their scores and retrieved neighbours
                      (name, class, same class or not); also written as neighbours_<tag>.md.

A run without the curriculum (no teacher, no hardness file) has nothing to draw: exit 2, as for
unreadable input. Needs numpy, h5py and matplotlib (docs/ANALYSIS.md).
"""

import argparse
import configparser
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardy_deps  # noqa: E402  (the install hint before the imports it guards)

hardy_deps.need("numpy", "h5py", "matplotlib")
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

import aggregate  # noqa: E402
import figstyle  # noqa: E402  (sets the Agg backend)

EXIT_INPUT = 2
MAX_PANELS = 12
SHOWN = 5  # hardest and easiest utterances in the table


class InputError(Exception):
    """Unusable input: the program prints the message and exits with status 2."""


def text_of(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def tags_of(directory):
    """Run tags with a hardness file, in condition order (a, t, ..., then rates), then fold."""
    tags = [f[len("hardness-"):-3] for f in os.listdir(directory)
            if f.startswith("hardness-") and f.endswith(".h5")]

    def key(tag):
        cond, _, fold = tag.partition("-fold")
        return (aggregate.sort_conditions([cond, "atv"]).index(cond) if cond != "atv" else 0,
                aggregate.condition_rate(cond) or 0.0, cond, int(fold) if fold.isdigit() else -1)
    return sorted(tags, key=key)


def read_hardness(path):
    with h5py.File(path, "r") as f:
        g = f["hardness"]
        out = {k: g[k][()] for k in ("id", "mask", "direct", "mi", "indirect", "direct_norm",
                                     "indirect_norm", "score", "q")}
        out["attrs"] = {k: (text_of(v) if isinstance(v, (bytes, str)) else v)
                        for k, v in g.attrs.items()}
    order = np.argsort(out["id"])
    return {k: (v[order] if isinstance(v, np.ndarray) else v) for k, v in out.items()}


def read_table(path, name):
    """{id: row} of a checkpoint table as (ids, data [n, width]), or None when absent."""
    with h5py.File(path, "r") as f:
        key = "tables/%s" % name
        if key + "/id" not in f:
            return None
        return f[key + "/id"][()], f[key + "/data"][()]


def dataset_path(directory, given):
    if given:
        return given
    candidates = []
    try:
        with open(os.path.join(directory, "results.json"), encoding="utf-8") as f:
            candidates.append(json.load(f).get("dataset"))
    except (OSError, ValueError):
        pass
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(os.path.join(directory, "config.ini"))
    candidates.append(cfg.get("data", "path", fallback=None))
    for c in filter(None, candidates):
        for base in ("", directory, os.path.dirname(os.path.abspath(directory))):
            p = os.path.join(base, c)
            if os.path.isfile(p):
                return p
    raise InputError("%s: cannot find the dataset (%s) from here or from the run directory; "
                     "pass --data FILE.h5" % (directory, " or ".join(filter(None, candidates))
                                              or "no data.path"))


def read_dataset(path):
    with h5py.File(path, "r") as f:
        label = f["utterance/label"][()]
        names = [text_of(s) for s in f["utterance/name"][()]]
        classes = f.attrs.get("class_names")
        task = text_of(f.attrs.get("task", "classification"))
    classes = None if classes is None else [text_of(c) for c in classes]
    return {"label": label, "name": names, "classes": classes, "task": task}


def spearman(a, b):
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def panel_grid(n):
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    return rows, cols


def plot_scatter(runs, stem):
    tags = list(runs)[:MAX_PANELS]
    rows, cols = panel_grid(len(tags))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols + 0.8, 2.4 * rows + 0.5),
                             squeeze=False)
    sc = None
    for ax, tag in zip(axes.flat, tags):
        h = runs[tag]["hardness"]
        sc = ax.scatter(h["direct"], h["mi"], c=h["q"], s=5, cmap="viridis", vmin=0, vmax=1,
                        linewidths=0)
        rho = spearman(h["direct"], h["indirect"])
        ax.set_title("%s (n=%d), Spearman(direct, indirect) %+.2f" % (tag, len(h["id"]), rho),
                     fontsize=7)
        ax.set_xlabel("direct: reconstruction error")
        ax.set_ylabel("indirect: summed MI (%s)" % h["attrs"].get("estimator", "?"))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tags):]:
        ax.axis("off")
    fig.tight_layout()
    bar = fig.colorbar(sc, ax=axes.ravel().tolist(), shrink=0.8, pad=0.02)
    sign = runs[tags[0]]["hardness"]["attrs"].get("mi_sign", "low_is_hard")
    bar.set_label("hardness rank q (1 = hardest)")
    fig.suptitle("teacher hardness of the training utterances (MI sign: %s)" % sign, fontsize=8,
                 y=1.02)
    return figstyle.save(fig, stem)


def agreement(run, labels, task):
    """(q, share of each utterance's first-k neighbours that agree with it, top-1 agree)."""
    ids, nbr = run["neighbors"]
    q = run["q_by_id"](ids)
    if task == "regression":
        cls = labels > 0
    else:
        cls = labels
    same = cls[nbr] == cls[ids][:, None]
    return q, same.mean(axis=1), same[:, 0].astype(float)


def plot_k_agreement(runs, data, stem):
    tags = [t for t in runs if runs[t].get("neighbors") is not None][:8]
    if not tags:
        return None
    colours = {t: figstyle.PALETTE[i % len(figstyle.PALETTE)] for i, t in enumerate(tags)}
    fig, (ax_k, ax_a) = plt.subplots(1, 2, figsize=(8.0, 3.1))
    K = max(runs[t]["neighbors"][1].shape[1] for t in tags)
    width = 0.8 / len(tags)
    for i, t in enumerate(tags):
        budget = runs[t]["budget"]
        counts = np.bincount(budget, minlength=K + 1)[:K + 1] if budget is not None else None
        if counts is not None:
            ax_k.bar(np.arange(K + 1) + (i - (len(tags) - 1) / 2) * width,
                     100.0 * counts / max(1, counts.sum()), width * 0.92, color=colours[t],
                     label="%s (n=%d)" % (t, counts.sum()))
    ax_k.set_xticks(range(K + 1))
    ax_k.set_xlabel("neighbour budget k (retrieved views)")
    ax_k.set_ylabel("training utterances in %")
    ax_k.set_ylim(0, 100)
    ax_k.set_title("k distribution")
    ax_k.grid(axis="y", alpha=0.3)
    ax_k.legend(frameon=False)
    edges = np.linspace(0, 1, 11)
    for t in tags:
        q, share, top1 = agreement(runs[t], data["label"], data["task"])
        b = np.clip(np.digitize(q, edges[1:-1]), 0, 9)
        mids, means, sems = [], [], []
        for j in range(10):
            s = share[b == j]
            if len(s):
                mids.append((edges[j] + edges[j + 1]) / 2)
                means.append(100 * s.mean())
                sems.append(100 * s.std(ddof=1) / np.sqrt(len(s)) if len(s) > 1 else 0.0)
        means, sems = np.array(means), np.array(sems)
        ax_a.fill_between(mids, means - sems, means + sems, color=colours[t], alpha=0.2, lw=0)
        ax_a.plot(mids, means, marker="o", ms=3, lw=1.2, color=colours[t],
                  label="%s: top-1 %.0f%%, all %.0f%%" % (t, 100 * top1.mean(),
                                                          100 * share.mean()))
    K_txt = "top-%d" % K
    what = "share the anchor's class" if data["task"] != "regression" else \
        "share the sign of the anchor's score"
    ax_a.set_xlabel("hardness rank q (deciles; 1 = hardest)")
    ax_a.set_ylabel("%s neighbours that agree, %%" % K_txt, fontsize=7)
    ax_a.set_ylim(0, 100)
    ax_a.set_xlim(0, 1)
    ax_a.set_title("neighbours that %s (band: ± s.e.)" % what, fontsize=8)
    ax_a.grid(alpha=0.3)
    ax_a.legend(frameon=False, fontsize=6)
    fig.tight_layout()
    return figstyle.save(fig, stem)


def class_text(data, i):
    v = data["label"][i]
    if data["task"] == "regression":
        return "%+.2f" % float(v)
    c = int(v)
    return data["classes"][c] if data["classes"] and c < len(data["classes"]) else str(c)


def modalities(mask_row):
    return "".join(m for m, on in zip("atv", mask_row) if on) or "-"


def neighbour_rows(run, data):
    """Rows of the hardest and easiest SHOWN utterances: list of (section, cells)."""
    h = run["hardness"]
    order = np.argsort(h["q"])
    nbr_of = {}
    budget_of = {}
    if run.get("neighbors") is not None:
        ids, nbr = run["neighbors"]
        nbr_of = dict(zip(ids.tolist(), nbr.tolist()))
    if run.get("budget") is not None:
        budget_of = dict(zip(run["budget_ids"].tolist(), run["budget"].tolist()))
    out = []
    for section, picks in (("hardest", order[::-1][:SHOWN]), ("easiest", order[:SHOWN])):
        for j in picks:
            uid = int(h["id"][j])
            own = class_text(data, uid)
            nb = []
            for n in nbr_of.get(uid, [])[:3]:
                mark = "=" if class_text(data, n) == own else "≠"
                nb.append("%s (%s %s)" % (data["name"][n], class_text(data, n), mark))
            out.append((section, [
                "%.3f" % h["q"][j], data["name"][uid], own, modalities(h["mask"][j]),
                "%.3f" % h["score"][j], "%.3g" % h["direct"][j], "%.3g" % h["mi"][j],
                str(budget_of.get(uid, "-")), "; ".join(nb) or "-"]))
    return out


HEADER = ["q", "utterance", "class", "present", "score h", "direct", "MI", "k",
          "first neighbours (class, = same / ≠ other)"]


def neighbours_markdown(tag, rows):
    lines = ["| | " + " | ".join(HEADER) + " |", "|" + "---|" * (len(HEADER) + 1)]
    for section, cells in rows:
        lines.append("| %s | %s |" % (section, " | ".join(c.replace("|", "/") for c in cells)))
    return "Hardest and easiest training utterances of %s\n\n%s\n" % (tag, "\n".join(lines))


def plot_neighbours(tag, rows, stem):
    fig, ax = plt.subplots(figsize=(9.0, 0.2 * (len(rows) + 1) + 0.3))
    ax.axis("off")
    cells = [[s] + c for s, c in rows]
    table = ax.table(cellText=cells, colLabels=[""] + HEADER, cellLoc="left", colLoc="left",
                     bbox=[0, 0, 1, 1])
    table.auto_set_font_size(False)
    table.set_fontsize(6)
    table.auto_set_column_width(list(range(len(HEADER) + 1)))
    for (r, c), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        if r == 0:
            cell.set_facecolor("#DDDDDD")
        elif cells[r - 1][0] == "hardest":
            cell.set_facecolor("#FBE3D6")
        else:
            cell.set_facecolor("#DCEBF7")
    ax.set_title("%s: the %d hardest and %d easiest training utterances and their retrieved "
                 "neighbours" % (tag, SHOWN, SHOWN), fontsize=8)
    return figstyle.save(fig, stem)


def load_runs(directory, only=None):
    tags = tags_of(directory)
    if not tags:
        raise InputError("%s: no hardness-<run>.h5 (only runs with curriculum.enabled = true "
                         "score hardness)" % directory)
    if only:
        unknown = sorted(set(only) - set(tags))
        if unknown:
            raise InputError("--run %s: no hardness file (have: %s)" % (", ".join(unknown),
                                                                        ", ".join(tags)))
        tags = [t for t in tags if t in only]
    runs = {}
    for t in tags:
        h = read_hardness(os.path.join(directory, "hardness-%s.h5" % t))
        run = {"hardness": h, "neighbors": None, "budget": None}
        final = os.path.join(directory, "checkpoints", "%s-final.h5" % t)
        if os.path.isfile(final):
            run["neighbors"] = read_table(final, "neighbors/id")
            b = read_table(final, "curriculum/budget")
            if b is not None:
                run["budget_ids"], run["budget"] = b[0], b[1][:, 0].astype(int)
        pos = {int(i): k for k, i in enumerate(h["id"])}
        run["q_by_id"] = lambda ids, h=h, pos=pos: np.array([h["q"][pos[int(i)]] for i in ids])
        runs[t] = run
    return runs


def plot_dir(directory, out, data_path=None, only=None):
    """Every figure for one run directory; returns the PNG paths and the markdown tables."""
    runs = load_runs(directory, only)
    data = read_dataset(dataset_path(directory, data_path))
    os.makedirs(out, exist_ok=True)
    made = [plot_scatter(runs, os.path.join(out, "hardness_scatter"))]
    made.append(plot_k_agreement(runs, data, os.path.join(out, "k_agreement")))
    tag = list(runs)[0]
    rows = neighbour_rows(runs[tag], data)
    made.append(plot_neighbours(tag, rows, os.path.join(out, "neighbours_%s" % tag)))
    md = neighbours_markdown(tag, rows)
    with open(os.path.join(out, "neighbours_%s.md" % tag), "w", encoding="utf-8") as f:
        f.write(md)
    return [m for m in made if m], md


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", metavar="DIR", help="the --out directory of a curriculum run")
    p.add_argument("--out", required=True, metavar="PLOTDIR")
    p.add_argument("--run", action="append", metavar="TAG",
                   help="only this condition / rate / fold, e.g. at or at-fold1 (repeatable)")
    p.add_argument("--data", metavar="FILE.h5", help="the dataset (default: the run's data.path)")
    args = p.parse_args(argv)
    try:
        made, _ = plot_dir(args.dir, args.out, args.data, args.run)
    except (InputError, OSError, KeyError) as e:
        print("plot_hardness.py: error: %s" % (e if not isinstance(e, KeyError) else
                                               "missing dataset %s" % e), file=sys.stderr)
        return EXIT_INPUT
    return 0 if made else EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
