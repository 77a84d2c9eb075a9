"""Notebook 10 panel: measured time and peak memory of attention forms against sequence length T.

Reads a results file written by ``python -m benchmarks.speed`` (default: the stored H200 run,
benchmarks/results/h200-2026-11-28.json) and shows, log-log,

    (left)  median time per call against T, with two floors drawn from the run's measured ceilings:
            softmax (causal) FLOPs / bf16 matmul rate, and the fewest bytes any attention must move
            (read q, k, v (and d out), write out (and dq, dk, dv) once) / copy bandwidth;
    (right) peak GPU memory against T (inputs included), with the inputs alone drawn.

The crossover (the first measured T from which our compiled chunkwise form stays faster than SDPA)
is marked. ``plot_scaling(path)`` is the one-call figure for the README gallery.
"""
import json
import os

import numpy as np

from . import hint, styled

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # editable install
DEFAULT_RESULTS = os.path.join(REPO_ROOT, "benchmarks", "results", "h200-2026-11-28.json")
MAIN = ("sdpa", "fla_chunk", "chunked_compiled", "chunked64", "cumsum", "quadratic")
STYLE = {   # greyscale-safe: marker + line style carry the identity, colour is a bonus
    "sdpa": ("tab:red", "o", "-"), "sdpa_noncausal": ("tab:red", "o", ":"),
    "fla_chunk": ("tab:blue", "s", "-"), "chunked_compiled": ("black", "D", "-"),
    "chunked_compiled_nfirst": ("black", "d", ":"),
    "chunked64": ("tab:gray", "v", "--"), "chunked128": ("tab:gray", "^", "--"),
    "linear_noncausal": ("tab:green", "x", ":"), "cumsum": ("tab:purple", "P", "-."),
    "quadratic": ("tab:orange", "*", "-."), "recurrent": ("tab:brown", "h", ":"),
}
DEFAULTS = dict(mode="fwd+bwd", methods=MAIN, path=None)
FIGSIZE = (10, 5.4)
SHORT = {"sdpa": "softmax (SDPA)", "sdpa_noncausal": "softmax (SDPA), non-causal", "fla_chunk": "fla chunk (Triton)",
         "chunked_compiled": "chunked C=64, compiled", "chunked_compiled_nfirst": "compiled, normalise first",
         "chunked64": "chunked C=64, eager", "chunked128": "chunked C=128, eager",
         "linear_noncausal": "linear, non-causal", "cumsum": "cumsum (fp32 state)",
         "quadratic": "quadratic, masked", "recurrent": "recurrent loop"}


def controls():
    """Pass (forward / forward + backward) and the methods drawn, by their readable names."""
    import ipywidgets as w
    from . import hint
    labels = load().get("methods", {})
    return {"mode": w.ToggleButtons(options=[("forward", "fwd"), ("forward + backward", "fwd+bwd")],
                                    value="fwd+bwd", description="pass", style={"button_width": "150px"}),
            "methods": hint(w.SelectMultiple(options=[(labels.get(m, m), m) for m in labels], value=MAIN,
                                             description="methods", rows=6, layout=w.Layout(width="520px")),
                            "methods: Ctrl-click (Cmd-click on a Mac) adds or removes one; Shift-click a range")}


def load(path=None):
    """The results record (dict) of a benchmarks.speed JSON file; path None = the stored H200 run."""
    with open(path or DEFAULT_RESULTS) as f:
        return json.load(f)


def series(record, method, mode, key="ms"):
    """(T, values) of the successful measurements of one method and mode, T ascending."""
    rows = sorted((r for r in record["results"] if r["method"] == method and r["mode"] == mode
                   and r["status"] == "ok" and r.get(key) is not None), key=lambda r: r["T"])
    return np.array([r["T"] for r in rows]), np.array([r[key] for r in rows], dtype=float)


def crossover(record, method, mode, baseline="sdpa"):
    """First measured T from which `method` is faster than `baseline` at every longer measured T (None if never)."""
    T1, a = series(record, method, mode)
    T2, b = series(record, baseline, mode)
    common = sorted(set(T1) & set(T2))
    ta = dict(zip(T1, a))
    tb = dict(zip(T2, b))
    first = None
    for T in common:
        if ta[T] < tb[T]:
            first = T if first is None else first
        else:
            first = None
    return None if first is None else int(first)


