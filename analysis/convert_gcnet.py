#!/usr/bin/env python3
"""Convert the GCNet / MERBench / MoMKE feature layout to a hardy-mer v1 HDF5 file.

Inputs: a label pickle and three feature folders with one .npy per utterance.
  IEMOCAP (iemocap4, iemocap6): a list of 6, [videoIDs, videoLabels, videoSpeakers,
    videoSentences, trainVid, testVid], loaded with encoding='latin1'. Labels are the pickle's
    ints, read as iemocap4: 0 hap (happy + excited), 1 sad, 2 neu, 3 ang; iemocap6: 0 hap,
    1 sad, 2 neu, 3 ang, 4 exc, 5 fru. Fold = session digit of the dialogue id (Ses0X -> X).
    trainVid -> split 0, testVid -> split 2 (the trainer carves validation from train).
  MOSI, MOSEI: a list of 7, [videoIDs, videoLabels, videoSpeakers, videoSentences, trainVids,
    valVids, testVids]; float sentiment labels (regression); splits 0/1/2; fold -1.
Features: <dir>/<utt>.npy of shape [D] or [T, D] (mean over T). IEMOCAP faces may be a folder
<visual>/<utt>/ holding compress_F.npy and compress_M.npy: the file of the utterance's own
speaker is taken (the gender letter after the last '_' of the utterance id, Ses01F_impro01_F000
-> F; otherwise the pickle's videoSpeakers entry).

Utterances belong to videos only through videoIDs (video ids may contain '_'); utterances keep
the pickle's order inside a video; dialogues are written sorted by (split, video id). Videos in
videoIDs but in no split list are left out (reported). Bad input (missing files, inconsistent
dims, duplicate ids, non-finite values, ...) is reported in one list and exits with status 2.
"""

import argparse
import collections
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardy_deps  # noqa: E402  (the install hint before the imports it guards)

hardy_deps.need("numpy", "h5py")
import numpy as np  # noqa: E402

import hardy_h5  # noqa: E402

CLASS_NAMES = {
    "iemocap4": ["hap", "sad", "neu", "ang"],
    "iemocap6": ["hap", "sad", "neu", "ang", "exc", "fru"],
}
PICKLE_FIELDS = {
    "iemocap": ["videoIDs", "videoLabels", "videoSpeakers", "videoSentences", "trainVid",
                "testVid"],
    "mos": ["videoIDs", "videoLabels", "videoSpeakers", "videoSentences", "trainVids",
            "valVids", "testVids"],
}
SESSION = re.compile(r"^Ses0*(\d+)")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", required=True, choices=["iemocap4", "iemocap6", "mosi", "mosei"])
    p.add_argument("--labels", required=True, help="label pickle (list of 6 or 7)")
    p.add_argument("--audio", required=True, help="folder of <utt>.npy audio features")
    p.add_argument("--text", required=True, help="folder of <utt>.npy text features")
    p.add_argument("--visual", required=True,
                   help="folder of <utt>.npy, or <utt>/compress_{F,M}.npy (IEMOCAP faces)")
    p.add_argument("--out", required=True, help="output FILE.h5 (written atomically)")
    p.add_argument("--allow-missing", action="store_true",
                   help="zero-fill missing feature files and mark them 0 in /utterance/present")
    p.add_argument("--nonfinite", choices=["error", "zero"], default="error",
                   help="NaN/Inf in a feature file: error (default) or zero them and report "
                        "the count")
    p.add_argument("--gzip", type=int, default=4, metavar="LEVEL",
                   help="gzip level for the features (0 = uncompressed)")
    return p.parse_args(argv)


def load_pickle(path, dataset):
    family = "iemocap" if dataset.startswith("iemocap") else "mos"
    fields = PICKLE_FIELDS[family]
    obj = hardy_h5.load_pickle(path)
    if not isinstance(obj, (list, tuple)) or len(obj) != len(fields):
        got = ("a %s of %d" % (type(obj).__name__, len(obj))
               if isinstance(obj, (list, tuple)) else "a %s" % type(obj).__name__)
        raise hardy_h5.ConversionError(
            "%s: expected a list of %d [%s] for --dataset %s, got %s"
            % (path, len(fields), ", ".join(fields), dataset, got))
    for name, value in zip(fields[:3], obj[:3]):
        if not isinstance(value, dict):
            raise hardy_h5.ConversionError("%s: %s should be a dict video -> list, got %s"
                                           % (path, name, type(value).__name__))
    return dict(zip(fields, obj)), fields


