#!/usr/bin/env python3
"""Convert a generic multi-view table (CSV, ARFF or IDX images) to a hardy-mer v1 HDF5 file.

Each sample becomes its own dialogue of one utterance (speaker 0). --views gives three
inclusive ranges, one per modality group in the order audio, text, visual:
  * tables (CSV, ARFF): 0-based column indices of the file, e.g. "0-23,24-39,40-63"; the label
    and split columns may not be inside a view;
  * images (IDX files, or a CSV with --image-shape HxW whose non-label, non-split columns are
    the pixels in row-major order): image rows, e.g. "0-2,3-4,5-7" for 8x8 images gives the
    views rows 0-2 (24 values), 3-4 (16) and 5-7 (24).
Splits: --split-col (0/1/2 or train/val/validation/valid/dev/test), or the IDX test files
(split 2); --test-fraction and --val-fraction then move a seeded, per-class stratified share
of the training rows to test / validation; --folds K adds stratified fold ids 1..K. All
randomness is a Philox stream seeded by --seed.
Labels: integer labels are class ids (C = max + 1); ARFF nominal labels use the declared
order; other strings are sorted. Missing cells ('', '?', NA, NaN) are an error, or with
--allow-missing the view is zero-filled and marked 0 in /utterance/present.
"""

import argparse
import csv
import gzip
import io
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardy_deps  # noqa: E402  (the install hint before the imports it guards)

hardy_deps.need("numpy", "h5py")
import numpy as np  # noqa: E402

import hardy_h5  # noqa: E402

MISSING = {"", "?", "na", "nan", "null"}
SPLIT_CODES = {"0": 0, "1": 1, "2": 2, "train": 0, "training": 0, "val": 1, "valid": 1,
               "validation": 1, "dev": 1, "test": 2, "testing": 2}
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = p.add_argument_group("input (a table, or IDX files)")
    src.add_argument("--input", help="CSV or ARFF file (.gz allowed)")
    src.add_argument("--format", choices=["auto", "csv", "arff"], default="auto")
    src.add_argument("--header", choices=["auto", "yes", "no"], default="auto",
                     help="CSV: is the first row column names (auto: when it is not numeric)")
    src.add_argument("--images", help="IDX images [n, H, W] (split 0 unless --split-col)")
    src.add_argument("--labels", help="IDX labels [n] for --images")
    src.add_argument("--test-images", help="IDX images of the test split (split 2)")
    src.add_argument("--test-labels", help="IDX labels for --test-images")
    p.add_argument("--views", required=True, help='three ranges, e.g. "0-23,24-39,40-63"')
    p.add_argument("--image-shape", help="HxW: the CSV's pixel columns form an image; --views "
                                         "are image rows")
    p.add_argument("--label-col", default="-1", help="label column: index (negative counts "
                                                     "from the end) or name (default -1)")
    p.add_argument("--split-col", help="split column: index or name")
    p.add_argument("--task", choices=["classification", "regression"], default="classification")
    p.add_argument("--class-names", help="comma-separated names for integer labels 0..C-1")
    p.add_argument("--test-fraction", type=float, default=0.0)
    p.add_argument("--val-fraction", type=float, default=0.0)
    p.add_argument("--folds", type=int, default=0, help="stratified fold ids 1..K (0: none)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every feature by this")
    p.add_argument("--allow-missing", action="store_true")
    p.add_argument("--out", required=True, help="output FILE.h5 (written atomically)")
    p.add_argument("--gzip", type=int, default=4, metavar="LEVEL")
    return p.parse_args(argv)


def fail(msg):
    raise hardy_h5.ConversionError(msg)


