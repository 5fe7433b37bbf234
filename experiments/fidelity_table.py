#!/usr/bin/python3
"""Tables for experiments/fidelity.sh: test WA of training runs, arm against arm.

    fidelity_table.py DIR ARM [ARM ...]

Reads DIR/<ARM>-s<seed>/results.json (as `hardy-hpc train --out` writes it). Per seed, the
test WA is averaged over the run's conditions (what papers report); each arm gets mean ± std
(n - 1) over seeds, and per condition mean ± std. Every arm after the first is compared with
the first, paired by seed: mean and std of the difference, and on how many seeds it is higher.
Prints a Markdown table. Exit 2 when an arm has no finished run.
"""
import glob
import json
import os
import re
import statistics
import sys


def load(dir_, arm):
    seeds = {}
    for path in sorted(glob.glob(os.path.join(dir_, f"{arm}-s*", "results.json"))):
        seed = int(re.search(r"-s(\d+)$", os.path.dirname(path)).group(1))
        runs = json.load(open(path))["runs"]
        seeds[seed] = {r["condition"]: r["test"]["wa"] for r in runs}
    return seeds


def ms(values):
    m = statistics.mean(values)
    s = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{100 * m:.2f} ± {100 * s:.2f}"


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: fidelity_table.py DIR ARM [ARM ...]")
    dir_, arms = sys.argv[1], sys.argv[2:]
    data = {a: load(dir_, a) for a in arms}
    for a, d in data.items():
        if not d:
            print(f"{dir_}: no finished runs of arm '{a}'", file=sys.stderr)
            sys.exit(2)
    conds = list(next(iter(next(iter(data.values())).values())).keys())
    avg = {a: {s: statistics.mean(c.values()) for s, c in d.items()} for a, d in data.items()}
    print(f"| arm | seeds | mean WA over conditions | " + " | ".join(conds) + " |")
    print("|---|---|---|" + "---|" * len(conds))
    for a, d in data.items():
        cells = [ms([d[s][c] for s in d]) for c in conds]
        print(f"| {a} | {','.join(map(str, sorted(d)))} | **{ms(list(avg[a].values()))}** | "
              + " | ".join(cells) + " |")
    base = arms[0]
    for a in arms[1:]:
        common = sorted(set(avg[a]) & set(avg[base]))
        diff = [avg[a][s] - avg[base][s] for s in common]
        wins = sum(x > 0 for x in diff)
        print(f"\n{a} - {base}, paired by seed (n = {len(common)}): {ms(diff)} WA points; "
              f"higher on {wins} of {len(common)} seeds")


if __name__ == "__main__":
    main()
