"""Content checks of converted files against the values the fixtures planted (fixtures.py).

  check.py iemocap FILE [missing]   check.py mosei FILE [missing]   check.py mmsa FILE [empty]
  check.py table DIR                check.py digits FILE CSV_GZ
Each check reads the file with h5py, asserts exact values (pooled features are exact in
float32 for the planted numbers; tolerance 1e-6 relative where a division is involved) and
exits 1 with the first failed assertion.
"""

import gzip
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

MODS = ("audio", "text", "visual")


def expect(cond, what):
    if not cond:
        print("check failed: %s" % what, file=sys.stderr)
        sys.exit(1)


def near(got, want, what, rtol=1e-6):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    expect(got.shape == want.shape and np.allclose(got, want, rtol=rtol, atol=1e-6),
           "%s: got %s, want %s" % (what, got.tolist(), want.tolist()))


def strings(dset):
    return [s.decode() if isinstance(s, bytes) else str(s) for s in dset[()]]


def common(f, task, n_classes):
    expect(f.attrs["format"] == "hardy-mer" and int(f.attrs["version"]) == 1, "format/version")
    expect(f.attrs["task"] == task, "task %s" % f.attrs["task"])
    expect(int(f.attrs["num_classes"]) == n_classes, "num_classes %s" % f.attrs["num_classes"])
    expect(list(f.attrs["modalities"]) == list(MODS), "modalities")
    for m in MODS:
        d = f["features/" + m]
        expect(d.dtype == np.float32 and d.chunks is not None and d.chunks[0] <= 4096,
               "features/%s float32, chunked along N" % m)
    expect(f["utterance/label"].dtype == (np.int32 if task == "classification" else np.float32),
           "label dtype")
    expect(f["utterance/speaker"].dtype == np.int32 and f["dialogue/offset"].dtype == np.int64
           and f["dialogue/split"].dtype == np.int8 and f["dialogue/fold"].dtype == np.int32,
           "speaker/offset/split/fold dtypes")


def check_iemocap(path, variant):
    f = h5py.File(path, "r")
    common(f, "classification", 4)
    expect(list(f.attrs["class_names"]) == ["hap", "sad", "neu", "ang"], "class names")
    videos = fixtures.IEMOCAP_VIDEOS
    expect(strings(f["dialogue/name"]) == [v for v, _, _ in videos], "dialogue order")
    expect(f["dialogue/offset"][()].tolist() == [0, 3, 5, 8], "offsets")
    expect(f["dialogue/split"][()].tolist() == [0, 0, 2], "splits: trainVid 0, testVid 2")
    expect(f["dialogue/fold"][()].tolist() == [1, 2, 5], "folds from the session digits")
    utts = [u for _, _, us in videos for u in us]
    expect(strings(f["utterance/name"]) == [u for u, _, _ in utts], "utterance order")
    expect(f["utterance/label"][()].tolist() == [lab for _, lab, _ in utts], "labels")
    expect(f["utterance/speaker"][()].tolist() == [0, 1, 0, 0, 1, 0, 1, 0],
           "speaker ids by first appearance within the dialogue")
    feats = {m: f["features/" + m][()] for m in MODS}
    for g, (utt, _, spk) in enumerate(utts):
        audio = fixtures.audio_feature(g).mean(axis=0)
        if variant == "missing" and utt == "Ses01F_impro01_M000":
            audio = np.zeros(4)
        near(feats["audio"][g], audio, "pooled [T, D] audio of %s" % utt)
        near(feats["text"][g], fixtures.text_feature(g), "text of %s" % utt)
        own = [1000.0 + g, 0.0] if spk == "F" else [2000.0 + g, 1.0]
        near(feats["visual"][g], own, "face of %s's own speaker %s" % (utt, spk))
    if variant == "missing":
        present = f["utterance/present"][()]
        want = np.ones((8, 3), np.uint8)
        want[1, 0] = 0
        expect(present.dtype == np.uint8 and (present == want).all(), "present marks the file")
    else:
        expect("utterance/present" not in f, "no present dataset when nothing is missing")