def open_text(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return io.StringIO(raw.decode("utf-8"))


def parse_ranges(text, limit, unit):
    views = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", part)
        if not m:
            fail("--views: '%s' is not a range like 3-4" % part)
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo > hi or hi >= limit:
            fail("--views: range %d-%d outside the %d %s" % (lo, hi, limit, unit))
        views.append((lo, hi))
    if len(views) != 3:
        fail("--views: need 3 ranges (audio, text, visual), got %d" % len(views))
    return views


def column_index(spec, names, n_cols, what):
    if spec is None:
        return None
    if re.fullmatch(r"-?\d+", spec):
        idx = int(spec) + (n_cols if int(spec) < 0 else 0)
        if not 0 <= idx < n_cols:
            fail("%s %s outside the %d columns" % (what, spec, n_cols))
        return idx
    if names is None or spec not in names:
        fail("%s '%s' is not a column name (names: %s)" % (what, spec,
                                                            names if names else "no header"))
    return names.index(spec)


def read_csv(path, args):
    rows = [r for r in csv.reader(open_text(path)) if r]
    if not rows:
        fail("%s: no rows" % path)
    width = len(rows[0])
    by_name = [c for c in (args.label_col, args.split_col)
               if c is not None and not re.fullmatch(r"-?\d+", c)]
    header = args.header == "yes" or (args.header == "auto" and bool(by_name))
    if args.header == "auto" and not header:
        skip = {int(c) % width for c in (args.label_col, args.split_col) if c is not None}
        header = any(not is_number(v) and v.strip().lower() not in MISSING
                     for j, v in enumerate(rows[0]) if j not in skip)
    names = [v.strip() for v in rows[0]] if header else None
    body = rows[1:] if header else rows
    for i, r in enumerate(body):
        if len(r) != width:
            fail("%s: data row %d has %d fields, the first row %d" % (path, i, len(r), width))
    return names, body, {}


def read_arff(path):
    names, nominal, body, in_data = [], {}, [], False
    for line_no, line in enumerate(open_text(path), 1):
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        if in_data:
            if line.startswith("{"):
                fail("%s:%d: sparse ARFF rows are not supported" % (path, line_no))
            body.append(next(csv.reader([line], quotechar="'", skipinitialspace=True)))
            continue
        low = line.lower()
        if low.startswith("@attribute"):
            m = re.match(r"@attribute\s+('[^']*'|\"[^\"]*\"|\S+)\s+(.*)$", line, re.I)
            if not m:
                fail("%s:%d: cannot read the attribute line" % (path, line_no))
            names.append(m.group(1).strip("'\""))
            kind = m.group(2).strip()
            if kind.startswith("{"):
                nominal[len(names) - 1] = [v.strip().strip("'\"")
                                           for v in kind.strip("{}").split(",")]
        elif low.startswith("@data"):
            in_data = True
    for i, r in enumerate(body):
        if len(r) != len(names):
            fail("%s: data row %d has %d fields for %d attributes" % (path, i, len(r), len(names)))
    return names, body, nominal


def read_idx(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        fail("%s: not an IDX file (magic %s)" % (path, raw[:4].hex()))
    ndim = raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    start = 4 + 4 * ndim
    if len(raw) - start != dtype.itemsize * int(np.prod(shape)):
        fail("%s: %d data bytes for shape %s of %s" % (path, len(raw) - start, shape, dtype))
    return np.frombuffer(raw, dtype, offset=start).reshape(shape)


def is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def to_float(cells, where):
    """float64 matrix of table cells; missing markers become NaN, anything else is an error."""
    try:
        return cells.astype(np.float64)
    except ValueError:
        pass  # missing markers or bad cells: the slow path below says which
    out = np.empty(cells.shape, np.float64)
    for (i, j), v in np.ndenumerate(cells):
        v = v.strip()
        if v.lower() in MISSING:
            out[i, j] = np.nan
        else:
            try:
                out[i, j] = float(v)
            except ValueError:
                fail("%s: row %d column %d: '%s' is not a number" % (where, i, j, v))
    return out


def class_ids(values, nominal):
    """Class id per row, number of classes, names."""
    values = [v.strip().strip("'\"") for v in values]
    if nominal is not None:
        lookup = {v: i for i, v in enumerate(nominal)}
        bad = [(i, v) for i, v in enumerate(values) if v not in lookup]
        if bad:
            fail("label not among the declared values %s: rows %s" % (nominal, bad[:10]))
        return np.array([lookup[v] for v in values]), len(nominal), nominal
    if all(re.fullmatch(r"-?\d+(\.0*)?", v) for v in values):
        ids = np.array([int(float(v)) for v in values])
        if (ids < 0).any():
            fail("negative class id at row %d" % int(np.flatnonzero(ids < 0)[0]))
        n = int(ids.max()) + 1
        return ids, n, [str(c) for c in range(n)]
    names = sorted(set(values))
    lookup = {v: i for i, v in enumerate(names)}
    return np.array([lookup[v] for v in values]), len(names), names


def load_table(args):
    fmt = args.format
    if fmt == "auto":
        fmt = "arff" if re.search(r"\.arff(\.gz)?$", args.input, re.I) else "csv"
    names, body, nominal = read_arff(args.input) if fmt == "arff" else read_csv(args.input, args)
    cells = np.array(body, dtype=object)
    if cells.ndim != 2 or cells.shape[0] == 0:
        fail("%s: no data rows" % args.input)
    n_cols = cells.shape[1]
    label_col = column_index(args.label_col, names, n_cols, "--label-col")
    split_col = column_index(args.split_col, names, n_cols, "--split-col")
    other = [c for c in range(n_cols) if c not in (label_col, split_col)]
    if args.image_shape:
        h, w = image_shape(args.image_shape)
        if len(other) != h * w:
            fail("--image-shape %dx%d needs %d pixel columns, the table has %d besides the "
                 "label and split" % (h, w, h * w, len(other)))
        pixels = to_float(cells[:, other], args.input).reshape(-1, h, w)
        views = [pixels[:, lo:hi + 1, :].reshape(len(pixels), -1)
                 for lo, hi in parse_ranges(args.views, h, "image rows")]
    else:
        ranges = parse_ranges(args.views, n_cols, "columns")
        for lo, hi in ranges:
            for c in (label_col, split_col):
                if c is not None and lo <= c <= hi:
                    fail("--views: range %d-%d contains the label or split column %d" % (lo, hi, c))
        views = [to_float(cells[:, lo:hi + 1], args.input) for lo, hi in ranges]
    split = np.zeros(len(cells), np.int8)
    if split_col is not None:
        split = split_values(cells[:, split_col], args.input)
    label_cells = cells[:, label_col]
    names_out = ["row%d" % i for i in range(len(cells))]
    return views, label_cells, nominal.get(label_col), split, names_out


def image_shape(text):
    m = re.fullmatch(r"(\d+)x(\d+)", text or "")
    if not m:
        fail("--image-shape '%s' is not HxW" % text)
    return int(m.group(1)), int(m.group(2))


def split_values(column, where):
    out = np.zeros(len(column), np.int8)
    for i, v in enumerate(column):
        code = SPLIT_CODES.get(str(v).strip().lower())
        if code is None:
            fail("%s: row %d: split '%s' is not one of %s" % (where, i, v, sorted(SPLIT_CODES)))
        out[i] = code
    return out


def load_idx(args):
    parts = [(args.images, args.labels, 0, "train")]
    if args.test_images or args.test_labels:
        if not (args.test_images and args.test_labels):
            fail("--test-images and --test-labels go together")
        parts.append((args.test_images, args.test_labels, 2, "test"))
    imgs, labels, split, names = [], [], [], []
    for img_path, lab_path, code, prefix in parts:
        x, y = read_idx(img_path), read_idx(lab_path)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            fail("%s %s / %s %s: need images [n, H, W] and labels [n]"
                 % (img_path, x.shape, lab_path, y.shape))
        if imgs and x.shape[1:] != imgs[0].shape[1:]:
            fail("%s: images %s, the training images are %s" % (img_path, x.shape[1:],
                                                                 imgs[0].shape[1:]))
        imgs.append(x)
        labels.append(y)
        split.append(np.full(len(x), code, np.int8))
        names += ["%s/%d" % (prefix, i) for i in range(len(x))]
    x = np.concatenate(imgs)
    ranges = parse_ranges(args.views, x.shape[1], "image rows")
    views = [x[:, lo:hi + 1, :].reshape(len(x), -1).astype(np.float64) for lo, hi in ranges]
    return views, np.concatenate(labels).astype(str), None, np.concatenate(split), names


def stratified_groups(label, task):
    if task == "regression":
        return [np.arange(len(label))]
    return [np.flatnonzero(label == c) for c in np.unique(label)]


def carve_splits(split, label, args, rng):
    """Move a stratified share of the training rows to test and validation."""
    for frac, code in ((args.test_fraction, 2), (args.val_fraction, 1)):
        if not 0 <= frac < 1:
            fail("fractions must be in [0, 1), got %g" % frac)
        if frac == 0:
            continue
        for rows in stratified_groups(label, args.task):
            train_rows = rng.permutation(rows[split[rows] == 0])
            split[train_rows[:int(round(frac * len(rows)))]] = code
    return split


def assign_folds(label, args, rng):
    fold = np.full(len(label), -1, np.int32)
    if args.folds:
        dealt = 0  # deal round-robin across classes so fold sizes differ by at most one
        for rows in stratified_groups(label, args.task):
            perm = rng.permutation(rows)
            fold[perm] = 1 + (dealt + np.arange(len(perm))) % args.folds
            dealt += len(perm)
    return fold


def missing_views(views, args, names):
    present = np.ones((len(names), 3), np.uint8)
    bad = hardy_h5.Offenders()
    for i, v in enumerate(views):
        holes = np.isnan(v).any(axis=1)
        if not holes.any():
            continue
        if args.allow_missing:
            present[holes, i] = 0
            v[holes] = 0
        else:
            for r in hardy_h5.first_rows(holes):
                bad.add("missing value (--allow-missing marks the view missing)",
                        "%s, view %s" % (names[r], hardy_h5.MODALITIES[i]))
    for r in hardy_h5.first_rows(present.sum(axis=1) == 0):
        bad.add("sample with no view at all", names[r])
    bad.raise_if_any("%s" % (args.input or args.images))
    return present


def convert(args):
    if bool(args.input) == bool(args.images):
        fail("give either --input (CSV/ARFF) or --images/--labels (IDX)")
    if args.images and not args.labels:
        fail("--images needs --labels")
    if args.images:
        views, label_cells, nominal, split, names = load_idx(args)
    else:
        views, label_cells, nominal, split, names = load_table(args)
    rng = np.random.Generator(np.random.Philox(args.seed))
    if args.task == "classification":
        label, n_classes, class_names = class_ids(label_cells, nominal)
        if args.class_names:
            class_names = [c.strip() for c in args.class_names.split(",")]
            n_classes = max(n_classes, len(class_names))
    else:
        label = to_float(np.asarray(label_cells, dtype=object)[:, None], "labels")[:, 0]
        n_classes, class_names = 1, None
    split = carve_splits(split, label, args, rng)
    fold = assign_folds(label, args, rng)
    present = missing_views(views, args, names)
    n = len(names)
    inputs = [f for f in (args.input, args.images, args.test_images) if f]
    source = "convert_table.py %s views=%s test_fraction=%g val_fraction=%g folds=%d seed=%d" % (
        " ".join(inputs), args.views, args.test_fraction, args.val_fraction, args.folds,
        args.seed)
    ds = hardy_h5.Dataset(
        {m: views[i] * args.scale for i, m in enumerate(hardy_h5.MODALITIES)}, label,
        np.zeros(n, np.int32), names, np.arange(n + 1), split, fold, names, args.task,
        n_classes, class_names, present, source)
    hardy_h5.write(args.out, ds, gzip=args.gzip)
    hardy_h5.summary(ds, "wrote " + args.out)


if __name__ == "__main__":
    hardy_h5.run(lambda: convert(parse_args()))
