"""Notebook 03 panel: causal linear attention as an RNN, one token at a time.

Time slider t -> the state after t tokens, the normaliser state, and what each earlier token
contributes to the output at t:

    S_t = S_{t-1} + phi(k_t) v_t^T   (m, d_v),    z_t = z_{t-1} + phi(k_t)   (m,)
    out_t = S_t^T phi(q_t) / (z_t . phi(q_t)) = sum_{j<=t} a_tj v_j,   a_tj = phi(q_t).phi(k_j) / phi(q_t).z_t

The states come from ``recurrent_linear_attention`` called one token at a time with ``state=``
(exactly how generation runs), the weights a_tj from ``kernel_attention(q, k, I_n, phi, causal=True)``.
"""
import numpy as np

from . import hint, styled

from .. import numpy as lnp
from .nb01_kernel_smoother import few_ticks

DEFAULTS = dict(t=6, n=12, d=4, d_v=4, seed=0)
FIGSIZE = (10, 4.0)


def controls():
    import ipywidgets as w
    return {"t": hint(w.IntSlider(value=6, min=1, max=12, description="tokens seen t",
                                  style={"description_width": "initial"}),
                      "the state after the first t of n = 12 tokens")}
PHI = "elu_plus_one"


def make_qkv(n, d, d_v, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d)), rng.standard_normal((n, d_v))


def states_token_by_token(q, k, v, phi=PHI):
    """Run the RNN one token per call, carrying (S, z): returns out (n, d_v), S_all (n, m, d_v), z_all (n, m)."""
    state, outs, Ss, zs = None, [], [], []
    for t in range(q.shape[0]):
        out_t, state = lnp.recurrent_linear_attention(q[t:t + 1], k[t:t + 1], v[t:t + 1], phi, state=state)
        outs.append(out_t[0])
        Ss.append(state[0])
        zs.append(state[1])
    return np.stack(outs), np.stack(Ss), np.stack(zs)


def compute(t=6, n=12, d=4, d_v=4, seed=0):
    t = int(min(max(t, 1), n))                          # t counts tokens: 1..n
    q, k, v = make_qkv(n, d, d_v, seed)
    out, S_all, z_all = states_token_by_token(q, k, v)
    weights = lnp.kernel_attention(q, k, np.eye(n), PHI, causal=True)         # (n, n) lower-triangular
    parallel = lnp.kernel_attention(q, k, v, PHI, causal=True)                # (n, d_v)
    return {"t": t, "n": n, "S": S_all[t - 1], "z": z_all[t - 1],
            "S_scale": float(np.abs(S_all).max()), "z_scale": float(z_all.max()),
            "weights": weights[t - 1], "out": out[t - 1],
            "max_diff_vs_parallel": float(np.abs(out - parallel).max())}


def _weight_top(w):
    """y limit of the weights: 1.35 x max(0.3, max_j a_tj) (room for the legend) rounded up to a quarter, so
    moves of t that keep the largest weight in one quarter keep the axes (and blit)."""
    return 0.25 * np.ceil(1.35 * max(0.3, float(w.max())) / 0.25 - 1e-9)


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_s, ax_z, ax_w = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 0.45, 1.6]})
    n = result["n"]
    lim = result["S_scale"]
    im = ax_s.imshow(result["S"], cmap="gray", vmin=-lim, vmax=lim)   # one grey scale for every t
    title_s = ax_s.set_title("")
    ax_s.set_xlabel("value dim")
    ax_s.set_ylabel("feature dim")
    m = result["z"].shape[0]
    z_bars = ax_z.barh(np.arange(m), result["z"], color="0.4")
    ax_z.set_xlim(0, result["z_scale"])
    ax_z.invert_yaxis()
    ax_z.set_title("normaliser\nz_t")
    ax_z.set_xlabel("Σ φ(k_j)")
    j = np.arange(1, n + 1)
    # one bar per token: dark with its weight for j <= t (in the state); height 0 (nothing drawn) for j > t
    w_bars = ax_w.bar(j, np.zeros(n), color="0.3", label="j ≤ t (in the state)")
    now = ax_w.axvline(0, color="tab:orange", ls="--", lw=1, label="now")
    ax_w.set_xlim(0.5, n + 0.5)
    ax_w.set_xlabel("token j")
    ax_w.set_ylabel("weight a_tj in out_t")
    ax_w.set_title(f"each token's share of out_t\n(RNN vs parallel: max diff {result['max_diff_vs_parallel']:.0e})")
    legend = ax_w.legend(loc="upper right")
    few_ticks(fig)
    from matplotlib.ticker import MaxNLocator
    for axis in (ax_s.xaxis, ax_s.yaxis, ax_z.yaxis):                    # index axes: integer ticks
        axis.set_major_locator(MaxNLocator(4, integer=True))
    fig.colorbar(im, ax=ax_s, fraction=0.09, pad=0.04, ticks=[-lim, 0, lim], format="%.0f")   # after few_ticks
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.15, top=0.84, wspace=0.4)
    fig._linattn = dict(n=n, im=im, title_s=title_s, z_bars=list(z_bars), w_bars=list(w_bars), now=now,
                        ax_w=ax_w, legend=legend, spines=(*ax_s.spines.values(), *ax_z.spines.values()),
                        spines_w=tuple(ax_w.spines.values()))
    update(fig, result)
    return fig


def update(fig, result):
    """Move t in the same artists: S_t, z_t, the bars a_tj and the "now" line; the grey scale and z's axis are
    fixed over every t, the weights' axis steps in quarters (_weight_top). False for a figure of another n."""
    a = getattr(fig, "_linattn", None)
    if a is None or a["n"] != result["n"]:
        return False
    t, w = result["t"], result["weights"]
    a["im"].set_data(result["S"])
    a["title_s"].set_text(f"state S_t, t = {t}\n(black < 0 < white)")
    for bar, z in zip(a["z_bars"], result["z"]):
        bar.set_width(z)
    for jj, bar in enumerate(a["w_bars"], start=1):
        seen = jj <= t
        bar.set_height(w[jj - 1] if seen else 0.0)
        bar.set_facecolor("0.3" if seen else "white")
        bar.set_edgecolor("none" if seen else "0.6")
    a["now"].set_xdata([t + 0.5] * 2)
    a["ax_w"].set_ylim(0, _weight_top(w))
    # the axes' frames are drawn over the image, the bars and the line that touch them, as in a full draw
    return [a["im"], a["title_s"], *a["z_bars"], *a["spines"], *a["w_bars"], a["now"], *a["spines_w"], a["legend"]]
