"""The hardy dataset file (HDF5 "hardy-mer" version 1, DATA_FORMAT.md) on the Python side.

This module owns what every converter shares: the in-memory Dataset (numpy arrays in file
layout), the validator that applies the rules the C reader enforces, the atomic writer
(FILE.tmp, re-read and re-validated, then renamed), the reader used by tests, the per-split /
fold / class summary, and the error conventions (ConversionError -> message on stderr, exit 2;
Offenders lists the first 10 problems of each kind with counts).

Run as a program it checks existing files: `hardy_h5.py FILE.h5 ...` validates each and prints
its counts (exit 2 when a file breaks a rule).
"""

import collections
import os
import pickle
import sys

import h5py
import numpy as np

FORMAT = "hardy-mer"
VERSION = 1
MODALITIES = ("audio", "text", "visual")
SPLIT_NAMES = {0: "train", 1: "validation", 2: "test"}
EXIT_INPUT = 2
MAX_LISTED = 10
# Rows per feature chunk: large enough for efficient collective reads, small enough that a
# rank reading a shard does not decompress much beyond its own rows.
CHUNK_ROWS = 4096

STR_DTYPE = h5py.string_dtype(encoding="utf-8")


class ConversionError(Exception):
    """Bad input or a rule broken: the program prints the message and exits with status 2."""


class Offenders:
    """Problems grouped by kind, reported together so one run shows everything to fix."""

    def __init__(self):
        self.kinds = collections.OrderedDict()  # kind -> [first MAX_LISTED items]
        self.counts = collections.Counter()

    def add(self, kind, item):
        self.counts[kind] += 1
        listed = self.kinds.setdefault(kind, [])
        if len(listed) < MAX_LISTED:
            listed.append(str(item))

    def __bool__(self):
        return bool(self.counts)

    def message(self, header, hint=None):
        total = sum(self.counts.values())
        lines = ["%s: %d problem%s" % (header, total, "" if total == 1 else "s")]
        for kind, items in self.kinds.items():
            n = self.counts[kind]
            shown = "" if n <= len(items) else " (first %d shown)" % len(items)
            lines.append("  %s: %d%s" % (kind, n, shown))
            lines.extend("    " + it for it in items)
        if hint:
            lines.append(hint)
        return "\n".join(lines)

    def raise_if_any(self, header, hint=None):
        if self:
            raise ConversionError(self.message(header, hint))


class Dataset:
    """One dataset in file layout: utterances sorted by dialogue.

    features: dict modality -> float32 [N, d_m]; label: int32 [N] (classification) or float32
    [N] (regression); speaker: int32 [N]; present: uint8 [N, 3] or None (all present);
    utt_name: list of N str; offset: int64 [D+1]; split: int8 [D]; fold: int32 [D];
    dlg_name: list of D str.
    """

    def __init__(self, features, label, speaker, utt_name, offset, split, fold, dlg_name,
                 task, num_classes, class_names=None, present=None, source=""):
        self.features = {m: np.ascontiguousarray(features[m], dtype=np.float32)
                         for m in MODALITIES}
        self.task = task
        label_type = np.int32 if task == "classification" else np.float32
        self.label = np.ascontiguousarray(label, dtype=label_type)
        self.speaker = np.ascontiguousarray(speaker, dtype=np.int32)
        self.present = None if present is None else np.ascontiguousarray(present, dtype=np.uint8)
        self.utt_name = [str(s) for s in utt_name]
        self.offset = np.ascontiguousarray(offset, dtype=np.int64)
        self.split = np.ascontiguousarray(split, dtype=np.int8)
        self.fold = np.ascontiguousarray(fold, dtype=np.int32)
        self.dlg_name = [str(s) for s in dlg_name]
        self.num_classes = int(num_classes)
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.source = str(source)

    @property
    def n_utt(self):
        return len(self.label)

    @property
    def n_dialogue(self):
        return len(self.split)


def first_rows(mask, limit=MAX_LISTED):
    """Indices of the first `limit` true entries of a boolean array."""
    return np.flatnonzero(mask)[:limit].tolist()


