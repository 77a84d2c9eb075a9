"""Notebook 08 panel: parity with one delta-rule layer, built by hand, as the write strength beta moves.

Scalar state (d_k = d_v = 1), unit keys k = 1. Token BOS writes the value 1 (beta = 1); a bit 1 is the step
S <- (1 - beta) S (key 1, value 0, writing strength beta), a bit 0 is the identity (beta = 0). So after the
prefix x_1..x_t, with m_t ones,

    S_t = (1 - beta)^{m_t}       (the eigenvalue 1 - beta of I - beta k k^T, once per 1)

and the layer reads parity as sign(o_t), o_t = S_t q with q = 1. For beta in (0, 1] the eigenvalue is in
[0, 1): the sign never changes, so parity is read correctly only where it happens to be even. For beta in
(1, 2) the sign flips with every 1 (the magnitude shrinks like |1 - beta|^m); beta = 2 is a reflection: exact.
The outputs come from lnp.delta_rule_attention.
"""
import math

import numpy as np

from . import hint, styled

from .. import numpy as lnp

DEFAULTS = dict(beta=2.0, length=32, seed=0)
FIGSIZE = (10, 3.6)


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    return {"beta": hint(w.FloatSlider(value=2.0, min=0.0, max=2.0, step=0.05, description="write strength β of a 1",
                                       style=wide), "eigenvalue 1 − β along the key: negative only for β > 1"),
            "length": w.IntSlider(value=32, min=4, max=64, step=4, description="bits t", style=wide)}


def layer(bits, beta):
    """The hand-built layer on BOS + bits: returns o (t + 1,), the outputs after BOS and after every bit."""
    bits = np.asarray(bits)
    n = bits.size + 1
    k = np.ones((n, 1))
    v = np.zeros((n, 1))
    v[0] = 1.0                                                  # BOS writes 1
    b = np.concatenate([[1.0], np.where(bits == 1, float(beta), 0.0)])
    out, _ = lnp.delta_rule_attention(k, k, v, b)
    return out[:, 0]


def compute(beta=2.0, length=32, seed=0):
    length = int(length)
    bits = np.random.default_rng(seed).integers(0, 2, length)
    o = layer(bits, beta)
    parity = np.concatenate([[0], np.cumsum(bits) % 2])         # parity of the prefix, BOS included (0)
    predicted = (o < 0).astype(int)
    return {"beta": float(beta), "eigenvalue": 1.0 - float(beta), "bits": bits, "o": o, "parity": parity,
            "predicted": predicted, "accuracy": float(np.mean(predicted[1:] == parity[1:]))}


O_LIMIT = 2.6          # |o_t| = |1 - beta|^m <= 1 for every beta in [0, 2]: one y range for all (symlog)


def _frame(length):
    """The t axis spans 2^ceil(log2 length) bits: length moves within a power of two keep the axes (and blit)."""
    return 2 ** math.ceil(math.log2(max(int(length), 2)))


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_e, ax_o = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.2]})
    ax_e.axvspan(-1, 0, color="0.85", label="negative: sign flips")
    eig = ax_e.axvline(0, color="0.1", lw=3)
    ax_e.set_xlim(-1.05, 1.05); ax_e.set_ylim(0, 1); ax_e.set_yticks([])
    ax_e.set_xlabel("eigenvalue 1 − β along k")
    title_e = ax_e.set_title("")
    legend_e = ax_e.legend(loc="upper right", frameon=True, edgecolor="none")   # framed: the bar passes under the text
    ax_o.axhline(0, color="0.6", lw=1)
    path, = ax_o.plot([], [], color="0.3", lw=1)
    odd, = ax_o.plot([], [], "o", color="0.1", ms=5, label="odd prefix")
    even, = ax_o.plot([], [], "s", mfc="white", color="0.4", ms=5, label="even prefix")
    ax_o.set_yscale("symlog", linthresh=1e-3)
    ax_o.set_ylim(-O_LIMIT, O_LIMIT)                              # x limits: update()
    ax_o.set_xlabel("position t (bits read)")
    ax_o.set_ylabel("output o_t (parity = sign)")
    title_o = ax_o.set_title("", loc="left")
    # above the axes, right of the title: inside, the legend hid points of long strings (any corner holds some)
    legend = ax_o.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, ncol=2, borderaxespad=0.0,
                         handletextpad=0.3, columnspacing=1.0)
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.18, top=0.88, wspace=0.25)
    fig._linattn = dict(ax_o=ax_o, eig=eig, path=path, odd=odd, even=even, legend=legend, legend_e=legend_e,
                        titles=(title_e, title_o))
    update(fig, result)
    return fig


def update(fig, result):
    """New data in the same artists. The t axis moves only when the length leaves its power-of-two frame
    (the renderer then re-takes its background, still without a rebuild)."""
    a = getattr(fig, "_linattn", None)
    if a is None:
        return False
    o = result["o"]
    frame = _frame(o.size - 1)
    a["ax_o"].set_xlim(-0.05 * frame, 1.05 * frame)
    t = np.arange(o.size)
    is_odd = result["parity"] == 1
    a["eig"].set_xdata([result["eigenvalue"]] * 2)
    a["path"].set_data(t, o)
    a["odd"].set_data(t[is_odd], o[is_odd])
    a["even"].set_data(t[~is_odd], o[~is_odd])
    title_e, title_o = a["titles"]
    title_e.set_text(f"β = {result['beta']:.2f}")
    title_o.set_text(f"parity = sign(o_t): accuracy {result['accuracy']:.2f}")
    # the left legend is redrawn over the moving bar (a cached sprite); the right one, outside the axes, stays put
    return [a["eig"], a["legend_e"], a["path"], a["odd"], a["even"], title_e, title_o]