def check_mosei(path, variant):
    f = h5py.File(path, "r")
    common(f, "regression", 1)
    order = ["abc_def", "zz", "abc", "-3g5yACwYnA_x"]  # sorted by (split, id)
    expect(strings(f["dialogue/name"]) == order, "dialogue order %s" % strings(f["dialogue/name"]))
    expect(f["dialogue/split"][()].tolist() == [0, 0, 1, 2], "splits from train/val/test lists")
    expect(f["dialogue/fold"][()].tolist() == [-1] * 4, "no folds")
    by_vid = {v: (us, i) for i, (v, _, us) in enumerate(fixtures.MOSEI_VIDEOS)}
    g_of, g = {}, 0
    for _, _, us in fixtures.MOSEI_VIDEOS:
        for u, _ in us:
            g_of[u] = g
            g += 1
    want_names = [u for v in order for u, _ in by_vid[v][0]]
    expect(strings(f["utterance/name"]) == want_names,
           "utterances grouped by videoIDs ('_' in video ids): %s" % strings(f["utterance/name"]))
    expect(f["dialogue/offset"][()].tolist() == [0, 2, 3, 4, 7], "offsets")
    near(f["utterance/label"][()], [lab for v in order for _, lab in by_vid[v][0]], "labels")
    expect(f["utterance/speaker"][()].tolist() == [0] * 7, "one-hot speakers -> 0")
    vis = f["features/visual"][()]
    for row, u in enumerate(want_names):
        near(f["features/audio"][row], fixtures.audio_feature(g_of[u]).mean(axis=0), "audio " + u)
        want = [0.0, 0.0] if variant == "missing" and u == "abc_1" else [3000.0 + g_of[u], 7.0]
        near(vis[row], want, "visual " + u)
    if variant == "missing":
        present = f["utterance/present"][()]
        expect(present[3].tolist() == [1, 1, 0] and present.sum() == 20, "abc_1 visual missing")


def check_mmsa(path, variant):
    f = h5py.File(path, "r")
    common(f, "regression", 1)
    expect(strings(f["dialogue/name"]) == ["v_B", "vidA", "vidC", "vidD"], "videos sorted")
    expect(f["dialogue/split"][()].tolist() == [0, 0, 1, 2], "splits")
    names = strings(f["utterance/name"])
    expect(names == ["v_B$_$1", "vidA$_$2", "vidA$_$3", "vidA$_$10", "vidC$_$7", "vidD$_$0",
                     "vidD$_$1"], "clips in numeric order: %s" % names)
    k, row_of = 0, {}
    for split, rows in fixtures.MMSA_SPLITS.items():
        for r in rows:
            row_of[r[0]] = (k, r)
            k += 1
    for row, name in enumerate(names):
        kk, (_, label, la, lv, lt) = row_of[name]
        if variant == "empty" and name == "vidC$_$7":
            lv = 0
        near(f["utterance/label"][row], label, "label " + name)
        near(f["features/audio"][row], [kk + (la - 1) / 20.0] * 5, "audio over valid frames " + name)
        near(f["features/text"][row], [kk + (lt - 1) / 20.0] * 3, "text over the bert mask " + name)
        near(f["features/visual"][row], [kk + (lv - 1) / 20.0 if lv else 0.0] * 4, "vision " + name)
    if variant == "empty":
        present = f["utterance/present"][()]
        expect(present[4].tolist() == [1, 1, 0] and present.sum() == 20, "vidC vision missing")


