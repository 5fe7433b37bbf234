#!/usr/bin/env python3
"""Write small hardy-mer files that each break exactly one rule of docs/DATA_FORMAT.md (plus
valid ones), and print a manifest on stdout: one line per case,
    file <TAB> extra inspect flags (or -) <TAB> expected exit code <TAB> phrase the message must contain
Used by inspect_errors.sh. Usage: make_fixtures.py OUTDIR"""
import os
import sys

import h5py
import numpy as np

N, DIMS, C = 60, (4, 6, 5), 4
OFFSETS = [0, 15, 30, 45, 60]
MODS = ("audio", "text", "visual")


def base_arrays():
    rng = np.random.default_rng(7)
    return {
        "attrs": {"format": "hardy-mer", "version": 1, "task": "classification",
                  "num_classes": C, "modalities": list(MODS),
                  "class_names": [f"emo{c}" for c in range(C)], "source": "test fixture"},
        "/features/audio": rng.standard_normal((N, DIMS[0])).astype(np.float32),
        "/features/text": rng.standard_normal((N, DIMS[1])).astype(np.float32),
        "/features/visual": rng.standard_normal((N, DIMS[2])).astype(np.float32),
        "/utterance/label": (np.arange(N) % C).astype(np.int32),
        "/utterance/speaker": (np.arange(N) % 2).astype(np.int32),
        "/utterance/name": [f"u{i}" for i in range(N)],
        "/dialogue/offset": np.array(OFFSETS, dtype=np.int64),
        "/dialogue/split": np.array([0, 0, 1, 2], dtype=np.int8),
        "/dialogue/fold": np.array([1, 2, 1, 2], dtype=np.int32),
        "/dialogue/name": [f"d{d}" for d in range(len(OFFSETS) - 1)],
    }


def write(path, arrays):
    with h5py.File(path, "w") as f:
        for key, value in arrays["attrs"].items():
            f.attrs[key] = value
        for key, value in arrays.items():
            if key == "attrs":
                continue
            if isinstance(value, list):
                f.create_dataset(key, data=value, dtype=h5py.string_dtype())
            else:
                f.create_dataset(key, data=value)


CASES = []


def case(name, expect, phrase, flags="-"):
    def register(mutate):
        CASES.append((name, mutate, flags, expect, phrase))
        return mutate
    return register


def setitem(arrays, key, index, value):
    arrays[key] = arrays[key].copy()
    arrays[key][index] = value


@case("valid.h5", 0, "valid hardy-mer v1 dataset")
def _(a): pass


@case("valid_wide_types.h5", 0, "valid hardy-mer v1 dataset")
def _(a):  # other integer/float widths convert through HDF5 memory types
    a["/utterance/label"] = a["/utterance/label"].astype(np.int64)
    a["/features/text"] = a["/features/text"].astype(np.float64)
    a["/dialogue/split"] = a["/dialogue/split"].astype(np.int32)
    a["/utterance/present"] = np.ones((N, 3), dtype=np.uint8)
    a["/utterance/planted_hardness"] = np.linspace(0, 1, N).astype(np.float32)


@case("valid_regression.h5", 0, "valid hardy-mer v1 dataset")
def _(a):
    a["attrs"].update(task="regression", num_classes=1)
    del a["attrs"]["class_names"]
    a["/utterance/label"] = np.linspace(-3, 3, N).astype(np.float32)


@case("nan_feature.h5", 2, "nan_feature.h5: /features/text[17, 3] = nan (row 17, column 3)")
def _(a): setitem(a, "/features/text", (17, 3), np.nan)


@case("nan_feature.h5", 0, "1 feature values (zeroed when read)", "--allow-nonfinite=zero")
def _(a): setitem(a, "/features/text", (17, 3), np.nan)


@case("inf_feature.h5", 2, "inf_feature.h5: /features/visual[40, 1] = inf")
def _(a): setitem(a, "/features/visual", (40, 1), np.inf)


@case("offset_start.h5", 2, "offset_start.h5: /dialogue/offset[0] = 1, expected 0")
def _(a): setitem(a, "/dialogue/offset", 0, 1)


@case("offset_end.h5", 2, "offset_end.h5: /dialogue/offset[4] = 59, expected N = 60")
def _(a): setitem(a, "/dialogue/offset", 4, 59)


@case("offset_empty.h5", 2,
      "offset_empty.h5: /dialogue/offset[2] = 15 is not greater than offset[1] = 15")
def _(a): setitem(a, "/dialogue/offset", 2, 15)


@case("offset_decreasing.h5", 2, "/dialogue/offset[2] = 10 is not greater than offset[1] = 15")
def _(a): setitem(a, "/dialogue/offset", 2, 10)


@case("label_range.h5", 2, "label_range.h5: /utterance/label[33] = 4 is outside [0, 4)")
def _(a): setitem(a, "/utterance/label", 33, 4)


@case("label_negative.h5", 2, "label_negative.h5: /utterance/label[5] = -1 is outside [0, 4)")
def _(a): setitem(a, "/utterance/label", 5, -1)


