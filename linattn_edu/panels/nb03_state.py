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


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_s, ax_z, ax_w = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 0.45, 1.6]})
    t, n = result["t"], result["n"]
    lim = result["S_scale"]
    im = ax_s.imshow(result["S"], cmap="gray", vmin=-lim, vmax=lim)   # one grey scale for every t
    ax_s.set_title(f"state S_t, t = {t}\n(black < 0 < white)")
    ax_s.set_xlabel("value dim")
    ax_s.set_ylabel("feature dim")
    m = result["z"].shape[0]
    ax_z.barh(np.arange(m), result["z"], color="0.4")
    ax_z.set_xlim(0, result["z_scale"])
    ax_z.invert_yaxis()
    ax_z.set_title("normaliser\nz_t")
    ax_z.set_xlabel("Σ φ(k_j)")
    j = np.arange(1, n + 1)
    w = result["weights"]
    ax_w.bar(j[:t], w[:t], color="0.3", label="j ≤ t (in the state)")
    ax_w.bar(j[t:], np.zeros(n - t), color="white", edgecolor="0.6")
    ax_w.axvline(t + 0.5, color="tab:orange", ls="--", lw=1, label="now")
    ax_w.set_xlim(0.5, n + 0.5)
    ax_w.set_ylim(0, 1.35 * max(0.3, w.max()))                # room for the legend above the bars
    ax_w.set_xlabel("token j")
    ax_w.set_ylabel("weight a_tj in out_t")
    ax_w.set_title(f"each token's share of out_t\n(RNN vs parallel: max diff {result['max_diff_vs_parallel']:.0e})")
    ax_w.legend(loc="upper right")
    few_ticks(fig)
    from matplotlib.ticker import MaxNLocator
    for axis in (ax_s.xaxis, ax_s.yaxis, ax_z.yaxis):                    # index axes: integer ticks
        axis.set_major_locator(MaxNLocator(4, integer=True))
    fig.colorbar(im, ax=ax_s, fraction=0.09, pad=0.04, ticks=[-lim, 0, lim], format="%.0f")   # after few_ticks
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.15, top=0.84, wspace=0.4)
    return fig
