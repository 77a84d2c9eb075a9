"""Notebook 09 panel: what an MQAR sequence looks like (linattn_edu.mqar.mqar_batch).

Sliders: number of key-value pairs D, sequence length, seed -> one sequence drawn as a strip of tokens
(keys, values, queries, filler), the position of each query, and how far back its answer sits
(the recall distance a fixed-size state has to bridge), over a batch of 64 sequences. Both x axes span the
length's power-of-two frame and the count axis snaps to 1, 2, 5 x 10^k, so most moves blit (update).
"""
import functools
import math

import numpy as np

from . import hint, nice_limit, styled

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


SHADES = np.array([1.0, 0.35, 0.65, 0.0])                                 # filler, key, value, query (greyscale)
BINS = 32


def _frame(seq_len):
    """Both x axes span 2^ceil(log2 L) tokens (hatched past the sequence's end): length moves within a power
    of two keep the axes, so they blit like the D and seed moves."""
    return 2 ** math.ceil(math.log2(max(seq_len, 2)))


def _edges(frame):
    return np.linspace(0, frame, BINS + 1)                                # BINS bins over the frame


SEEDS = range(10)                  # the seed slider's range: the count axis is fixed over it


def recall_distances(x, y, num_kv_pairs):
    """Tokens between each query (x[b, p], y[b, p] != IGNORE) and the value it recalls, in np.nonzero order.

    x, y: (batch, L) int arrays. The query's key was written at the even position 2 j with x[b, 2 j] == x[b, p];
    its value sits at 2 j + 1, so the distance is p - (2 j + 1)."""
    D = int(num_kv_pairs)
    b, p = np.nonzero(y != IGNORE)                                        # (queries,) batch idx, position
    keys = x[b, 0:2 * D:2]                                                # (queries, D) the keys of each query's row
    hit = keys == x[b, p][:, None]                                        # (queries, D)
    if not hit.any(axis=1).all():
        raise ValueError("a query whose key is not among the sequence's keys (not an MQAR batch)")
    key_pos = 2 * hit.argmax(axis=1)                                      # first match, as the generator writes one
    return p - (key_pos + 1)


@functools.lru_cache(maxsize=128)
def count_limit(num_kv_pairs, seq_len, vocab_size=64, batch=64):
    """Count axis of the histogram: the fullest bin over every seed of the slider (SEEDS), with room for the
    legend, snapped to 1, 2, 5 x 10^k. Depends on D and the length only, so seed moves blit."""
    D, L = int(num_kv_pairs), int(seq_len)
    most = 0
    for seed in SEEDS:
        x, y = mqar_batch(batch, L, D, vocab_size, rng=seed)
        counts, _ = np.histogram(recall_distances(x.numpy(), y.numpy(), D), bins=_edges(_frame(L)))
        most = max(most, int(counts.max()))
    return nice_limit(1.3 * most)


def compute(num_kv_pairs=8, seq_len=64, seed=0, vocab_size=64, batch=64):
    D, L = int(num_kv_pairs), int(seq_len)
    x, y = mqar_batch(batch, L, D, vocab_size, rng=seed)
    x, y = x.numpy(), y.numpy()
    role = np.zeros((L,), dtype=int)                                      # 0 filler, 1 key, 2 value, 3 query
    role[0:2 * D:2], role[1:2 * D:2] = 1, 2
    role[y[0] != IGNORE] = 3
    distances = recall_distances(x, y, D)                                 # (batch * D,)
    counts, _ = np.histogram(distances, bins=_edges(_frame(L)))           # (BINS,)
    return {"tokens": x[0], "targets": y[0], "role": role, "num_kv_pairs": D, "seq_len": L,
            "distances": distances, "mean_distance": float(np.mean(distances)),
            "query_fraction": float((y != IGNORE).mean()), "counts": counts,
            "count_limit": max(count_limit(D, L, vocab_size, batch), nice_limit(1.3 * counts.max()))}


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_s, ax_h = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1, 1.6]})
    strip = ax_s.imshow(SHADES[result["role"]][None, :], cmap="gray", vmin=0, vmax=1, aspect="auto",
                      interpolation="nearest")                       # one crisp cell a token
    past = ax_s.add_patch(Rectangle((0, -0.5), 0, 1, fill=False, hatch="//", edgecolor="0.6", lw=0))
    ax_s.set_ylim(0.5, -0.5)
    ax_s.set_yticks([])
    ax_s.set_xlabel("position: dark grey key, light grey value, black query, white filler")
    title = ax_s.set_title("")
    bars = ax_h.bar(np.arange(BINS), np.zeros(BINS), width=1.0, align="edge", color="0.3")   # placed by update()
    mean = ax_h.axvline(0, color="tab:orange", ls="--", label="mean")
    ax_h.set_xlabel("tokens between a query and the value it recalls (64 sequences)")
    ax_h.set_ylabel("queries")
    legend = ax_h.legend(loc="upper right")
    # the mean's value beside its line, not in the legend (a legend that changes is laid out again each move)
    mean_text = ax_h.text(0, 0.97, "", transform=ax_h.get_xaxis_transform(), ha="left", va="top", color="tab:orange")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.9, hspace=1.0)
    fig._linattn = dict(frame=None, strip=strip, past=past, title=title, bars=bars, mean=mean, legend=legend,
                        mean_text=mean_text, ax_s=ax_s, ax_h=ax_h)
    update(fig, result)
    return fig


def update(fig, result):
    """New strip, bar heights, mean and texts. A length that leaves its power-of-two frame moves the x axes and
    the bins too (then the renderer re-takes its background, without a rebuild)."""
    a = getattr(fig, "_linattn", None)
    L = result["seq_len"]
    if a is None:
        return False
    if a["frame"] != _frame(L):
        a["frame"] = frame = _frame(L)
        a["ax_s"].set_xlim(-0.5, frame - 0.5)
        a["ax_h"].set_xlim(0, frame)
        edges = _edges(frame)
        for rect, x0, w in zip(a["bars"].patches, edges[:-1], np.diff(edges)):
            rect.set_x(x0)
            rect.set_width(w)
    a["strip"].set_data(SHADES[result["role"]][None, :])
    a["strip"].set_extent((-0.5, L - 0.5, 0.5, -0.5))
    a["past"].set_x(L - 0.5)
    a["past"].set_width(a["frame"] - L)
    a["past"].set_visible(L < a["frame"])
    for rect, c in zip(a["bars"].patches, result["counts"]):
        rect.set_height(c)
    a["ax_h"].set_ylim(0, result["count_limit"])
    a["mean"].set_xdata([result["mean_distance"]] * 2)
    a["mean_text"].set_position((result["mean_distance"], 0.97))
    a["mean_text"].set_text(f" {result['mean_distance']:.1f}")
    D = result["num_kv_pairs"]
    pl = "" if D == 1 else "s"
    a["title"].set_text(f"one MQAR sequence: D = {D} pair{pl}, then {D} quer{'y' if D == 1 else 'ies'}"
                        + (f" (hatched: past its {L} tokens)" if L < a["frame"] else ""))
    spines_s, spines_h = (list(ax.spines.values()) for ax in (a["ax_s"], a["ax_h"]))   # frames over the cells
    return [a["strip"], a["past"], *spines_s, a["title"], *a["bars"].patches, a["mean"], *spines_h, a["mean_text"],
            a["legend"]]
