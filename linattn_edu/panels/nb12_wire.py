"""Notebook 12 panel: what one rank receives per step, linear attention's state vs softmax's ring attention.

Sliders P (ranks), head width d, and the length n (marked on the curves) -> bytes one rank receives
in the forward pass against the total sequence length, on log-log axes:

    linear, all-gather   (P - 1) slice maps of m (d_v + 1) values          flat in n
    linear, ring         one state of m (d_v + 1) values                    flat in n
    delta rule, all-gather (P - 1) maps of d_k^2 + d_k d_v values           flat in n
    softmax, ring attention  the K and V blocks of the other P - 1 ranks    grows like n

from ``linattn_edu.torch.parallel.state_bytes`` / ``ring_attention_bytes`` (state values in float32, K and
V in bfloat16, B * H = 16). The formulas are checked against the bytes the gloo run really receives.
The axes span every control's range, so a slider move redraws only the curves and marks (update, a blit).
"""
import numpy as np

from . import hint, styled

FIGSIZE = (10, 4.2)
DEFAULTS = dict(P=4, d=64, n=65536)
BATCH_HEADS = 16
LINES = {"linear, all-gather": ("linear", "allgather"), "linear, ring": ("linear", "ring"),
         "delta rule, all-gather": ("delta", "allgather")}


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    return {
        "P": hint(w.IntSlider(value=4, min=2, max=64, step=1, description="ranks P", style=wide),
                  "P: devices, each holding n / P tokens"),
        "d": hint(w.SelectionSlider(options=[16, 32, 64, 128, 256], value=64, description="head width d", style=wide),
                  "d = d_k = d_v = m, per head; B·H = 16 heads"),
        "n": hint(w.SelectionSlider(options=[2 ** i for i in range(12, 25)], value=65536, description="length n",
                                    style=wide), "total sequence length, tokens (marked on the curves)"),
    }


def compute(P=4, d=64, n=65536):
    from ..torch import parallel
    if P < 2 or n < P:
        raise ValueError(f"need P >= 2 and n >= P (got P={P}, n={n})")
    grid = np.unique(np.geomspace(max(P, 2 ** 6), 2 ** 25, 60).astype(np.int64))
    lines = {name: np.full(grid.shape, float(parallel.state_bytes(form, P, BATCH_HEADS, d, d, method=method)))
             for name, (form, method) in LINES.items()}
    ring = np.array([parallel.ring_attention_bytes(int(x), P, BATCH_HEADS, d) for x in grid], dtype=float)
    at_n = {name: float(parallel.state_bytes(form, P, BATCH_HEADS, d, d, method=method)) for name, (form, method) in LINES.items()}
    at_n["softmax, ring attention"] = float(parallel.ring_attention_bytes(n, P, BATCH_HEADS, d))
    # where ring attention starts to move more than the linear all-gather: (P-1)(n/P)(2d)*2 = (P-1) d (d+1) 4
    n_equal = P * d * (d + 1) * 4 / (2 * d * 2)
    return {"P": P, "d": d, "n": n, "grid": grid, "lines": lines, "ring": ring, "at_n": at_n, "n_equal": n_equal}


XLIM = (16, 2 ** 26)           # every grid (64 .. 2^25 tokens), n and n_equal = P (d + 1) (34 .. 16,448) over the controls
YLIM = (1e3, 1e13)             # every curve over the controls' range (1.7e4 .. 5.4e11 bytes), room for the legend


@styled
def draw(result, fig=None):
    """Fixed axes over every control's range, so a move of P, d or n only redraws the curves (update)."""
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax = fig.add_subplot(1, 1, 1)
    styles = {"linear, all-gather": ("C0", "-"), "linear, ring": ("C0", "--"), "delta rule, all-gather": ("C2", "-.")}
    lines = {}
    for name, y in result["lines"].items():
        colour, ls = styles[name]
        lines[name], = ax.loglog(result["grid"], y, color=colour, ls=ls, lw=2, label=name)
    ring, = ax.loglog(result["grid"], result["ring"], color="C3", lw=2, label="softmax, ring attention (K, V)")
    n_line = ax.axvline(result["n"], color="0.4", lw=1, ls=":")
    equal_line = ax.axvline(result["n_equal"], color="C3", lw=1, ls=":")
    equal = ax.annotate("equal bytes", (result["n_equal"], result["lines"]["linear, all-gather"][0]), xytext=(6, -24),
                        textcoords="offset points", color="C3")
    ax.set_xlim(*XLIM)
    ax.set_ylim(*YLIM)
    title = ax.set_title("")
    ax.set_xlabel("total sequence length n (tokens)")
    ax.set_ylabel("bytes one rank receives")
    legend = ax.legend(loc="upper left")
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.16, top=0.9)
    fig._linattn = dict(lines=lines, ring=ring, n_line=n_line, equal_line=equal_line, equal=equal, title=title,
                        legend=legend)
    update(fig, result)
    return fig


def update(fig, result):
    """New bytes in the same curves, the n and equal-bytes marks moved; the axes never change."""
    a = getattr(fig, "_linattn", None)
    if a is None:
        return False
    for name, line in a["lines"].items():
        line.set_data(result["grid"], result["lines"][name])
    a["ring"].set_data(result["grid"], result["ring"])
    a["n_line"].set_xdata([result["n"]] * 2)
    a["equal_line"].set_xdata([result["n_equal"]] * 2)
    a["equal"].xy = (result["n_equal"], result["lines"]["linear, all-gather"][0])
    ratio = result["at_n"]["softmax, ring attention"] / result["at_n"]["linear, all-gather"]
    times = f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.2g}"            # 0.25x, not 0x, below n_equal
    a["title"].set_text(f"P = {result['P']}, d = {result['d']}: at n = {result['n']:,} ring attention receives "
                        f"{times}x the linear all-gather")
    return [*a["lines"].values(), a["ring"], a["n_line"], a["equal_line"], a["equal"], a["title"], a["legend"]]