def floors(record, mode, T):
    """Time floors (ms) at lengths T from the run's measured ceilings: (softmax FLOPs, minimum bytes)."""
    meta, ceil = record["meta"], record["ceilings"]
    B, H, D = meta["B"], meta["H"], meta["D"]
    T = np.asarray(T, dtype=float)
    elem = 2 if meta["dtype"] in ("bfloat16", "float16") else 4
    flops = 2.0 * B * H * T * T * D                      # causal: QK^T and PV, half of the T x T each
    n_io = 4 if mode == "fwd" else 8                     # fwd: q, k, v, out;  fwd+bwd: + dO in, dq, dk, dv out
    if mode != "fwd":
        flops = flops * 3.5                              # backward ~ 2.5 forwards (FlashAttention-2's count)
    bytes_min = n_io * B * H * T * D * elem
    return {"softmax_flops_ms": flops / (ceil["bf16_matmul_TFLOPs"] * 1e12) * 1e3,
            "bytes_ms": bytes_min / (ceil["copy_TBps"] * 1e12) * 1e3,
            "inputs_gib": (3 if mode == "fwd" else 4) * B * H * T * D * elem / 2**30}   # q, k, v (, dO)


def compute(mode="fwd+bwd", methods=MAIN, path=None):
    record = load(path)
    labels = record.get("methods", {})
    out = {"mode": mode, "time": {}, "memory": {}, "labels": {}, "oom": {}, "capped": {}}
    for m in methods:
        T, ms = series(record, m, mode, "ms")
        Tm, gib = series(record, m, mode, "peak_gib")
        if len(T) == 0:
            continue
        out["time"][m], out["memory"][m] = (T, ms), (Tm, gib)
        out["labels"][m] = labels.get(m, m)
        out["oom"][m] = [r["T"] for r in record["results"]
                         if r["method"] == m and r["mode"] == mode and r["status"].startswith("OOM")]
        out["capped"][m] = [r["T"] for r in record["results"]            # not run: the harness's max T
                            if r["method"] == m and r["mode"] == mode and r["status"].startswith("skipped: beyond")]
    T_all = np.array(sorted({r["T"] for r in record["results"]}), dtype=float)
    out["T_grid"] = T_all
    out["floors"] = floors(record, mode, T_all) if record.get("ceilings") else None   # none measured on a CPU
    out["crossover"] = crossover(record, "chunked_compiled", mode) if "chunked_compiled" in methods else None
    out["all"] = _all_methods(record)
    out["all_labels"] = {m: labels.get(m, m) for m in out["all"]}
    out["ylim"] = _fixed_limits(record, out["all"], T_all)
    out["device"] = record["meta"]["versions"].get("gpu", record["meta"]["device"])
    out["setting"] = f"{record['meta']['dtype']}, B={record['meta']['B']} H={record['meta']['H']} D={record['meta']['D']}"
    return out


def _log_range(arrays, headroom=1.0):
    """Log axis limits of positive values: matplotlib's 5 % margins of the log range, the top times headroom,
    snapped out to whole decades, so the forward and forward + backward pictures often share them (a blit)."""
    vals = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays] + [np.zeros(0)])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if not len(vals):
        return None
    lo, hi = vals.min(), vals.max()
    pad = (hi / lo) ** 0.05 if hi > lo else 10.0
    return 10.0 ** np.floor(np.log10(lo / pad)), 10.0 ** np.ceil(np.log10(hi * pad * headroom))


def _all_methods(record):
    """Every method the record has a successful measurement of (any pass), in the record's order: draw() builds
    artists for all of them, so choosing methods only shows and hides lines (a blit)."""
    measured = {r["method"] for r in record["results"] if r["status"] == "ok"}
    order = [*record.get("methods", {}), *(r["method"] for r in record["results"])]
    return tuple(m for m in dict.fromkeys(order) if m in measured)


def _fixed_limits(record, methods, T):
    """(time, memory) y limits over every method and both passes (floors included): whole decades that stay
    put whatever the controls choose, so every move is a blit."""
    times, mems = [], []
    for mode in ("fwd", "fwd+bwd"):
        for m in methods:
            times.append(series(record, m, mode, "ms")[1])
            mems.append(series(record, m, mode, "peak_gib")[1])
        if record.get("ceilings"):
            f = floors(record, mode, T)
            times += [f["softmax_flops_ms"], f["bytes_ms"]]
            mems.append(f["inputs_gib"])
    return _log_range(times, headroom=4.0), _log_range(mems, headroom=4.0)   # headroom for the labels at the top


