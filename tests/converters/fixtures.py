"""Small inputs in exactly the published layouts, with feature values the checks can predict.

  fixtures.py iemocap DIR [VARIANT]   GCNet IEMOCAP-4: list-of-6 pickle, [T, D] audio to pool,
                                      [D] text, per-speaker face folders compress_{F,M}.npy
  fixtures.py mosei DIR [VARIANT]     GCNet MOSEI: list-of-7 pickle, video ids with '_',
                                      float labels, numpy videoSentences, valVids
  fixtures.py mmsa DIR [VARIANT]      MMSA aligned pickle: dict of train/valid/test, ids
                                      "video$_$clip", lengths, junk in the padding frames
  fixtures.py table DIR               tiny CSV (.csv.gz with header, and one with missing
                                      cells), ARFF and IDX files

Variants make the error cases: missing (one feature file removed), dup (an utterance id in two
videos), baddim (one file with another D), cross (an MMSA video in two splits), empty (an MMSA
vision length 0).

Pooled values (g = utterance index in pickle order, counting from 0):
  GCNet audio [T=3, 4]: rows v-1, v, v+1 with v = 10 g + [0, 1, 2, 3]  -> mean v
  GCNet text [3]: 100 + g + [0, 0.5, 1]
  GCNet visual (IEMOCAP) compress_F.npy [2, 2] -> mean [1000 + g, 0]; compress_M.npy -> [2000 + g, 1]
  GCNet visual (MOSEI) [T=2, 2] -> mean [3000 + g, 7]
  MMSA: frame t < length of utterance k holds k + t/10 in every column (padding = 999), so the
  pooled value is k + (length - 1)/20.
"""

import gzip
import os
import pickle
import struct
import sys

import numpy as np

IEMOCAP_VIDEOS = [  # (video, split list, [(utterance, label, speaker)])
    ("Ses01F_impro01", "train", [("Ses01F_impro01_F000", 0, "F"), ("Ses01F_impro01_M000", 1, "M"),
                                 ("Ses01F_impro01_F001", 2, "F")]),
    ("Ses02M_script01_1", "train", [("Ses02M_script01_1_M000", 3, "M"),
                                    ("Ses02M_script01_1_F000", 0, "F")]),
    ("Ses05F_impro03", "test", [("Ses05F_impro03_M000", 1, "M"), ("Ses05F_impro03_F000", 2, "F"),
                                ("Ses05F_impro03_M001", 3, "M")]),
]

MOSEI_VIDEOS = [  # video ids with '_' and one that is the prefix of another
    ("abc_def", "train", [("abc_def_2", 1.5), ("abc_def_10", -0.6667)]),
    ("abc", "valid", [("abc_1", 2.0)]),
    ("-3g5yACwYnA_x", "test", [("-3g5yACwYnA_x_0", -3.0), ("-3g5yACwYnA_x_1", 0.25),
                               ("-3g5yACwYnA_x_2", 3.0)]),
    ("zz", "train", [("zz_0", 0.0)]),
]

MMSA_SPLITS = {  # split -> [(id, label, audio_len, vision_len, text_len)]
    "train": [("vidA$_$3", 1.0, 2, 3, 4), ("vidA$_$10", -1.0, 5, 1, 2),
              ("vidA$_$2", 0.5, 1, 2, 3), ("v_B$_$1", 2.5, 3, 3, 5)],
    "valid": [("vidC$_$7", -2.0, 4, 2, 1)],
    "test": [("vidD$_$1", 0.0, 5, 4, 5), ("vidD$_$0", 3.0, 2, 2, 2)],
}


def save(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.asarray(arr, dtype=np.float32))


def audio_feature(g):
    v = 10.0 * g + np.arange(4)
    return np.stack([v - 1, v, v + 1])  # [T=3, 4]


def text_feature(g):
    return 100.0 + g + np.array([0, 0.5, 1])  # [3]


def face(g, letter):
    base = 1000.0 if letter == "F" else 2000.0
    col = 0.0 if letter == "F" else 1.0
    return np.array([[base + g - 0.5, col], [base + g + 0.5, col]])  # [2, 2]


def build_iemocap(out, variant):
    video_ids, labels, speakers, sentences = {}, {}, {}, {}
    train, test = set(), set()
    g = 0
    for vid, split, utts in IEMOCAP_VIDEOS:
        names = [u for u, _, _ in utts]
        if variant == "dup" and vid == "Ses05F_impro03":
            names[0] = "Ses01F_impro01_F000"
        video_ids[vid] = names
        labels[vid] = [lab for _, lab, _ in utts]
        speakers[vid] = [spk for _, _, spk in utts]
        sentences[vid] = ["sentence %s" % u for u in names]
        (train if split == "train" else test).add(vid)
        for utt in names:
            save(os.path.join(out, "audio", utt + ".npy"), audio_feature(g))
            save(os.path.join(out, "text", utt + ".npy"), text_feature(g))
            for letter in "FM":
                save(os.path.join(out, "visual", utt, "compress_%s.npy" % letter), face(g, letter))
            g += 1
    with open(os.path.join(out, "labels.pkl"), "wb") as f:
        pickle.dump([video_ids, labels, speakers, sentences, train, test], f, protocol=2)
    if variant == "missing":
        os.remove(os.path.join(out, "audio", "Ses01F_impro01_M000.npy"))
    if variant == "baddim":
        save(os.path.join(out, "text", "Ses02M_script01_1_F000.npy"), np.zeros(5))