def _check_shapes(ds, bad):
    n_utt, n_dlg = ds.n_utt, ds.n_dialogue
    if ds.task not in ("classification", "regression"):
        bad.add("attribute task", "'%s' is neither classification nor regression" % ds.task)
    if ds.task == "regression" and ds.num_classes != 1:
        bad.add("attribute num_classes", "regression needs num_classes 1, got %d" % ds.num_classes)
    if ds.num_classes < 1:
        bad.add("attribute num_classes", "must be >= 1, got %d" % ds.num_classes)
    if ds.class_names is not None and len(ds.class_names) != ds.num_classes:
        bad.add("attribute class_names", "%d names for %d classes"
                % (len(ds.class_names), ds.num_classes))
    for m in MODALITIES:
        f = ds.features[m]
        if f.ndim != 2 or f.shape[0] != n_utt or f.shape[1] < 1:
            bad.add("shape", "/features/%s has shape %s, expected [%d, d >= 1]"
                    % (m, f.shape, n_utt))
    for path, arr, rows in (("/utterance/label", ds.label, n_utt),
                            ("/utterance/speaker", ds.speaker, n_utt),
                            ("/dialogue/offset", ds.offset, n_dlg + 1),
                            ("/dialogue/fold", ds.fold, n_dlg)):
        if arr.shape != (rows,):
            bad.add("shape", "%s has shape %s, expected [%d]" % (path, arr.shape, rows))
    if ds.present is not None and ds.present.shape != (n_utt, 3):
        bad.add("shape", "/utterance/present has shape %s, expected [%d, 3]"
                % (ds.present.shape, n_utt))
    if len(ds.utt_name) != n_utt:
        bad.add("shape", "/utterance/name has %d entries for %d utterances"
                % (len(ds.utt_name), n_utt))
    if len(ds.dlg_name) != n_dlg:
        bad.add("shape", "/dialogue/name has %d entries for %d dialogues"
                % (len(ds.dlg_name), n_dlg))
    if n_dlg < 1:
        bad.add("shape", "no dialogues")


def _check_values(ds, bad, allow_nonfinite):
    off = ds.offset
    if off[0] != 0:
        bad.add("/dialogue/offset", "offset[0] = %d, must be 0" % off[0])
    if off[-1] != ds.n_utt:
        bad.add("/dialogue/offset", "offset[%d] = %d, must equal N = %d"
                % (len(off) - 1, off[-1], ds.n_utt))
    for d in first_rows(np.diff(off) <= 0):
        bad.add("/dialogue/offset", "dialogue %d ('%s') is empty or reversed: offset %d -> %d"
                % (d, ds.dlg_name[d], off[d], off[d + 1]))
    for d in first_rows(~np.isin(ds.split, (0, 1, 2))):
        bad.add("/dialogue/split", "row %d ('%s'): %d not in {0, 1, 2}"
                % (d, ds.dlg_name[d], ds.split[d]))
    for d in first_rows(ds.fold < -1):
        bad.add("/dialogue/fold", "row %d ('%s'): %d < -1" % (d, ds.dlg_name[d], ds.fold[d]))
    if ds.task == "classification":
        out = (ds.label < 0) | (ds.label >= ds.num_classes)
        for i in first_rows(out):
            bad.add("/utterance/label", "row %d ('%s'): %d not in [0, %d)"
                    % (i, ds.utt_name[i], ds.label[i], ds.num_classes))
    else:
        for i in first_rows(~np.isfinite(ds.label)):
            bad.add("/utterance/label", "row %d ('%s'): %r is not finite"
                    % (i, ds.utt_name[i], float(ds.label[i])))
    for i in first_rows(ds.speaker < 0):
        bad.add("/utterance/speaker", "row %d ('%s'): %d < 0" % (i, ds.utt_name[i], ds.speaker[i]))
    if ds.present is not None:
        for i in first_rows((ds.present > 1).any(axis=1)):
            bad.add("/utterance/present", "row %d ('%s'): values %s not in {0, 1}"
                    % (i, ds.utt_name[i], ds.present[i].tolist()))
        for i in first_rows(ds.present.sum(axis=1) == 0):
            bad.add("/utterance/present", "row %d ('%s'): no modality present"
                    % (i, ds.utt_name[i]))
    if not allow_nonfinite:
        for m in MODALITIES:
            rows = np.flatnonzero(~np.isfinite(ds.features[m]).all(axis=1))
            for i in rows[:MAX_LISTED]:
                col = int(np.flatnonzero(~np.isfinite(ds.features[m][i]))[0])
                bad.add("non-finite feature", "/features/%s row %d ('%s') column %d: %r"
                        % (m, i, ds.utt_name[i], col, float(ds.features[m][i, col])))