def _structure(result):
    """What draw() builds artists for: a move that changes it (another file) draws again."""
    return (result["all"], result["floors"] is None, tuple(result["T_grid"]), result["ylim"])


def _legend_entries(legend):
    """The legend's entry boxes (handle + label), in the order of its handles, and its column boxes."""
    columns = legend._legend_handle_box.get_children()
    return [item for col in columns for item in col.get_children()], columns


def _show_legend(a, shown):
    """Pack the shown entries (names, in this order) into the legend's columns as Legend does (array_split
    into 3 columns, the first ones longer); the others are hidden and take no room."""
    legend = a["legend"]
    if legend is None:
        return
    entries, columns = a["legend_entries"], a["legend_columns"]
    visible = [entries[a["legend_names"].index(k)] for k in shown]
    for name, item, handle, text in zip(a["legend_names"], entries, legend.legend_handles, legend.texts):
        on = name in shown
        item.set_visible(on)
        handle.set_visible(on)                  # part of the legend's sprite key: another choice, another sprite
        text.set_visible(on)
    chunks = [list(c) for c in np.array_split(np.array(visible, dtype=object), 3) if len(c)]
    for i, col in enumerate(columns):
        col.set_visible(i < len(chunks))
        if i < len(chunks):
            col._children = chunks[i]
    legend.set_visible(bool(visible))


@styled
def draw(result, fig=None):
    """Artists built once for the chosen methods; update() brings them to another pass (fwd / fwd+bwd)."""
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_t, ax_m = fig.subplots(1, 2)
    time_lines, mem_lines, notes = {}, {}, {}
    for m in result["all"]:
        c, mk, ls = STYLE.get(m, ("k", ".", "-"))
        time_lines[m], = ax_t.loglog([], [], color=c, marker=mk, ls=ls, ms=5, lw=1.4, label=SHORT.get(m, result["all_labels"][m]))
        mem_lines[m], = ax_m.loglog([], [], color=c, marker=mk, ls=ls, ms=5, lw=1.4)
        notes[m] = ax_m.annotate("", (1, 1), xytext=(0, 0), textcoords="offset points", color=c)   # where it stops, and why
    T = result["T_grid"]
    floor_lines, legend_m = None, None
    if result["floors"] is not None:
        floor_lines = (ax_t.loglog([], [], color="tab:red", lw=1, ls=(0, (1, 3)), label="softmax FLOP floor")[0],
                       ax_t.loglog([], [], color="k", lw=1, ls=(0, (1, 3)), label="byte floor")[0],
                       ax_m.loglog([], [], color="k", lw=1, ls=(0, (1, 3)), label="inputs alone")[0])
        legend_m = ax_m.legend(loc="lower right")
    no_memory = ax_m.text(0.5, 0.5, "no GPU memory counter on this device", ha="center", va="center",
                          transform=ax_m.transAxes)
    cross = [ax.axvline(T[0], color="0.5", lw=1, ls="--") for ax in (ax_t, ax_m)]
    cross_text = ax_t.text(T[0], 1, "", va="bottom", ha="left")
    suptitle = fig.suptitle("", x=0.01, ha="left")
    ax_t.set_title("time per call (median)")
    ax_m.set_title("peak memory (inputs included)")
    ax_t.set_ylabel("ms")
    ax_m.set_ylabel("GiB")
    ticks = [t for t in T if t >= T[0]][::2] if len(T) > 5 else list(T)
    pad = (T[-1] / T[0]) ** 0.05 if T[-1] > T[0] else 2.0
    for ax in fig.axes:                      # minor log ticks cost most of a redraw
        ax.set_xlim(T[0] / pad, T[-1] * pad)
        ax.minorticks_off()
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{int(t) // 1024}k" if t >= 1024 else str(int(t)) for t in ticks])
        ax.set_xlabel("sequence length T")
        ax.grid(True, which="major", lw=0.3, alpha=0.5)
    handles, labels = ax_t.get_legend_handles_labels()
    legend = None
    if handles:                             # every method's entry; update() shows the chosen ones (_show_legend)
        legend = fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False, columnspacing=1.0,
                            handlelength=2.2)        # below both plots: never over a curve
    names = [*result["all"], *(["softmax FLOP floor", "byte floor"] if floor_lines else [])]
    entries, columns = _legend_entries(legend) if legend else ([], [])
    for ax, lim in zip((ax_t, ax_m), result["ylim"]):
        if lim is not None:
            ax.set_ylim(*lim)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.36, top=0.88, wspace=0.22)
    fig._linattn = dict(structure=_structure(result), ax_t=ax_t, ax_m=ax_m, time_lines=time_lines, mem_lines=mem_lines,
                        notes=notes, floor_lines=floor_lines, legend_m=legend_m, no_memory=no_memory, cross=cross,
                        cross_text=cross_text, suptitle=suptitle, legend=legend, legend_names=names,
                        legend_entries=entries, legend_columns=columns)
    update(fig, result)
    for ax in fig.axes:
        ax.minorticks_off()                  # set_yscale by loglog turned them on again
    get_renderer = getattr(fig.canvas, "get_renderer", None)
    if get_renderer is not None:             # lay the legends out once, so the first move finds their sprites
        for legend in (legend, legend_m):
            if legend is not None:
                legend.draw(get_renderer())
    return fig