@case("regression_nan.h5", 2, "regression_nan.h5: /utterance/label[21] = nan")
def _(a):
    a["attrs"].update(task="regression", num_classes=1)
    del a["attrs"]["class_names"]
    a["/utterance/label"] = np.linspace(-3, 3, N).astype(np.float32)
    a["/utterance/label"][21] = np.nan


@case("missing_speaker.h5", 2, "missing_speaker.h5: required dataset /utterance/speaker is missing")
def _(a): del a["/utterance/speaker"]


@case("missing_visual.h5", 2, "missing_visual.h5: required dataset /features/visual is missing")
def _(a): del a["/features/visual"]


@case("float_labels.h5", 2, "float_labels.h5: /utterance/label has type float")
def _(a): a["/utterance/label"] = a["/utterance/label"].astype(np.float32)


@case("int_regression_labels.h5", 2, "/utterance/label has type integer")
def _(a):
    a["attrs"].update(task="regression", num_classes=1)
    del a["attrs"]["class_names"]


@case("int_features.h5", 2, "int_features.h5: /features/audio has type integer")
def _(a): a["/features/audio"] = a["/features/audio"].astype(np.int32)


@case("feature_rows.h5", 2, "feature_rows.h5: /features/text has 59 rows, expected 60")
def _(a): a["/features/text"] = a["/features/text"][:59]


@case("feature_rank.h5", 2, "feature_rank.h5: /features/audio has rank 1, expected rank 2")
def _(a): a["/features/audio"] = a["/features/audio"][:, 0].copy()


@case("present_columns.h5", 2, "present_columns.h5: /utterance/present has 2 columns, expected 3")
def _(a): a["/utterance/present"] = np.ones((N, 2), dtype=np.uint8)


@case("present_value.h5", 2, "present_value.h5: /utterance/present[7, 1] = 2, expected 0 or 1")
def _(a):
    a["/utterance/present"] = np.ones((N, 3), dtype=np.uint8)
    a["/utterance/present"][7, 1] = 2


@case("planted_range.h5", 2, "planted_range.h5: /utterance/planted_hardness[9] = 1.5")
def _(a):
    a["/utterance/planted_hardness"] = np.zeros(N, dtype=np.float32)
    a["/utterance/planted_hardness"][9] = 1.5


@case("split_value.h5", 2, "split_value.h5: /dialogue/split[2] = 3, expected 0 (train)")
def _(a): setitem(a, "/dialogue/split", 2, 3)


@case("split_length.h5", 2, "split_length.h5: /dialogue/split has 5 rows, expected 4")
def _(a): a["/dialogue/split"] = np.zeros(5, dtype=np.int8)


@case("fold_value.h5", 2, "fold_value.h5: /dialogue/fold[1] = -3, expected a fold id >= 0 or -1")
def _(a): setitem(a, "/dialogue/fold", 1, -3)


@case("format_attr.h5", 2, "format_attr.h5: root attribute format = 'other-mer', expected 'hardy-mer'")
def _(a): a["attrs"]["format"] = "other-mer"


@case("version_attr.h5", 2, "version_attr.h5: root attribute version = 2")
def _(a): a["attrs"]["version"] = 2


@case("task_missing.h5", 2, "task_missing.h5: root attribute 'task' is missing")
def _(a): del a["attrs"]["task"]


@case("class_names.h5", 2, "class_names.h5: root attribute class_names has 3 names but num_classes = 4")
def _(a): a["attrs"]["class_names"] = ["a", "b", "c"]


@case("modalities_order.h5", 2, "modalities_order.h5: root attribute modalities must be")
def _(a): a["attrs"]["modalities"] = ["text", "audio", "visual"]


def main():
    out = sys.argv[1]
    lines = []
    for name, mutate, flags, expect, phrase in CASES:
        arrays = base_arrays()
        mutate(arrays)
        write(os.path.join(out, name), arrays)
        lines.append((name, flags, expect, phrase))
    # Damaged files: derived from a valid one whose feature data dominates its size.
    big = base_arrays()
    big["/features/text"] = np.random.default_rng(1).standard_normal((N, 2000)).astype(np.float32)
    write(os.path.join(out, "big.h5"), big)
    raw = open(os.path.join(out, "big.h5"), "rb").read()
    open(os.path.join(out, "truncated.h5"), "wb").write(raw[: len(raw) // 2])
    lines.append(("truncated.h5", "-", 2, "truncated.h5: cannot open as HDF5"))
    corrupt = bytearray(raw)
    corrupt[96:2048] = b"\xa5" * (2048 - 96)  # root group, its heap and B-tree
    open(os.path.join(out, "corrupt.h5"), "wb").write(bytes(corrupt))
    lines.append(("corrupt.h5", "-", 2, "corrupt.h5: "))
    with open(os.path.join(out, "text.h5"), "w") as f:
        f.write("utterance,label\nu0,1\n")
    lines.append(("text.h5", "-", 2, "text.h5: not an HDF5 file"))
    open(os.path.join(out, "empty.h5"), "wb").close()
    lines.append(("empty.h5", "-", 2, "empty.h5: file is empty (0 bytes)"))
    lines.append(("missing.h5", "-", 2, "missing.h5: cannot open: No such file or directory"))
    for name, flags, expect, phrase in lines:
        print(f"{name}\t{flags}\t{expect}\t{phrase}")


if __name__ == "__main__":
    main()
