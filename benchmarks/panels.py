"""How long one slider update takes, for every panel: compute + draw + render, at its DEFAULTS.

    python -m benchmarks.panels [--repeats 7] [--tag NAME] [--panels nb01_kernel_smoother,...]

A slider update in the notebook runs ``compute(**params)``, ``draw(result)`` and then renders the
figure to a PNG for the output widget; all three are timed here (``panels.PanelRenderer``, the
very call ``panels.show`` makes: one draw at PANEL_DPI with margins laid out once). Each panel is warmed up once (imports,
font cache), then timed ``--repeats`` times; the table shows medians. Target: total < 100 ms.

Panels are found with ``linattn_edu.panels.panel_modules()``, so new panels are included without
editing this file. Results go to ``benchmarks/results/panels-<tag>.json`` (tag: the host name, or
'local' if it has none) with the date, command, machine and load average: the CPU is shared, so a
number is only meaningful next to the load it was measured under. The ``cpu ms`` column (process CPU
time per update, all threads) is less sensitive to other processes than wall time; on an idle machine
the two are close for these single-threaded updates. The < 100 ms verdict uses the wall-clock median.
"""
import argparse
import datetime
import json
import os
import platform
import re
import socket
import statistics
import sys
import time
from pathlib import Path

# one BLAS thread, as `make bench-panels` exports (threaded BLAS on 2 shared cores made nb05 10x slower)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.machine import cpu_times, steal_percent  # noqa: E402
from linattn_edu.panels import (PANEL_DPI, PanelRenderer, new_figure, option_values,  # noqa: E402
                                panel_modules, panel_style)

TARGET_MS = 100.0
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def time_panel(panel, repeats=7):
    """Median times in ms of one update as panels.show() runs it (PanelRenderer: compute + draw into the
    live figure + Agg draw + PNG), after one untimed warm-up update (imports, font cache). The compute
    cache is cleared before each timed update, so every update computes (a slider move to a setting not
    seen before). compute and draw are also timed on their own; render = total - compute - draw."""
    renderer = PanelRenderer(panel)
    renderer(**panel.DEFAULTS)                                  # warm-up (builds the figure)
    renderer(**panel.DEFAULTS)                                  # a panel that blits takes its background here
    scratch = new_figure(panel)

    def once():
        renderer.cache.clear()
        c0, t0 = time.process_time(), time.perf_counter()
        renderer(**panel.DEFAULTS)                              # exactly what a slider move runs
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        t0 = time.perf_counter()
        result = panel.compute(**panel.DEFAULTS)
        t1 = time.perf_counter()
        with panel_style():
            panel.draw(result, fig=scratch)             # on its own figure: the live one keeps its blit background
        t2 = time.perf_counter()
        return (t1 - t0) * 1e3, (t2 - t1) * 1e3, total * 1e3, cpu * 1e3

    runs = [once() for _ in range(repeats)]
    compute, draw, total, cpu = (statistics.median(r[i] for r in runs) for i in range(4))
    return {"compute_ms": compute, "draw_ms": draw, "render_ms": max(total - compute - draw, 0.0),
            "total_ms": total, "min_total_ms": min(r[2] for r in runs), "cpu_ms": cpu,
            "under_100ms": total < TARGET_MS, "repeats": repeats,
            "in_place": bool(renderer.last.get("in_place")), "mode": renderer.last.get("mode", "full")}


WALK_SLIDER_MOVES = 5          # as `make bench-panels-browser`: each slider moved 1 + 4 times


def next_value(widget):
    """The value one user action gives a control, as the browser suite acts (tests/browser,
    change_control): a slider one step up (down at its top end), a dropdown or toggle its first other
    option, a multi-select its first unselected option alone, a checkbox flipped."""
    import math

    import ipywidgets as w
    if isinstance(widget, w.FloatLogSlider):
        e = math.log(widget.value, widget.base)
        return widget.base ** (e + widget.step if e + widget.step <= widget.max + 1e-9 else e - widget.step)
    if isinstance(widget, w.SelectionSlider):
        values = option_values(widget)
        i = widget.index
        return values[i + 1 if i + 1 < len(values) else i - 1]
    if isinstance(widget, (w.IntSlider, w.FloatSlider)):
        up = widget.value + widget.step
        return up if up <= widget.max else widget.value - widget.step
    values = option_values(widget)
    if isinstance(widget, w.SelectMultiple):
        return tuple([v for v in values if v not in widget.value][:1] or values[:1])
    if isinstance(widget, (w.Dropdown, w.ToggleButtons, w.RadioButtons, w.Select)):
        return next(v for v in values if v != widget.value)
    if isinstance(widget, (w.Checkbox, w.ToggleButton)):
        return not widget.value
    raise TypeError(f"next_value: no rule for a {type(widget).__name__}")