def video_splits(p, fields, bad):
    """video -> split, from the pickle's split lists (train 0, valid 1, test 2)."""
    lists = fields[4:]
    codes = [0, 2] if len(lists) == 2 else [0, 1, 2]
    split_of = {}
    for name, code in zip(lists, codes):
        for vid in p[name]:
            if vid not in p["videoIDs"]:
                bad.add("video in a split list but not in videoIDs", "%s: %s" % (name, vid))
            elif split_of.setdefault(vid, code) != code:
                bad.add("video in two split lists", "%s: %s and %s" % (
                    vid, hardy_h5.SPLIT_NAMES[split_of[vid]], hardy_h5.SPLIT_NAMES[code]))
    unused = [v for v in p["videoIDs"] if v not in split_of]
    if unused:
        print("warning: %d videos in videoIDs are in no split list and are left out (e.g. %s)"
              % (len(unused), ", ".join(str(v) for v in unused[:5])), file=sys.stderr)
    return split_of


def speaker_key(value):
    """'M'/'F' strings stay; one-hot vectors become their argmax; numbers become ints."""
    arr = np.asarray(value)
    if arr.dtype.kind in "US":
        return str(value)
    if arr.ndim == 1 and arr.size > 1:
        return int(np.argmax(arr))
    return int(arr.reshape(-1)[0])


def gender_letter(utt, speaker_value):
    tail = utt.rsplit("_", 1)[-1]
    if tail[:1] in ("F", "M"):
        return tail[:1]
    if isinstance(speaker_value, str) and speaker_value[:1] in ("F", "M"):
        return speaker_value[:1]
    return None


def feature_path(folder, utt, modality, dataset, speaker_value):
    """Where the utterance's feature file is; IEMOCAP face folders hold one file per speaker."""
    if modality == "visual" and dataset.startswith("iemocap"):
        face_dir = os.path.join(folder, utt)
        if os.path.isdir(face_dir):
            letter = gender_letter(utt, speaker_value)
            if letter is None:
                return None, "%s: cannot tell the speaker (no F/M after the last '_', " \
                             "videoSpeakers %r)" % (face_dir, speaker_value)
            return os.path.join(face_dir, "compress_%s.npy" % letter), None
    return os.path.join(folder, utt + ".npy"), None


def parse_label(value, regression):
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size != 1:
        return None
    if regression:
        return float(arr[0])
    return int(arr[0]) if arr[0] == int(arr[0]) else None


def collect_videos(p, split_of, args, bad):
    """Dialogues (sorted by split, id) with utterance names, labels and speakers."""
    regression = not args.dataset.startswith("iemocap")
    seen = collections.Counter()
    dialogues = []
    for vid in sorted(split_of, key=lambda v: (split_of[v], str(v))):
        utts = [str(u) for u in p["videoIDs"][vid]]
        labels = list(p["videoLabels"].get(vid, []))
        speakers = list(p["videoSpeakers"].get(vid, []))
        if len(labels) != len(utts) or len(speakers) != len(utts):
            bad.add("list lengths differ", "%s: %d utterances, %d labels, %d speakers"
                    % (vid, len(utts), len(labels), len(speakers)))
            continue
        if not utts:
            bad.add("video without utterances", str(vid))
            continue
        fold = -1
        if not regression:
            m = SESSION.match(str(vid))
            if not m:
                bad.add("IEMOCAP dialogue id without a session digit (Ses0X...)", str(vid))
                continue
            fold = int(m.group(1))
        d = {"name": str(vid), "split": split_of[vid], "fold": fold, "utts": []}
        for utt, lab, spk in zip(utts, labels, speakers):
            seen[utt] += 1
            value = parse_label(lab, regression)
            if value is None:
                bad.add("bad label", "%s: %r" % (utt, lab))
            elif regression and not np.isfinite(value):
                bad.add("bad label", "%s: %r is not finite" % (utt, lab))
            d["utts"].append({"name": utt, "label": value, "speaker": speaker_key(spk),
                              "speaker_raw": spk, "feats": [None] * 3, "present": [1, 1, 1]})
        dialogues.append(d)
    for utt, n in seen.items():
        if n > 1:
            bad.add("duplicate utterance id", "%s appears %d times in videoIDs" % (utt, n))
    return dialogues


