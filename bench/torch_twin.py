#!/usr/bin/env python3
"""PyTorch twin of the hardy-hpc backbone training step, for `bench/step.sh`.

The same architecture as src/model/model*.c at the published sizes (docs/ALGORITHM.md "Backbone"): per
modality input projection + dropout, L residual blocks z <- z + A(z) + MLP(A(z)) with masked
multi-head self-attention over the utterances of a dialogue (keys restricted to present,
non-padding rows; a query without keys outputs 0), fusion h = [z^m r^m], g = h +
Dropout(ReLU(W_f h + b_f)), task head, decoder 3H -> 1024 -> d_a+d_t+d_v, loss = cross-entropy
+ reconstruction of the missing modalities against ground truth, torch.optim.Adam with L2
weight decay. As a padded PyTorch implementation does, every expert runs on every row of the
padded batch and the decoder produces every column. Prints one JSON object.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DIMS = (512, 1024, 1024)


class Block(nn.Module):
    def __init__(self, hidden, heads, ratio, p):
        super().__init__()
        self.heads = heads
        self.in_proj = nn.Linear(hidden, 3 * hidden)
        self.out_proj = nn.Linear(hidden, hidden)
        self.fc1 = nn.Linear(hidden, int(round(ratio * hidden)))
        self.fc2 = nn.Linear(int(round(ratio * hidden)), hidden)
        self.drop = nn.Dropout(p)

    def attention(self, z, valid):
        b, l, h = z.shape
        dh = h // self.heads
        q, k, v = self.in_proj(z).view(b, l, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        s = q @ k.transpose(-1, -2) / math.sqrt(dh)  # [B, heads, L, L]
        s = s.masked_fill(~valid[:, None, None, :], -1e30)
        p = torch.softmax(s, dim=-1) * valid.any(dim=1)[:, None, None, None]
        a = (p @ v).transpose(1, 2).reshape(b, l, h)
        return self.out_proj(a)

    def forward(self, z, valid):
        a = self.attention(z, valid)
        return z + a + self.drop(self.fc2(self.drop(F.gelu(self.fc1(a)))))


class Backbone(nn.Module):
    def __init__(self, hidden=256, depth=4, heads=2, ratio=1.0, p=0.5, n_out=4, dec_hidden=1024):
        super().__init__()
        self.inp = nn.ModuleList(nn.Linear(d, hidden) for d in DIMS)
        self.experts = nn.ModuleList(
            nn.ModuleList(Block(hidden, heads, ratio, p) for _ in range(depth)) for _ in DIMS)
        self.fuse = nn.Linear(3 * hidden, 3 * hidden)
        self.head = nn.Linear(3 * hidden, n_out)
        self.dec1 = nn.Linear(3 * hidden, dec_hidden)
        self.dec2 = nn.Linear(dec_hidden, sum(DIMS))
        self.drop = nn.Dropout(p)

    def forward(self, xs, avail, real):
        zs = []
        for m, x in enumerate(xs):
            present = ((avail >> m) & 1).bool() & real  # [B, L]
            z = self.drop(self.inp[m](x * present[..., None]))
            for blk in self.experts[m]:
                z = blk(z, present)
            zs.append(z * present[..., None])
        h = torch.cat(zs, dim=-1)
        g = h + self.drop(F.relu(self.fuse(h)))
        return self.head(g), self.dec2(F.relu(self.dec1(g)))


def make_batch(cond_bits, n_dialogue=16):
    lens = [30 + (d * 7) % 15 for d in range(n_dialogue)]
    L = max(lens)
    real = torch.zeros(n_dialogue, L, dtype=torch.bool)
    for d, n in enumerate(lens):
        real[d, :n] = True
    avail = torch.where(real, torch.full((n_dialogue, L), cond_bits), torch.zeros(n_dialogue, L)).long()
    xs = [torch.randn(n_dialogue, L, d) for d in DIMS]
    labels = torch.randint(0, 4, (n_dialogue, L))
    return xs, avail, real, labels, sum(lens)


def step(model, opt, xs, avail, real, labels, n_real):
    opt.zero_grad(set_to_none=False)
    logits, rec = model(xs, avail, real)
    w = real.float() / n_real
    task = (F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                            reduction="none") * w.reshape(-1)).sum()
    loss_rec = 0.0
    off = 0
    for m, d in enumerate(DIMS):
        missing = (((avail >> m) & 1) == 0) & real
        err = ((rec[..., off:off + d] - xs[m]) ** 2).sum(-1) / d
        loss_rec = loss_rec + (err * missing.float() * w).sum()
        off += d
    loss = task + loss_rec
    loss.backward()
    opt.step()
    return float(loss)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--conditions", default="at,atv")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.manual_seed(0)
    runs = []
    for t in [int(x) for x in args.threads.split(",")]:
        torch.set_num_threads(t)
        for cond in args.conditions.split(","):
            bits = sum(1 << "atv".index(c) for c in cond)
            model = Backbone()
            opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-5)
            xs, avail, real, labels, n_real = make_batch(bits)
            for _ in range(2):
                step(model, opt, xs, avail, real, labels, n_real)
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(args.steps):
                loss = step(model, opt, xs, avail, real, labels, n_real)
            dt = (time.perf_counter() - t0) / args.steps
            cpu = (time.process_time() - c0) / args.steps
            runs.append({"condition": cond, "threads": t, "utterances": n_real,
                         "step_ms": dt * 1e3, "utt_per_s": n_real / dt, "cpu_ms_per_step": cpu * 1e3,
                         "utt_per_cpu_s": n_real / cpu, "loss": loss})
            print(f"torch condition={cond} threads={t}: {dt * 1e3:.1f} ms/step ({cpu * 1e3:.1f} CPU ms), "
                  f"{n_real / dt:.0f} utterances/s", flush=True)
    n_params = sum(p.numel() for p in Backbone().parameters())
    out = {"benchmark": "step_torch_twin", "torch": torch.__version__, "params": n_params,
           "runs": runs}
    print(json.dumps(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