def _check_names(ds, bad):
    """Converter-side rule (not a reader rule): source ids are unique."""
    for what, names in (("duplicate utterance name", ds.utt_name),
                        ("duplicate dialogue name", ds.dlg_name)):
        for name, n in collections.Counter(names).items():
            if n > 1:
                bad.add(what, "'%s' appears %d times" % (name, n))


def validate(ds, where="dataset", allow_nonfinite=False, unique_names=True):
    """Apply the reader's rules (and, with unique_names, unique source ids); raise
    ConversionError naming the path and the first offending rows."""
    bad = Offenders()
    _check_shapes(ds, bad)
    if not bad:
        _check_values(ds, bad, allow_nonfinite)
        if unique_names:
            _check_names(ds, bad)
    bad.raise_if_any("%s breaks the hardy-mer v1 rules" % where)


def class_name(ds, c):
    return ds.class_names[c] if ds.class_names else str(c)


def _write_strings(group, name, values):
    group.create_dataset(name, data=np.array(values, dtype=object), dtype=STR_DTYPE)


def _write_h5(path, ds, gzip):
    with h5py.File(path, "w") as f:
        f.attrs.create("format", FORMAT, dtype=STR_DTYPE)
        f.attrs.create("version", np.int32(VERSION))
        f.attrs.create("task", ds.task, dtype=STR_DTYPE)
        f.attrs.create("num_classes", np.int32(ds.num_classes))
        if ds.class_names is not None:
            f.attrs.create("class_names", np.array(ds.class_names, dtype=object),
                           dtype=STR_DTYPE)
        f.attrs.create("modalities", np.array(MODALITIES, dtype=object), dtype=STR_DTYPE)
        f.attrs.create("source", ds.source, dtype=STR_DTYPE)
        feats = f.create_group("features")
        for m in MODALITIES:
            arr = ds.features[m]
            chunk = (min(CHUNK_ROWS, arr.shape[0]), arr.shape[1])
            feats.create_dataset(m, data=arr, chunks=chunk,
                                 compression="gzip" if gzip else None,
                                 compression_opts=gzip if gzip else None,
                                 shuffle=bool(gzip))
        utt = f.create_group("utterance")
        utt.create_dataset("label", data=ds.label)
        utt.create_dataset("speaker", data=ds.speaker)
        if ds.present is not None:
            utt.create_dataset("present", data=ds.present)
        _write_strings(utt, "name", ds.utt_name)
        dlg = f.create_group("dialogue")
        dlg.create_dataset("offset", data=ds.offset)
        dlg.create_dataset("split", data=ds.split)
        dlg.create_dataset("fold", data=ds.fold)
        _write_strings(dlg, "name", ds.dlg_name)