def load_features(dialogues, args, bad):
    """Fill each utterance's pooled vectors; returns dims [3] and the zeroed non-finite count."""
    folders = [args.audio, args.text, args.visual]
    dims_seen = [collections.defaultdict(list) for _ in range(3)]  # dim -> utterances
    n_zeroed = 0
    for d in dialogues:
        for u in d["utts"]:
            for i, m in enumerate(hardy_h5.MODALITIES):
                path, why = feature_path(folders[i], u["name"], m, args.dataset,
                                         u["speaker_raw"])
                if why:
                    bad.add("unknown speaker for a face folder", why)
                    continue
                if not os.path.isfile(path):
                    if args.allow_missing:
                        u["present"][i] = 0
                    else:
                        bad.add("missing feature file", path)
                    continue
                try:
                    raw = np.load(path, allow_pickle=False)
                except (ValueError, OSError) as e:
                    bad.add("unreadable feature file", "%s: %s" % (path, e))
                    continue
                vec = hardy_h5.mean_pool(raw)
                if vec is None:
                    bad.add("feature array not [D] or [T, D] with T, D > 0",
                            "%s: shape %s" % (path, raw.shape))
                    continue
                finite = np.isfinite(vec)
                if not finite.all():
                    if args.nonfinite == "zero":
                        n_zeroed += int((~finite).sum())
                        vec = np.where(finite, vec, 0).astype(np.float32)
                    else:
                        bad.add("non-finite feature values (--nonfinite zero to zero them)",
                                "%s: column %d" % (path, int(np.flatnonzero(~finite)[0])))
                        continue
                u["feats"][i] = vec
                dims_seen[i][vec.shape[0]].append(path)
            if args.allow_missing and sum(u["present"]) == 0:
                bad.add("utterance with no modality at all", u["name"])
    dims = []
    for i, m in enumerate(hardy_h5.MODALITIES):
        if not dims_seen[i]:
            bad.add("no feature files", "%s folder %s" % (m, folders[i]))
            dims.append(1)
            continue
        common = max(dims_seen[i], key=lambda k: len(dims_seen[i][k]))
        dims.append(common)
        for dim, paths in sorted(dims_seen[i].items()):
            if dim != common:
                for path in paths:
                    bad.add("inconsistent feature dimension",
                            "%s: D = %d, most %s files have D = %d" % (path, dim, m, common))
    return dims, n_zeroed


def convert(args):
    p, fields = load_pickle(args.labels, args.dataset)
    bad = hardy_h5.Offenders()
    split_of = video_splits(p, fields, bad)
    dialogues = collect_videos(p, split_of, args, bad)
    bad.raise_if_any("%s: the label pickle" % args.labels)
    dims, n_zeroed = load_features(dialogues, args, bad)
    hint = None if args.allow_missing else \
        "(--allow-missing zero-fills missing files and marks them in /utterance/present)"
    bad.raise_if_any("%s: the feature files" % args.dataset, hint)
    if n_zeroed:
        print("warning: %d non-finite feature values set to 0 (--nonfinite zero)" % n_zeroed,
              file=sys.stderr)
    regression = not args.dataset.startswith("iemocap")
    source = ("convert_gcnet.py --dataset %s labels=%s audio=%s text=%s visual=%s%s"
              % (args.dataset, args.labels, args.audio, args.text, args.visual,
                 " allow-missing" if args.allow_missing else ""))
    ds = hardy_h5.assemble(dialogues, dims, "regression" if regression else "classification",
                           1 if regression else len(CLASS_NAMES[args.dataset]),
                           None if regression else CLASS_NAMES[args.dataset], source)
    hardy_h5.write(args.out, ds, gzip=args.gzip)
    hardy_h5.summary(ds, "wrote " + args.out)


if __name__ == "__main__":
    hardy_h5.run(lambda: convert(parse_args()))
