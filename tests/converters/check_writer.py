"""The shared writer and validator (analysis/hardy_h5.py): each reader rule refused with the
path and row named, nothing left under the real name when a write is refused (a previous file
survives), a round trip keeps every value, and the file check refuses a hand-broken file.
  check_writer.py DIR (SOURCE_DIR in the environment)
"""

import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.environ["SOURCE_DIR"], "analysis"))
import hardy_h5  # noqa: E402


def make(**over):
    """4 utterances in 2 dialogues, classification with 3 classes; `over` replaces fields."""
    fields = dict(features={"audio": np.arange(8.0).reshape(4, 2), "text": np.ones((4, 3)),
                            "visual": np.zeros((4, 1))},
                  label=[0, 1, 2, 1], speaker=[0, 1, 0, 0], utt_name=["u0", "u1", "u2", "u3"],
                  offset=[0, 2, 4], split=[0, 2], fold=[1, 2], dlg_name=["d0", "d1"],
                  task="classification", num_classes=3, class_names=["a", "b", "c"],
                  present=None, source="check_writer")
    fields.update(over)
    return hardy_h5.Dataset(**fields)


def refused(ds, *needles):
    try:
        hardy_h5.validate(ds)
    except hardy_h5.ConversionError as e:
        for n in needles:
            assert n in str(e), "message lacks %r:\n%s" % (n, e)
        return
    raise AssertionError("accepted a dataset that should be refused: %s" % (needles,))


def main():
    out = sys.argv[1]
    nan_audio = np.arange(8.0).reshape(4, 2)
    nan_audio[2, 1] = np.nan
    refused(make(offset=[0, 3, 3]), "/dialogue/offset", "dialogue 1 ('d1') is empty",
            "must equal N = 4")
    refused(make(offset=[1, 2, 4]), "offset[0] = 1")
    refused(make(label=[0, 1, 3, 1]), "/utterance/label", "row 2 ('u2'): 3 not in [0, 3)")
    refused(make(split=[0, 3]), "/dialogue/split", "row 1 ('d1'): 3")
    refused(make(fold=[1, -2]), "/dialogue/fold")
    refused(make(features={"audio": nan_audio, "text": np.ones((4, 3)),
                           "visual": np.zeros((4, 1))}), "/features/audio row 2 ('u2') column 1")
    refused(make(present=[[1, 1, 1], [0, 0, 0], [1, 0, 1], [1, 1, 1]]),
            "row 1 ('u1'): no modality present")
    refused(make(utt_name=["u0", "u1", "u1", "u3"]), "duplicate utterance name", "'u1'")
    refused(make(task="regression", num_classes=1, class_names=None,
                 label=[0.5, np.inf, 1.0, 2.0]), "row 1 ('u1')", "not finite")
    refused(make(class_names=["a", "b"]), "2 names for 3 classes")
    refused(make(features={"audio": np.zeros((3, 2)), "text": np.ones((4, 3)),
                           "visual": np.zeros((4, 1))}), "/features/audio has shape")

    path = os.path.join(out, "w.h5")
    good = make(present=[[1, 1, 1], [0, 1, 1], [1, 1, 1], [1, 1, 0]])
    hardy_h5.write(path, good, gzip=0)
    back = hardy_h5.read(path)
    for m in hardy_h5.MODALITIES:
        assert np.array_equal(back.features[m], good.features[m]), m
    assert back.label.tolist() == [0, 1, 2, 1] and back.present.tolist() == good.present.tolist()
    assert back.utt_name == good.utt_name and back.dlg_name == ["d0", "d1"]
    assert back.fold.tolist() == [1, 2] and back.class_names == ["a", "b", "c"]
    before = open(path, "rb").read()
    try:
        hardy_h5.write(path, make(label=[0, 1, 5, 1]))
        raise AssertionError("write accepted a label out of range")
    except hardy_h5.ConversionError:
        pass
    assert open(path, "rb").read() == before, "a refused write changed the existing file"
    assert not os.path.exists(path + ".tmp"), "a refused write left FILE.tmp"
    fresh = os.path.join(out, "never.h5")
    try:
        hardy_h5.write(fresh, make(split=[0, 7]))
    except hardy_h5.ConversionError:
        pass
    assert not os.path.exists(fresh) and not os.path.exists(fresh + ".tmp"), "half file left"

    with h5py.File(path, "r+") as f:
        f["dialogue/offset"][1] = 4
    tool = os.path.join(os.environ["SOURCE_DIR"], "analysis", "hardy_h5.py")
    run = subprocess.run([sys.executable, tool, path], capture_output=True, text=True)
    assert run.returncode == 2 and "dialogue 1 ('d1') is empty" in run.stderr, run.stderr
    print("ok: writer and validator rules")


if __name__ == "__main__":
    main()