def update(fig, result):
    """Another pass or other methods: new lines, stop labels, floors, crossover and title; the chosen methods'
    lines and legend entries shown, the others hidden. The y axes span every method and both passes (whole
    decades), so nothing moves them: every move is a blit. False (draw again) only for another results file."""
    a = getattr(fig, "_linattn", None)
    if a is None or a["structure"] != _structure(result):
        return False
    for m in a["time_lines"]:
        on = m in result["time"]
        a["time_lines"][m].set_visible(on)
        a["mem_lines"][m].set_visible(on)
        if not on:
            a["notes"][m].set_visible(False)
    _show_legend(a, [*result["time"], *(["softmax FLOP floor", "byte floor"] if a["floor_lines"] else [])])
    for m, (T, ms) in result["time"].items():
        a["time_lines"][m].set_data(T, ms)
        Tm, gib = result["memory"][m]
        a["mem_lines"][m].set_data(Tm, gib)
        note = a["notes"][m]
        note.set_visible(False)
        if len(Tm):
            first_oom = min(result["oom"][m], default=None)
            first_cap = min(result["capped"].get(m, []), default=None)
            note.xy = (Tm[-1], gib[-1])
            if first_oom is not None and (first_cap is None or first_oom < first_cap):
                note.set_text(f"OOM at {first_oom // 1024}k")
                note.xyann, ha, va = (-6, 4), "right", "bottom"
            elif first_cap is not None and first_cap <= max(result["T_grid"]):
                note.set_text(f"not run ≥ {first_cap // 1024}k")
                note.xyann, ha, va = (8, -4), "left", "top"
            else:
                ha = va = None
            if ha:
                note.set_horizontalalignment(ha)
                note.set_verticalalignment(va)
                note.set_visible(True)
    T, f = result["T_grid"], result["floors"]
    if f is not None:
        for line, y in zip(a["floor_lines"], (f["softmax_flops_ms"], f["bytes_ms"], f["inputs_gib"])):
            line.set_data(T, y)
    a["no_memory"].set_visible(not any(len(v[0]) for v in result["memory"].values()))
    x = result["crossover"]
    for line in a["cross"]:
        line.set_visible(bool(x))
        if x:
            line.set_xdata([x, x])
    a["cross_text"].set_visible(bool(x))
    if x:
        a["cross_text"].set_position((x, a["ax_t"].get_ylim()[0]))
        a["cross_text"].set_text(f" crossover T = {x // 1024}k")
    pass_name = "forward" if result["mode"] == "fwd" else "forward + backward"
    a["suptitle"].set_text(f"{pass_name}, {result['device']}, {result['setting']}")
    floors = list(a["floor_lines"]) if a["floor_lines"] else []
    return [*a["time_lines"].values(), *floors[:2], *a["mem_lines"].values(), *floors[2:], *a["notes"].values(),
            *([a["legend_m"]] if a["legend_m"] else []), *([a["legend"]] if a["legend"] else []), a["no_memory"], *a["cross"], a["cross_text"], a["suptitle"]]


def plot_scaling(results_json=None, mode="fwd+bwd", methods=MAIN, fig=None):
    """One call: the figure of a stored benchmarks.speed run (default: the H200 run), for the README gallery."""
    return draw(compute(mode=mode, methods=methods, path=results_json), fig=fig)
