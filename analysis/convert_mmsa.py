#!/usr/bin/env python3
"""Convert an MMSA pickle (aligned_50.pkl / unaligned_50.pkl, as IMDer, DiCMoR and MMSA use)
to a hardy-mer v1 HDF5 file.

Input: a dict with 'train', 'valid' and 'test' ('valid' may be absent), each a dict with
  text [n, T, d] floats, audio [n, T, d], vision [n, T, d], audio_lengths [n],
  vision_lengths [n], regression_labels [n] (or [n, 1]) and id [n] = "video$_$clip".
Each utterance's features are the mean over its valid frames [0, length). Text frames are
counted by 'text_lengths' when present, else by the attention mask text_bert[:, 1, :] (MMSA's
BERT layout [n, 3, T]: token ids, mask, segment ids), else all T frames. 'text_bert' holds token
ids, not features, so it is never used as text features. A feature array already 2-D [n, d] is
taken as pooled. A length of 0 is an error, or with --allow-missing a zero vector marked 0 in
/utterance/present.

A video is a dialogue; its utterances are ordered by clip number (numerically when every clip
of the video is an integer), dialogues sorted by (split, video id). The same video in two
splits, duplicate ids and non-finite values in valid frames are errors (exit status 2).
Labels are regression scores in [-3, 3] (task "regression").
"""

import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardy_deps  # noqa: E402  (the install hint before the imports it guards)

hardy_deps.need("numpy", "h5py")
import numpy as np  # noqa: E402

import hardy_h5  # noqa: E402

SPLITS = (("train", 0), ("valid", 1), ("test", 2))
MODALITY_KEYS = (("audio", "audio", "audio_lengths"), ("text", "text", "text_lengths"),
                 ("visual", "vision", "vision_lengths"))
SEP = "$_$"
BLOCK = 1024  # utterances pooled at once, bounding the float64 copy of a block of frames


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pkl", required=True, help="MMSA pickle (aligned_50.pkl / unaligned_50.pkl)")
    p.add_argument("--dataset", required=True, choices=["mosi", "mosei"])
    p.add_argument("--out", required=True, help="output FILE.h5 (written atomically)")
    p.add_argument("--allow-missing", action="store_true",
                   help="a length of 0 gives a zero vector marked 0 in /utterance/present")
    p.add_argument("--nonfinite", choices=["error", "zero"], default="error",
                   help="NaN/Inf in valid frames (MMSA audio has -inf): error (default) or "
                        "zero them and report the count")
    p.add_argument("--gzip", type=int, default=4, metavar="LEVEL",
                   help="gzip level for the features (0 = uncompressed)")
    return p.parse_args(argv)


def load(path):
    obj = hardy_h5.load_pickle(path)
    if not isinstance(obj, dict) or "train" not in obj or "test" not in obj:
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise hardy_h5.ConversionError("%s: expected a dict with 'train', 'valid', 'test', got %s"
                                       % (path, keys))
    return obj


def frame_lengths(part, key, length_key, n, t_max):
    """int [n] valid frames per utterance, and where they came from."""
    if length_key in part:
        return np.asarray(part[length_key]).reshape(-1).astype(np.int64), length_key
    bert = part.get("text_bert") if key == "text" else None
    if bert is not None and np.ndim(bert) == 3 and np.shape(bert)[2] == t_max:
        return np.asarray(bert)[:, 1, :].sum(axis=1).round().astype(np.int64), "text_bert mask"
    return np.full(n, t_max, np.int64), "all frames"


def pool(x, lengths, ids, where, policy, bad):
    """Mean over frames [0, length) of x [n, T, d] -> [n, d] float32; zeroed non-finite count."""
    n, t_max, dim = x.shape
    out = np.zeros((n, dim), np.float32)
    zeroed = 0
    for s in range(0, n, BLOCK):
        block = np.asarray(x[s:s + BLOCK], dtype=np.float64)
        lens = lengths[s:s + BLOCK]
        valid = np.arange(t_max)[None, :, None] < lens[:, None, None]  # [b, T, 1]
        vals = np.where(valid, block, 0.0)
        finite = np.isfinite(vals)
        if not finite.all():
            if policy == "zero":
                zeroed += int((~finite).sum())
                vals = np.where(finite, vals, 0.0)
            else:
                for j in hardy_h5.first_rows(~finite.all(axis=(1, 2))):
                    t, c = np.argwhere(~finite[j])[0]
                    bad.add("non-finite value in a valid frame (--nonfinite zero to zero them)",
                            "%s '%s' frame %d column %d: %r" % (where, ids[s + j], t, c,
                                                               float(vals[j, t, c])))
        out[s:s + len(lens)] = vals.sum(axis=1) / np.maximum(lens, 1)[:, None]
    return out, zeroed


def split_id(raw):
    name = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    if SEP not in name:
        return name, None, None
    video, clip = name.rsplit(SEP, 1)
    return name, video, clip


