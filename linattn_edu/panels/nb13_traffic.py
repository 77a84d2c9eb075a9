"""Notebook 13 panel: bytes each token moves through HBM in the chunked kernels, against the chunk size C.

Per token, forward, bf16 inputs (2 bytes) and a float32 state (4 bytes), head width D (= d_k = d_v):

    floor          read q, k, v and write o once                 4 D * 2
    k, v again     the chunk-sums kernel and the output kernel both read k, v      2 D * 2
    state passes   four passes over one D x D float32 state per chunk of C tokens   4 D^2 * 4 / C

(notebook 13's accounting of its own kernels), and the time at the measured copy bandwidth for a whole
sequence of B * H * T tokens. A larger C shrinks the state traffic as 1/C.
"""
import numpy as np

from . import hint, nice_limit, styled

FIGSIZE = (10, 4.0)
DEFAULTS = dict(D=64, C=64, T=65536)
BANDWIDTH = 4.28e12            # bytes/s, device-to-device copy on one H200 (shared/reference/h200-anchors.md)
BATCH_HEADS = 64               # B = 4, H = 16


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    return {
        "D": hint(w.SelectionSlider(options=[16, 32, 64, 128, 256], value=64, description="head width D", style=wide),
                  "D = d_k = d_v"),
        "C": hint(w.SelectionSlider(options=[16, 32, 64, 128, 256, 512], value=64, description="chunk size C", style=wide),
                  "tokens per chunk (one program)"),
        "T": hint(w.SelectionSlider(options=[2 ** i for i in range(12, 18)], value=65536, description="length T", style=wide),
                  "tokens per sequence; B·H = 64 sequences"),
    }


def bytes_per_token(D, C):
    """(floor, k and v read again, state passes) in bytes per token."""
    return 4 * D * 2, 2 * D * 2, 4 * D * D * 4 / C


def compute(D=64, C=64, T=65536):
    if D < 1 or C < 1 or T < 1:
        raise ValueError(f"D, C and T must be positive (got D={D}, C={C}, T={T})")
    Cs = np.array([16, 32, 64, 128, 256, 512], dtype=float)
    parts = np.array([bytes_per_token(D, c) for c in Cs])              # (len(Cs), 3)
    floor, again, state = bytes_per_token(D, C)
    total = floor + again + state
    tokens = BATCH_HEADS * T
    return {"D": D, "C": C, "T": T, "Cs": Cs, "parts": parts, "total": total, "ratio": total / floor,
            "floor_ms": floor * tokens / BANDWIDTH * 1e3, "total_ms": total * tokens / BANDWIDTH * 1e3}


def _top(parts):
    """y limit: the tallest stack with 5 % room, snapped to 1, 2, 5 x 10^k (it moves with D only)."""
    return nice_limit(1.05 * float(parts.sum(axis=1).max()))


@styled
def draw(result, fig=None):
    """The bars are built once; update() restacks them, so C and T moves (and most D moves) blit."""
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(result["Cs"]))
    stacks = [ax.bar(x, np.zeros(len(x)), color=colour, label=label)
              for label, colour in (("floor: q, k, v in, o out", "0.55"), ("k, v read again", "C0"),
                                    ("state passes (4 D² · 4 B / C)", "C1"))]
    chosen, = ax.bar([0], [0], fill=False, edgecolor="k", lw=2)
    ax.set_xticks(x, [str(int(c)) for c in result["Cs"]])
    ax.set_xlabel("chunk size C (tokens)")
    ax.set_ylabel("bytes per token")
    ax.yaxis.set_major_formatter(lambda y, _: f"{y / 1000:g}k" if y >= 1000 else f"{y:g}")   # 100k: clear of the label
    title = ax.set_title("")
    legend = ax.legend(loc="upper right")
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.16, top=0.9)
    fig._linattn = dict(ax=ax, x=x, stacks=stacks, chosen=chosen, title=title, legend=legend)
    update(fig, result)
    return fig


def update(fig, result):
    """Restack the bars (heights, bottoms), move the box to the chosen C, retitle. The y limit moves with D only."""
    a = getattr(fig, "_linattn", None)
    if a is None or len(a["x"]) != len(result["Cs"]):
        return False
    bottom = np.zeros(len(a["x"]))
    for j, stack in enumerate(a["stacks"]):
        for rect, b, h in zip(stack.patches, bottom, result["parts"][:, j]):
            rect.set_y(b)
            rect.set_height(h)
        bottom += result["parts"][:, j]
    i = int(np.argmin(np.abs(result["Cs"] - result["C"])))
    a["chosen"].set_x(a["x"][i] - a["chosen"].get_width() / 2)
    a["chosen"].set_height(bottom[i])
    a["ax"].set_ylim(0, _top(result["parts"]))
    a["title"].set_text(f"D = {result['D']}, C = {result['C']}: {result['ratio']:.2f}x the floor; at T = {result['T']:,}, "
                        f"{result['total_ms']:.2f} ms vs floor {result['floor_ms']:.2f} ms")
    return [*(r for stack in a["stacks"] for r in stack.patches), a["chosen"], a["title"], a["legend"]]