def check_table(out):
    f = h5py.File(os.path.join(out, "csv.h5"), "r")
    common(f, "classification", 3)
    expect(list(f.attrs["class_names"]) == ["cat", "dog", "emu"], "sorted string classes")
    i = np.arange(9.0)
    near(f["features/audio"][()], np.stack([i, i + 0.5], 1), "csv columns 0-1")
    near(f["features/text"][()], -i[:, None], "csv column 2")
    near(f["features/visual"][()], np.stack([2 * i, i * i], 1), "csv columns 3-4")
    expect(f["dialogue/split"][()].tolist() == [0, 2, 1] * 3, "split column")
    expect(f["dialogue/offset"][()].tolist() == list(range(10)), "one utterance per dialogue")

    f = h5py.File(os.path.join(out, "arff.h5"), "r")
    common(f, "classification", 2)
    expect(list(f.attrs["class_names"]) == ["no", "yes"], "nominal order")
    expect(f["utterance/label"][()].tolist() == [0, 1] * 3, "nominal labels")
    near(f["features/text"][()][:, 0], np.arange(6) / 4.0, "arff column 1")
    split = f["dialogue/split"][()]
    labels = f["utterance/label"][()]
    expect([(split[labels == c] == 2).sum() for c in (0, 1)] == [1, 1],
           "stratified test fraction: round(0.34 * 3) = 1 per class")
    expect(sorted(np.bincount(f["dialogue/fold"][()])[1:].tolist()) == [3, 3], "2 folds of 3")

    f = h5py.File(os.path.join(out, "idx.h5"), "r")
    common(f, "classification", 3)
    imgs = np.arange(48.0).reshape(4, 4, 3) * 0.5
    near(f["features/audio"][()], imgs[:, 0, :], "image row 0")
    near(f["features/text"][()], imgs[:, 1:3, :].reshape(4, 6), "image rows 1-2")
    near(f["features/visual"][()], imgs[:, 3, :], "image row 3")
    expect(f["dialogue/split"][()].tolist() == [0, 0, 0, 2], "test images split 2")
    expect(strings(f["utterance/name"]) == ["train/0", "train/1", "train/2", "test/0"], "names")

    f = h5py.File(os.path.join(out, "holes.h5"), "r")
    expect(f["utterance/present"][()].tolist() == [[1, 1, 1], [0, 1, 1], [1, 1, 0]],
           "missing cells mark their view")
    near(f["features/audio"][1], [0.0], "missing cell zero-filled")
    near(f["utterance/label"][()], [0.5, 1.5, 2.5], "regression labels")


def check_digits(path, csv_gz):
    f = h5py.File(path, "r")
    common(f, "classification", 10)
    table = np.loadtxt(gzip.open(csv_gz, "rt"), delimiter=",")
    expect(table.shape == (1797, 65), "digits.csv.gz is 1797 x 65")
    dims = [f["features/" + m].shape for m in MODS]
    expect(dims == [(1797, 24), (1797, 16), (1797, 24)], "dims 24/16/24: %s" % dims)
    near(f["features/audio"][()], table[:, 0:24] / 16.0, "image rows 0-2 scaled by 1/16")
    near(f["features/text"][()], table[:, 24:40] / 16.0, "image rows 3-4")
    near(f["features/visual"][()], table[:, 40:64] / 16.0, "image rows 5-7")
    labels = f["utterance/label"][()]
    expect((labels == table[:, 64]).all(), "labels from the last column")
    expect(len(np.unique(labels)) == 10, "10 classes present")
    split = f["dialogue/split"][()]
    per_class = np.bincount(labels[split == 2], minlength=10)
    want = [int(round(0.2 * n)) for n in np.bincount(labels, minlength=10)]
    expect(per_class.tolist() == want, "stratified 20%% test split: %s vs %s" % (per_class, want))
    expect(f["dialogue/offset"].shape == (1798,), "1797 dialogues")


def main():
    kind, args = sys.argv[1], sys.argv[2:]
    variant = args[1] if len(args) > 1 and kind != "digits" else ""
    {"iemocap": lambda: check_iemocap(args[0], variant),
     "mosei": lambda: check_mosei(args[0], variant),
     "mmsa": lambda: check_mmsa(args[0], variant),
     "table": lambda: check_table(args[0]),
     "digits": lambda: check_digits(args[0], args[1])}[kind]()
    print("ok: %s %s" % (kind, " ".join(args)))


if __name__ == "__main__":
    main()