def time_walk(panel):
    """The moves the browser suite makes, timed in this process: show(panel), then every control in
    order, a slider WALK_SLIDER_MOVES steps, any other control once, each timed from `control.value = v`
    to the new picture set on the Image widget (compute + update + blit + PNG; not the next step that
    show() may compute ahead after it, which the next move then finds cached). The browser adds the kernel
    round trip and the picture's decoding (about 30 ms measured here) to each move."""
    import ipywidgets as w

    from linattn_edu.panels import PanelRenderer, show
    modes, original = [], PanelRenderer.__call__

    def recording(self, **params):
        png = original(self, **params)
        modes.append(self.last["mode"])
        return png

    PanelRenderer.__call__ = recording
    try:
        box = show(panel)
        image = next(c for c in box.children if isinstance(c, w.Image))
        shown = []                     # when the new picture is set: show() may compute the next step after it
        image.observe(lambda change: shown.append(time.perf_counter()), names="value")
        samples = []
        sliders = (w.IntSlider, w.FloatSlider, w.FloatLogSlider, w.SelectionSlider)
        for control in box.children[0].children:
            for _ in range(WALK_SLIDER_MOVES if isinstance(control, sliders) else 1):
                value = next_value(control)
                shown.clear()
                t0 = time.perf_counter()
                control.value = value
                samples.append(((shown[0] if shown else time.perf_counter()) - t0) * 1e3)
    finally:
        PanelRenderer.__call__ = original
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"walk_median_ms": statistics.median(samples), "walk_p95_ms": p95, "walk_moves": len(samples),
            "walk_modes": {m: modes[1:].count(m) for m in dict.fromkeys(modes[1:])},
            "walk_samples_ms": [round(x, 1) for x in samples]}


def machine_tag():
    name = socket.gethostname() or "local"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "local"


def format_table(rows):
    head = (f"{'panel':<28} {'compute ms':>10} {'draw ms':>8} {'render ms':>9} {'total ms':>9} {'min ms':>7} "
            f"{'cpu ms':>7}  < 100 ms  {'walk median':>11} {'walk p95':>8} {'moves':>5}")
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        if "error" in r:
            lines.append(f"{name:<28} ERROR: {r['error']}")
            continue
        lines.append(f"{name:<28} {r['compute_ms']:>10.1f} {r['draw_ms']:>8.1f} {r['render_ms']:>9.1f} "
                     f"{r['total_ms']:>9.1f} {r['min_total_ms']:>7.1f} {r['cpu_ms']:>7.1f}  "
                     f"{'yes' if r['under_100ms'] else 'NO':>8}  {r['walk_median_ms']:>11.1f} {r['walk_p95_ms']:>8.1f} "
                     f"{r['walk_moves']:>5}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed updates per panel (median reported)")
    parser.add_argument("--tag", default=None, help="name in the results file (default: host name)")
    parser.add_argument("--panels", default=None, help="comma-separated panel names (default: all)")
    parser.add_argument("--no-save", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1 (got {args.repeats})")

    modules = panel_modules()
    names = sorted(modules) if args.panels is None else [p.strip() for p in args.panels.split(",") if p.strip()]
    unknown = [p for p in names if p not in modules]
    if unknown:
        parser.error(f"unknown panel(s) {unknown}; available: {sorted(modules)}")

    load_before, cpu_before = os.getloadavg(), cpu_times()
    rows = {}
    for name in names:
        try:
            rows[name] = {**time_panel(modules[name], args.repeats), **time_walk(modules[name])}
        except Exception as exc:                                # report, keep timing the others
            rows[name] = {"error": f"{type(exc).__name__}: {exc}"}
    load_after, steal = os.getloadavg(), steal_percent(cpu_before, cpu_times())

    print(format_table(rows))
    print(f"\nload average (1, 5, 15 min) before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} on {os.cpu_count()} CPUs; "
          f"CPU steal during the run: {steal if steal is not None else 'unknown'} %")
    if not args.no_save:
        tag = args.tag or machine_tag()
        record = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": "python -m benchmarks.panels " + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                        "cpu_count": os.cpu_count(), "python": platform.python_version(),
                        "matplotlib": matplotlib.__version__, "hostname": socket.gethostname(),
                        "load_average_before": load_before, "load_average_after": load_after,
                        "cpu_steal_percent": steal},
            "target_ms": TARGET_MS,
            "method": "median over repeats of one PanelRenderer update at the defaults (compute, uncached, then "
                      "what panels.show runs per slider move: for a panel with update() its blit (mode 'blit': "
                      "the changed artists over the kept background), else draw() + Agg draw; PNG at compress "
                      "level 1), after warm-up; Agg backend. draw_ms: a full draw() on a second figure. walk_*: the browser "
                      "suite's moves (each control in order, a slider 5 steps, others once) through panels.show, "
                      "median and p95 over the moves (time_walk). The "
                      "browser figure (input event to picture decoded): make bench-panels-browser, "
                      "panels-browser-<host>.json",
            "panel_dpi": PANEL_DPI,
            "panels": rows,
        }
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"panels-{tag}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {path}")
    return 1 if any("error" in r for r in rows.values()) else 0      # slow is reported, not an error


if __name__ == "__main__":
    sys.exit(main())
