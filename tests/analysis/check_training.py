#!/usr/bin/env python3
"""Check analysis/plot_training.py on the fixtures of make_fixtures.py.

`check_training.py PLOT_TRAINING_PY FIXTURES WORK` writes WORK/resumed.png and WORK/killed.png
(checked as PNGs by the calling script) and exits 0 when every check passes.

Fixture numbers: every epoch line has loss 2/epoch, utt_per_s 500 + 10 epoch, compute_s 1.6,
allreduce_wait_s 0.4, seconds 2.0; the resumed run first logs stage-2 epoch 2 with loss 9.9 and
utt_per_s 1.0, then a checkpoint (850 MB/s), then epoch 2 again with the real numbers. So stage
2 has 3 epochs with losses 2, 1, 2/3, mean utt/s (510 + 520 + 530)/3 = 520, compute 4.8 s, wait
1.2 s, wait share 0.2; one line superseded. The killed run's 9th line is cut off.
"""

import json
import os
import sys

from checklib import check, finish, near, run


def main():
    script, fx, work = sys.argv[1:4]
    out = os.path.join(work, "train.json")
    rc, text, err = run(script, os.path.join(fx, "resumed"), "--out",
                        os.path.join(work, "resumed.png"), "--json", out)
    check(rc == 0, "resumed run plots (exit %d, %s)" % (rc, err.strip()))
    doc = json.load(open(out))
    stage2 = doc["series"]["at"]["stage2"]
    check([x["epoch"] for x in stage2] == [1, 2, 3], "stage 2 has epochs 1, 2, 3 once each")
    near(stage2[1]["loss"], 1.0, "loss of the repeated epoch 2 (the later line)")
    near(stage2[1]["utt_per_s"], 520.0, "utt/s of the repeated epoch 2")
    check(doc["superseded"] == 1, "one line superseded by the resume")
    s = doc["summary"]["stage2"]
    near(s["compute_s"], 4.8, "stage-2 compute seconds")
    near(s["allreduce_wait_s"], 1.2, "stage-2 allreduce wait seconds")
    near(s["allreduce_share"], 0.2, "stage-2 allreduce share")
    near(s["utt_per_s_mean"], 520.0, "stage-2 mean utt/s")
    near(doc["summary"]["checkpoint"]["write_mb_per_s_mean"], 850.0, "checkpoint MB/s")
    check(doc["validation_metric"] == "wa", "validation metric of a classification run is wa")
    check("repeated after a resume" in text, "the summary mentions the resume")
    check(doc["selected_epochs"] == {"at": 2}, "selected epoch of run 'at' from results.json")

    rc, _, err = run(script, os.path.join(fx, "study", "hardy_s4"), "--out",
                     os.path.join(work, "killed.png"), "--json", out)
    check(rc == 0, "a killed run still plots (exit %d)" % rc)
    check("line(s) 9" in err, "the cut-off line 9 is reported")
    doc = json.load(open(out))
    check(doc["unreadable_lines"] == [9], "unreadable lines = [9]")
    check("stage2" not in doc["series"]["at/fold1"], "the killed run never reached stage 2")

    rc, _, err = run(script, os.path.join(fx, "resumed"), "--run", "tv/fold9", "--out",
                     os.path.join(work, "x.png"))
    check(rc == 2 and "runs: at" in err, "an unknown --run exits 2 naming the runs")
    rc, _, err = run(script, work, "--out", os.path.join(work, "y.png"))
    check(rc == 2 and "metrics.jsonl" in err, "a folder without metrics.jsonl exits 2")
    check(not os.path.exists(os.path.join(work, "x.png")), "no PNG after a refusal")
    return finish("plot_training")


if __name__ == "__main__":
    sys.exit(main())
