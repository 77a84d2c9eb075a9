"""Notebook 08 panel: the state as a key -> value memory, additive (linear attention) vs delta rule.

Store N pairs (k_i, v_i) with unit keys of pairwise correlation rho (k_i = normalised(sqrt(1-rho) e_i +
sqrt(rho) u), u shared, e_i orthonormal for i <= d, random after), then read each key back: recall_i = S^T k_i.

    additive:   S = sum_i k_i v_i^T                               (lnp.decayed_linear_attention, a = 1)
    delta rule: S_i = S_{i-1} + beta k_i (v_i - S_{i-1}^T k_i)^T  (lnp.delta_rule_attention)

relative recall error = mean_i ||S^T k_i - v_i|| / ||v_i||, shown for the chosen N and against N.
"""
import numpy as np

from . import hint, nice_limit, styled

from .. import numpy as lnp

DEFAULTS = dict(beta=1.0, n_pairs=8, key_corr=0.0, d=16, seed=0)
FIGSIZE = (10, 3.9)


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    return {"beta": hint(w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="write strength β",
                                       style=wide), "β: delta-rule step (1 = overwrite exactly)"),
            "n_pairs": hint(w.IntSlider(value=8, min=1, max=32, description="stored pairs N", style=wide),
                            "key width d_k = 16"),
            "key_corr": w.FloatSlider(value=0.0, min=0.0, max=0.9, step=0.1, description="key correlation ρ",
                                      style=wide)}