def convert_split(part, split_name, args, bad):
    """Utterances of one split: list of dicts (name, video, clip, label, feats, present)."""
    ids = [split_id(r) for r in np.asarray(part.get("id", [])).reshape(-1)]
    n = len(ids)
    labels = np.asarray(part.get("regression_labels", []), dtype=np.float64).reshape(-1)
    if len(labels) != n:
        bad.add("array sizes differ", "%s: %d ids, %d regression_labels" % (split_name, n,
                                                                             len(labels)))
        return [], 0
    pooled, present, zeroed = [], np.ones((n, 3), np.uint8), 0
    for i, (mod, key, length_key) in enumerate(MODALITY_KEYS):
        x = np.asarray(part.get(key, np.zeros((0,))))
        where = "%s/%s" % (split_name, key)
        if x.ndim == 2 and x.shape[0] == n:
            pooled.append(x.astype(np.float32))
            continue
        if x.ndim != 3 or x.shape[0] != n or x.shape[1] < 1 or x.shape[2] < 1:
            bad.add("feature array not [n, T, d]", "%s: shape %s for %d ids" % (where, x.shape, n))
            return [], 0
        lengths, _ = frame_lengths(part, key, length_key, n, x.shape[1])
        for j in hardy_h5.first_rows((lengths < 0) | (lengths > x.shape[1])):
            bad.add("length outside [0, T]", "%s '%s': %d (T = %d)"
                    % (where, ids[j][0], lengths[j], x.shape[1]))
        lengths = np.clip(lengths, 0, x.shape[1])
        for j in np.flatnonzero(lengths == 0):
            if args.allow_missing:
                present[j, i] = 0
            else:
                bad.add("length 0 (--allow-missing marks it missing)", "%s '%s'"
                        % (where, ids[j][0]))
        vec, z = pool(x, lengths, [r[0] for r in ids], where, args.nonfinite, bad)
        pooled.append(vec)
        zeroed += z
    utts = []
    for j, (name, video, clip) in enumerate(ids):
        if video is None:
            bad.add("id not of the form video$_$clip", "%s: '%s'" % (split_name, name))
            continue
        if present[j].sum() == 0:
            bad.add("utterance with no modality at all", name)
        if not np.isfinite(labels[j]):
            bad.add("non-finite label", "%s: %r" % (name, labels[j]))
        utts.append({"name": name, "video": video, "clip": clip, "label": labels[j],
                     "speaker": 0, "feats": [p[j] for p in pooled],
                     "present": present[j].tolist()})
    return utts, zeroed


def clip_order(utts):
    clips = [u["clip"] for u in utts]
    numeric = all(c.lstrip("-").isdigit() for c in clips)
    return sorted(utts, key=lambda u: int(u["clip"]) if numeric else u["clip"])


def group_videos(per_split, bad):
    """Dialogues sorted by (split, video); a video may not span splits."""
    videos = collections.OrderedDict()  # video -> (split, [utts])
    names = collections.Counter()
    for split, utts in per_split:
        for u in utts:
            names[u["name"]] += 1
            entry = videos.setdefault(u["video"], (split, []))
            if entry[0] != split:
                bad.add("video in two splits", "'%s': %s and %s" % (
                    u["video"], hardy_h5.SPLIT_NAMES[entry[0]], hardy_h5.SPLIT_NAMES[split]))
                continue
            entry[1].append(u)
    for name, n in names.items():
        if n > 1:
            bad.add("duplicate id", "'%s' appears %d times" % (name, n))
    return [{"name": vid, "split": split, "fold": -1, "utts": clip_order(utts)}
            for vid, (split, utts) in sorted(videos.items(), key=lambda kv: (kv[1][0], kv[0]))]


def convert(args):
    data = load(args.pkl)
    bad = hardy_h5.Offenders()
    per_split, zeroed = [], 0
    for split_name, code in SPLITS:
        if split_name in data:
            utts, z = convert_split(data[split_name], split_name, args, bad)
            per_split.append((code, utts))
            zeroed += z
    dialogues = group_videos(per_split, bad)
    dims = set()
    for d in dialogues:
        dims.add(tuple(len(f) for f in d["utts"][0]["feats"]))
    if not dialogues:
        bad.add("no utterances", "the train/valid/test parts hold no ids")
    if len(dims) > 1:
        bad.add("feature dimension differs between splits", sorted(dims))
    bad.raise_if_any("%s" % args.pkl)
    if zeroed:
        print("warning: %d non-finite values in valid frames set to 0 (--nonfinite zero)"
              % zeroed, file=sys.stderr)
    source = "convert_mmsa.py --dataset %s pkl=%s%s" % (
        args.dataset, args.pkl, " allow-missing" if args.allow_missing else "")
    ds = hardy_h5.assemble(dialogues, list(dims.pop()), "regression", 1, None, source)
    hardy_h5.write(args.out, ds, gzip=args.gzip)
    hardy_h5.summary(ds, "wrote " + args.out)


if __name__ == "__main__":
    hardy_h5.run(lambda: convert(parse_args()))
