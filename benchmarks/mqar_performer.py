"""Why does the Performer mixer fail MQAR? python -m benchmarks.mqar_performer [--out FILE]

One-seed variants of notebook 09's Performer mixer (mqar._performer_features, m = d_h = 16 fixed orthogonal
random features) at D = 4, d_model = 32, 2 heads, seq_len 64, vocab 64, 300 steps of batch 32, seed 0; each
changes one thing. Stored with command, date and machine (notebook 09 reads it).
"""
import argparse
import datetime
import json
import math
import sys

import torch
import torch.nn as nn

from linattn_edu import mqar

ORIG = mqar._performer_features


def _exp_no_norm(x, w):
    expo = x @ w.to(x.dtype).T
    return torch.exp(expo - expo.amax(dim=(-2, -1), keepdim=True).detach()) / math.sqrt(w.shape[0])


def _exp_no_stabilisation(x, w):
    return torch.exp(x @ w.to(x.dtype).T - 0.5 * (x * x).sum(-1, keepdim=True)) / math.sqrt(w.shape[0])


def _relu(x, w):
    return torch.relu(x @ w.to(x.dtype).T) + 1e-6


VARIANTS = {  # name: (what it changes, feature map, feature count factor, trainable W, undo the d^-1/4 scale)
    "elu+1 (linear)": ("the linear mixer, same budget", None, 1, False, False),
    "exp baseline": ("mqar's Performer mixer", ORIG, 1, False, False),
    "exp, m = 4 d_h": ("four times the random features", ORIG, 4, False, False),
    "exp, no stabilisation": ("no max subtracted before exp", _exp_no_stabilisation, 1, False, False),
    "exp, no -|x|^2/2": ("features exp(Wx) (still positive)", _exp_no_norm, 1, False, False),
    "exp, trainable W": ("W learned instead of fixed", ORIG, 1, True, False),
    "exp, no d^-1/4 scale": ("q, k not scaled by d_h^-1/4", ORIG, 1, False, True),
    "relu(Wx), same fixed W": ("exp replaced by ReLU on the same projection", _relu, 1, False, False),
}


def run_variant(name):
    what, fmap, factor, trainable, unscale = VARIANTS[name]
    if fmap is None:
        return mqar.train_mqar("linear", 4, steps=300, batch_size=32, seed=0)
    old_proj, old_init = mqar.lt.gaussian_projection, mqar.Mixer.__init__
    mqar._performer_features = (lambda x, w: fmap(x * w.shape[1] ** 0.25, w)) if unscale else fmap
    mqar.lt.gaussian_projection = lambda m, d, **kw: old_proj(factor * m, d, **kw)

    def init(self, *a, **k):
        old_init(self, *a, **k)
        if trainable and self.kind == "performer":
            w = self.w.clone()
            del self._buffers["w"]
            self.w = nn.Parameter(w)
    mqar.Mixer.__init__ = init
    try:
        return mqar.train_mqar("performer", 4, steps=300, batch_size=32, seed=0)
    finally:
        mqar._performer_features, mqar.lt.gaussian_projection, mqar.Mixer.__init__ = ORIG, old_proj, old_init


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="benchmarks/results/mqar-performer.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    meta = {"command": "python -m benchmarks.mqar_performer " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": mqar.machine(), "threads": 1, "rows": []}
    for name in VARIANTS:
        r = run_variant(name)
        meta["rows"].append(dict(variant=name, what=VARIANTS[name][0], accuracy=r["accuracy"],
                                 final_loss=r["final_loss"], seconds=r["seconds"]))
        print(meta["rows"][-1], flush=True)
        with open(args.out, "w") as f:
            json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
