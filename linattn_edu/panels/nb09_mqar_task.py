"""Notebook 09 panel: what an MQAR sequence looks like (linattn_edu.mqar.mqar_batch).

Sliders: number of key-value pairs D, sequence length, seed -> one sequence drawn as a strip of tokens
(keys, values, queries, filler), the position of each query, and how far back its answer sits
(the recall distance a fixed-size state has to bridge), over a batch of 64 sequences.
"""
import numpy as np

from . import hint, styled

from ..mqar import IGNORE, mqar_batch

DEFAULTS = dict(num_kv_pairs=8, seq_len=64, seed=0)
FIGSIZE = (10, 3.9)


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    return {"num_kv_pairs": hint(w.IntSlider(value=8, min=1, max=16, description="key-value pairs D", style=wide),
                                 "D ≤ length / 4 (the generator's rule)"),
            "seq_len": w.IntSlider(value=64, min=64, max=256, step=32, description="length (tokens)", style=wide),
            "seed": hint(w.IntSlider(value=0, min=0, max=9, description="seed", style=wide),
                         "another random batch of 64 sequences")}


def compute(num_kv_pairs=8, seq_len=64, seed=0, vocab_size=64, batch=64):
    D, L = int(num_kv_pairs), int(seq_len)
    x, y = mqar_batch(batch, L, D, vocab_size, rng=seed)
    x, y = x.numpy(), y.numpy()
    role = np.zeros((L,), dtype=int)                                      # 0 filler, 1 key, 2 value, 3 query
    role[0:2 * D:2], role[1:2 * D:2] = 1, 2
    role[y[0] != IGNORE] = 3
    q_pos = np.nonzero(y != IGNORE)                                       # (batch idx, position)
    distances = []
    for b, p in zip(*q_pos):
        key_pos = int(np.nonzero(x[b, :2 * D] == x[b, p])[0][0])          # where this key was written
        distances.append(p - (key_pos + 1))                               # back to its value token
    return {"tokens": x[0], "targets": y[0], "role": role, "num_kv_pairs": D, "seq_len": L,
            "distances": np.array(distances), "mean_distance": float(np.mean(distances)),
            "query_fraction": float((y != IGNORE).mean())}


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_s, ax_h = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1, 1.6]})
    role = result["role"]
    shades = np.array([1.0, 0.35, 0.65, 0.0])                             # filler, key, value, query (greyscale)
    ax_s.imshow(shades[role][None, :], cmap="gray", vmin=0, vmax=1, aspect="auto")
    ax_s.set_yticks([])
    ax_s.set_xlabel("position: dark grey key, light grey value, black query, white filler")
    ax_s.set_title(f"one MQAR sequence: D = {result['num_kv_pairs']} pairs, then {result['num_kv_pairs']} queries")
    ax_h.hist(result["distances"], bins=30, color="0.3")
    ax_h.axvline(result["mean_distance"], color="tab:orange", ls="--", label=f"mean {result['mean_distance']:.1f}")
    ax_h.set_xlabel("tokens between a query and the value it recalls (64 sequences)")
    ax_h.set_ylabel("queries")
    ax_h.legend(loc="upper right")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.9, hspace=1.0)
    return fig