def build_mosei(out, variant):
    video_ids, labels, speakers, sentences = {}, {}, {}, {}
    lists = {"train": [], "valid": [], "test": []}
    g = 0
    for vid, split, utts in MOSEI_VIDEOS:
        video_ids[vid] = [u for u, _ in utts]
        labels[vid] = [lab for _, lab in utts]
        speakers[vid] = [[1, 0] for _ in utts]  # one-hot, as some MOSEI pickles store them
        sentences[vid] = np.array(["words of %s" % u for u, _ in utts])
        lists[split].append(vid)
        for utt, _ in utts:
            save(os.path.join(out, "audio", utt + ".npy"), audio_feature(g))
            save(os.path.join(out, "text", utt + ".npy"), text_feature(g))
            save(os.path.join(out, "visual", utt + ".npy"),
                 [[3000.0 + g - 1, 7.0], [3000.0 + g + 1, 7.0]])
            g += 1
    with open(os.path.join(out, "labels.pkl"), "wb") as f:
        pickle.dump([video_ids, labels, speakers, sentences, lists["train"], lists["valid"],
                     lists["test"]], f)
    if variant == "missing":
        os.remove(os.path.join(out, "visual", "abc_1.npy"))


def mmsa_frames(k, length, t_max, dim):
    x = np.full((t_max, dim), 999.0)
    for t in range(length):
        x[t] = k + t / 10.0
    return x


def build_mmsa(out, variant):
    data = {}
    k = 0
    t_max = 6
    for split, rows in MMSA_SPLITS.items():
        rows = list(rows)
        if variant == "cross" and split == "test":
            rows.append(("vidA$_$99", 1.0, 1, 1, 1))
        n = len(rows)
        part = {"id": np.array([r[0] for r in rows], dtype=object),
                "regression_labels": np.array([r[1] for r in rows], dtype=np.float32),
                "audio_lengths": [r[2] for r in rows],
                "vision_lengths": np.array([r[3] for r in rows])}
        if variant == "empty" and split == "valid":
            part["vision_lengths"][0] = 0
        audio, vision, text = [], [], []
        bert = np.zeros((n, 3, t_max), np.float32)
        for j, (_, _, la, lv, lt) in enumerate(rows):
            audio.append(mmsa_frames(k + j, la, t_max, 5))
            vision.append(mmsa_frames(k + j, part["vision_lengths"][j], t_max, 4))
            text.append(mmsa_frames(k + j, lt, t_max, 3))
            bert[j, 0, :lt] = 101 + np.arange(lt)  # token ids
            bert[j, 1, :lt] = 1  # attention mask
        part["audio"] = np.array(audio, np.float32)
        part["vision"] = np.array(vision, np.float32)
        part["text"] = np.array(text, np.float32)
        part["text_bert"] = bert
        part["classification_labels"] = np.sign(part["regression_labels"])
        data[split] = part
        k += n
    with open(os.path.join(out, "aligned_50.pkl"), "wb") as f:
        pickle.dump(data, f)


def write_idx(path, arr, code):
    """IDX: 2 zero bytes, type code, rank, big-endian int32 dims, big-endian data."""
    dtype = {0x08: ">u1", 0x0D: ">f4"}[code]
    head = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(">%dI" % arr.ndim, *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + np.asarray(arr, dtype=dtype).tobytes())


def build_table(out):
    os.makedirs(out, exist_ok=True)
    # CSV with a header: id-free, 5 feature columns, a string label and a split column.
    rows = [[i, i + 0.5, -i, 2 * i, i * i, ["cat", "dog", "emu"][i % 3],
             ["train", "test", "val"][i % 3]] for i in range(9)]
    with gzip.open(os.path.join(out, "table.csv.gz"), "wt") as f:
        f.write("a,b,c,d,e,animal,part\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")
    with open(os.path.join(out, "table.arff"), "w") as f:
        f.write("% a comment\n@RELATION toy\n@ATTRIBUTE x1 NUMERIC\n@ATTRIBUTE x2 REAL\n"
                "@ATTRIBUTE 'class' {no,yes}\n@ATTRIBUTE x3 INTEGER\n@DATA\n")
        for i in range(6):
            f.write("%d,%g,%s,%d\n" % (i, i / 4.0, "yes" if i % 2 else "no", 10 + i))
    with open(os.path.join(out, "holes.csv"), "w") as f:  # missing cells, regression labels
        f.write("1,2,3,0.5\n?,5,6,1.5\n7,8,,2.5\n")
    imgs = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)  # 4 images of 4 x 3
    write_idx(os.path.join(out, "train-images.gz"), imgs[:3], 0x08)
    write_idx(os.path.join(out, "train-labels.gz"), np.array([0, 1, 2], np.uint8), 0x08)
    write_idx(os.path.join(out, "test-images.gz"), imgs[3:], 0x08)
    write_idx(os.path.join(out, "test-labels.gz"), np.array([1], np.uint8), 0x08)


def main():
    kind, out = sys.argv[1], sys.argv[2]
    variant = sys.argv[3] if len(sys.argv) > 3 else ""
    os.makedirs(out, exist_ok=True)
    {"iemocap": lambda: build_iemocap(out, variant), "mosei": lambda: build_mosei(out, variant),
     "mmsa": lambda: build_mmsa(out, variant), "table": lambda: build_table(out)}[kind]()


if __name__ == "__main__":
    main()