def write(path, ds, gzip=4, allow_nonfinite=False):
    """Validate, write to PATH.tmp, re-read and re-validate the file, then rename it to PATH,
    so PATH is either absent, the previous file, or a complete valid file."""
    validate(ds, "data to be written to %s" % path, allow_nonfinite)
    if ds.present is not None and ds.present.all():
        ds.present = None  # absent means all present
    out_dir = os.path.dirname(os.path.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    tmp = path + ".tmp"
    try:
        _write_h5(tmp, ds, gzip)
        validate(read(tmp), tmp, allow_nonfinite, unique_names=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _attr_str(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _strings(dset):
    return [_attr_str(s) for s in dset[()]]


def read(path):
    """Read a whole file into a Dataset (tests and checks; files are assumed to fit in memory).
    Raises ConversionError naming the file and path when the layout is wrong."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ConversionError("%s: cannot open as HDF5: %s" % (path, e))
    with f:
        def need(p):
            if p not in f:
                raise ConversionError("%s: required dataset or attribute %s is missing" % (path, p))
            return f[p]

        for a in ("format", "version", "task", "num_classes", "modalities"):
            if a not in f.attrs:
                raise ConversionError("%s: root attribute '%s' is missing" % (path, a))
        fmt, ver = _attr_str(f.attrs["format"]), int(f.attrs["version"])
        if fmt != FORMAT or ver != VERSION:
            raise ConversionError("%s: format '%s' version %d, expected '%s' version %d"
                                  % (path, fmt, ver, FORMAT, VERSION))
        mods = tuple(_attr_str(m) for m in f.attrs["modalities"])
        if mods != MODALITIES:
            raise ConversionError("%s: modalities %s, expected %s" % (path, mods, MODALITIES))
        task = _attr_str(f.attrs["task"])
        label = need("/utterance/label")
        want = np.int32 if task == "classification" else np.float32
        if label.dtype != want:
            raise ConversionError("%s: /utterance/label is %s, expected %s for task %s"
                                  % (path, label.dtype, np.dtype(want), task))
        types = {"/utterance/speaker": np.int32, "/dialogue/offset": np.int64,
                 "/dialogue/split": np.int8, "/dialogue/fold": np.int32,
                 "/utterance/present": np.uint8}
        types.update({"/features/" + m: np.float32 for m in MODALITIES})
        for p, t in types.items():
            if p in f and f[p].dtype != t:
                raise ConversionError("%s: %s is %s, expected %s" % (path, p, f[p].dtype,
                                                                     np.dtype(t)))
        names = f.attrs.get("class_names")
        return Dataset(
            features={m: need("/features/" + m)[()] for m in MODALITIES},
            label=label[()], speaker=need("/utterance/speaker")[()],
            utt_name=_strings(need("/utterance/name")),
            offset=need("/dialogue/offset")[()], split=need("/dialogue/split")[()],
            fold=need("/dialogue/fold")[()], dlg_name=_strings(need("/dialogue/name")),
            task=task, num_classes=int(f.attrs["num_classes"]),
            class_names=None if names is None else [_attr_str(c) for c in names],
            present=f["/utterance/present"][()] if "/utterance/present" in f else None,
            source=_attr_str(f.attrs.get("source", "")))


def utterance_split(ds):
    """int8 [N]: the split of each utterance's dialogue."""
    return np.repeat(ds.split, np.diff(ds.offset))


def summary(ds, title, out=sys.stdout):
    """Print sizes and counts per split, fold and class (or label range for regression)."""
    dims = ", ".join("%s %d" % (m, ds.features[m].shape[1]) for m in MODALITIES)
    kind = ("classification, %d classes" % ds.num_classes if ds.task == "classification"
            else "regression")
    print("%s: %d utterances in %d dialogues; dims %s; %s"
          % (title, ds.n_utt, ds.n_dialogue, dims, kind), file=out)
    usplit = utterance_split(ds)
    lengths = np.diff(ds.offset)
    if ds.task == "classification":
        names = [class_name(ds, c) for c in range(ds.num_classes)]
        width = max([6] + [len(n) + 1 for n in names])
        print("  %-10s %9s %10s" % ("split", "dialogues", "utterances")
              + "".join("%*s" % (width, n) for n in names), file=out)
    else:
        print("  %-10s %9s %10s %9s %9s %9s" % ("split", "dialogues", "utterances", "min",
                                               "mean", "max"), file=out)
    for s in (0, 1, 2):
        rows = usplit == s
        head = "  %-10s %9d %10d" % (SPLIT_NAMES[s], (ds.split == s).sum(), rows.sum())
        if ds.task == "classification":
            counts = np.bincount(ds.label[rows], minlength=ds.num_classes)
            print(head + "".join("%*d" % (width, c) for c in counts), file=out)
        elif rows.any():
            lab = ds.label[rows]
            print(head + " %9.3f %9.3f %9.3f" % (lab.min(), lab.mean(), lab.max()), file=out)
        else:
            print(head, file=out)
    if ds.task == "classification":
        empty = np.flatnonzero(np.bincount(ds.label, minlength=ds.num_classes) == 0)
        if len(empty):
            print("  warning: no utterances of class " + ", ".join(class_name(ds, c)
                                                                    for c in empty), file=out)
    folds = sorted(set(ds.fold.tolist()))
    if folds != [-1]:
        print("  folds: " + ", ".join("%d: %d dialogues / %d utterances"
                                      % (k, (ds.fold == k).sum(), lengths[ds.fold == k].sum())
                                      for k in folds), file=out)
    if ds.present is not None:
        missing = (ds.present == 0).sum(axis=0)
        print("  missing in the source (present = 0): "
              + ", ".join("%s %d" % (m, missing[i]) for i, m in enumerate(MODALITIES)), file=out)


def speaker_ids(keys):
    """Speaker ids within one dialogue: 0, 1, ... in order of first appearance."""
    seen = {}
    return [seen.setdefault(k, len(seen)) for k in keys]


def mean_pool(arr):
    """[D] -> [D]; [T, D] -> mean over T (float64 accumulation). None for other shapes or T=0."""
    arr = np.asarray(arr)
    if arr.ndim == 1 and arr.shape[0] > 0:
        return arr.astype(np.float32)
    if arr.ndim == 2 and arr.shape[0] > 0 and arr.shape[1] > 0:
        return arr.mean(axis=0, dtype=np.float64).astype(np.float32)
    return None


def assemble(dialogues, dims, task, num_classes, class_names, source):
    """Build a Dataset from dialogues already in file order. Each dialogue is a dict with
    name, split, fold and utts: a list of dicts with name, label, speaker (any hashable key),
    feats (3 vectors, or None where missing) and present (3 flags)."""
    n_utt = sum(len(d["utts"]) for d in dialogues)
    feats = {m: np.zeros((n_utt, dims[i]), np.float32) for i, m in enumerate(MODALITIES)}
    label = np.zeros(n_utt, np.int32 if task == "classification" else np.float32)
    speaker = np.zeros(n_utt, np.int32)
    present = np.ones((n_utt, 3), np.uint8)
    offset = [0]
    utt_name = []
    row = 0
    for d in dialogues:
        spk = speaker_ids([u["speaker"] for u in d["utts"]])
        for j, u in enumerate(d["utts"]):
            for i, m in enumerate(MODALITIES):
                if u["feats"][i] is not None:
                    feats[m][row] = u["feats"][i]
                present[row, i] = u["present"][i]
            label[row] = u["label"]
            speaker[row] = spk[j]
            utt_name.append(u["name"])
            row += 1
        offset.append(row)
    return Dataset(feats, label, speaker, utt_name, offset,
                   [d["split"] for d in dialogues], [d["fold"] for d in dialogues],
                   [d["name"] for d in dialogues], task, num_classes, class_names,
                   present, source)


def load_pickle(path):
    """Unpickle an input file with encoding='latin1', which also reads Python 2 pickles."""
    with open(path, "rb") as f:
        try:
            return pickle.load(f, encoding="latin1")
        except (pickle.UnpicklingError, ValueError, AttributeError, ImportError) as e:
            raise ConversionError("%s: not a readable pickle: %s" % (path, e))


def run(main):
    """Call main(); print a ConversionError (or an unreadable input) and exit 2."""
    prog = os.path.basename(sys.argv[0])
    try:
        main()
    except ConversionError as e:
        print("%s: error: %s" % (prog, e), file=sys.stderr)
        sys.exit(EXIT_INPUT)
    except (OSError, EOFError) as e:
        print("%s: error: %s" % (prog, e), file=sys.stderr)
        sys.exit(EXIT_INPUT)


def _check_files():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print("usage: hardy_h5.py FILE.h5 ...  (validate hardy-mer v1 files, print counts)")
        sys.exit(0 if len(sys.argv) >= 2 else EXIT_INPUT)
    for path in sys.argv[1:]:
        ds = read(path)
        validate(ds, path, unique_names=False)
        summary(ds, path)


if __name__ == "__main__":
    run(_check_files)