def make_pairs(n_pairs, d, key_corr, seed=0):
    """Unit keys with pairwise correlation about key_corr, and Gaussian values: k (N, d), v (N, d).

    The private parts e_i are orthonormal for the first d keys (a QR basis), random unit vectors after:
    with key_corr = 0 the first d keys are exactly orthogonal, so any interference comes from
    correlation or from N > d."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    extra = rng.standard_normal((max(n_pairs - d, 0), d))
    extra /= np.linalg.norm(extra, axis=-1, keepdims=True)
    e = np.concatenate([basis.T, extra])[:n_pairs]
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    k = np.sqrt(1 - key_corr) * e + np.sqrt(key_corr) * u
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    v = rng.standard_normal((n_pairs, d))
    return k, v


def recall_errors(k, v, beta):
    """(additive error, delta-rule error) after storing all rows of k, v and querying with k."""
    n = k.shape[0]
    _, S_add = lnp.decayed_linear_attention(k, k, v, np.zeros(n))
    _, S_delta = lnp.delta_rule_attention(k, k, v, np.full(n, float(beta)))
    err = lambda S: float(np.mean(np.linalg.norm(k @ S - v, axis=-1) / np.linalg.norm(v, axis=-1)))
    return err(S_add), err(S_delta)


def recall_curves(k, v, beta):
    """recall_errors(k[:N], v[:N], beta) for every N = 1..P at once: (additive (P,), delta rule (P,)).

    One batched library call per memory instead of P: sequence N of the batch is the whole (P, d) stream
    with the writes after token N switched off (key 0 for the additive sum, beta 0 for the delta rule:
    S_t = S_{t-1}), so its final state is the state after the first N pairs. Error N averages over i <= N."""
    P = k.shape[0]
    written = np.tril(np.ones((P, P)))                                  # (N, t): 1 where token t <= N is written
    kb = np.broadcast_to(k, (P,) + k.shape)                             # (P, P, d): the stream, once per N
    vb = np.broadcast_to(v, (P,) + v.shape)
    _, S_add = lnp.decayed_linear_attention(kb, kb * written[..., None], vb, np.zeros((P, P)))   # (P, d, d_v)
    _, S_delta = lnp.delta_rule_attention(kb, kb, vb, float(beta) * written)
    v_norm = np.linalg.norm(v, axis=-1)                                 # (P,)

    def err(S):
        rel = np.linalg.norm(k[None] @ S - v[None], axis=-1) / v_norm   # (N, i): key i read from state N
        return (rel * written).sum(axis=1) / written.sum(axis=1)
    return err(S_add), err(S_delta)


def compute(beta=1.0, n_pairs=8, key_corr=0.0, d=16, seed=0):
    n_pairs, d = int(n_pairs), int(d)
    k, v = make_pairs(max(n_pairs, 2 * d), d, key_corr, seed)        # one draw; prefixes give each N
    sweep = np.arange(1, 2 * d + 1)
    curves = np.stack(recall_curves(k[:2 * d], v[:2 * d], beta), axis=1)      # (2d, 2)
    add, delta = recall_errors(k[:n_pairs], v[:n_pairs], beta)
    gram = k[:n_pairs] @ k[:n_pairs].T
    off = gram[~np.eye(n_pairs, dtype=bool)]
    return {"beta": beta, "n_pairs": n_pairs, "d": d, "key_corr": key_corr, "sweep": sweep,
            "additive_curve": curves[:, 0], "delta_curve": curves[:, 1], "additive_error": add,
            "delta_error": delta, "mean_abs_key_overlap": float(np.abs(off).mean()) if off.size else 0.0}


def _snap(x):
    return nice_limit(x, steps=(1, 1.5, 2, 3, 4, 6, 8))       # finer than 1, 2, 5: fewer re-takes on rho


def _limits(result):
    """(curve axis top, bar axis top), snapped (_snap) so most moves keep the axes. The curves' from the
    additive curve, which moves with ρ only; the bars share it (one scale for both plots) unless an error at
    N needs more room for its label (a large β at a large N)."""
    curve = max(1.5, _snap(1.1 * float(np.nanmax(result["additive_curve"]))))
    bars = max(curve, _snap(1.2 * max(result["additive_error"], result["delta_error"])))
    return curve, bars


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_c, ax_b = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    s = result["sweep"]
    add, = ax_c.plot(s, result["additive_curve"], color="0.5", ls="--", marker="o", ms=3, label="additive (linear attention)")
    delta, = ax_c.plot(s, result["delta_curve"], color="0.1", marker="s", ms=3, label="delta rule")
    d_line = ax_c.axvline(result["d"], color="0.6", ls=":", lw=1, label="N = d_k")
    now = ax_c.axvline(result["n_pairs"], color="tab:orange", lw=1, label="N of the bars")
    ax_c.set_xlabel("number of stored pairs N")
    ax_c.set_ylabel("relative recall error")
    title = fig.suptitle("", x=0.01, ha="left")
    legend = ax_c.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False,
                         columnspacing=0.8, handlelength=1.6)
    bars = ax_b.bar(["additive", "delta rule"], [0.0, 0.0], color=["0.6", "0.2"])
    # y limits (update()): a fixed scale of at least 1, so round-off (1e-16) stays a flat bar at 0
    ax_b.ticklabel_format(axis="y", useOffset=False, style="plain")
    texts = [ax_b.text(i, 0.0, "", ha="center", va="bottom") for i in range(2)]
    ax_b.set_ylabel("relative recall error")
    title_b = ax_b.set_title("")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.72, wspace=0.3)
    fig._linattn = dict(sweep=tuple(s), axes=(ax_c, ax_b), add=add, delta=delta, now=now, legend=legend,
                        bars=list(bars), texts=texts, titles=(title, title_b), d_line=d_line,
                        spines=(*ax_c.spines.values(), *ax_b.spines.values()))
    update(fig, result)
    return fig


def update(fig, result):
    """New data in the same artists; False (redraw) when the N sweep changed. A snapped y limit that moved
    (_limits) is set here: the renderer then re-takes its background, still without a rebuild."""
    a = getattr(fig, "_linattn", None)
    if a is None or a["sweep"] != tuple(result["sweep"]):
        return False
    for ax, top in zip(a["axes"], _limits(result)):
        ax.set_ylim(0, top)
    a["add"].set_ydata(result["additive_curve"])
    a["delta"].set_ydata(result["delta_curve"])
    a["now"].set_xdata([result["n_pairs"]] * 2)
    vals = [result["additive_error"], result["delta_error"]]
    for i, (bar, text, val) in enumerate(zip(a["bars"], a["texts"], vals)):
        bar.set_height(val)
        text.set_position((i, val))
        text.set_text(f"{val:.2f}")
    title, title_b = a["titles"]
    # β and N in the titles, not the legend: a legend that changes is laid out again on every move (~10 ms)
    title.set_text(f"key correlation {result['key_corr']:.1f} (mean |k_i·k_j| = "
                   f"{result['mean_abs_key_overlap']:.2f}), key width d_k = {result['d']}, delta rule β = {result['beta']:.1f}")
    title_b.set_text(f"at N = {result['n_pairs']} pairs")
    # in a fresh draw's order: the lines as created (the d_k mark over the curves), frames over lines and
    # bars, texts, the legend on top
    return [a["add"], a["delta"], a["d_line"], a["now"], *a["bars"], *a["spines"], *a["texts"], title, title_b,
            a["legend"]]
