"""The compute() of notebook 10's panels against the stored results file and the cost models."""
import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from linattn_edu import costs
from linattn_edu.panels import nb10_chunk_traffic, nb10_scaling, panel_modules


@pytest.mark.parametrize("panel", (nb10_scaling, nb10_chunk_traffic), ids=lambda p: p.__name__.rsplit(".", 1)[-1])
def test_defaults_compute_and_draw(panel):
    assert panel.__name__.rsplit(".", 1)[-1] in panel_modules()
    fig = panel.draw(panel.compute(**panel.DEFAULTS))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    plt.close(fig)


def test_scaling_reads_the_stored_run():
    rec = nb10_scaling.load()
    meta = rec["meta"]
    for key in ("date", "command", "versions", "dtype", "B", "H", "D"):
        assert key in meta
    assert meta["versions"]["gpu"].startswith("NVIDIA") and meta["command"].startswith("python -m benchmarks.speed")
    r = nb10_scaling.compute(mode="fwd+bwd")
    T, ms = r["time"]["sdpa"]
    assert list(T) == sorted(T) and (ms > 0).all()
    # every plotted number is one of the file's rows
    rows = {(x["method"], x["T"]): x["ms"] for x in rec["results"] if x["mode"] == "fwd+bwd" and x["status"] == "ok"}
    for m, (T, ms) in r["time"].items():
        assert all(rows[m, int(t)] == v for t, v in zip(T, ms))
    assert r["oom"]["cumsum"] == [32768]                  # the stored run's cumsum backward ran out of memory


def test_crossover_definition():
    rec = {"results": [{"method": a, "mode": "fwd", "T": T, "ms": ms, "status": "ok"}
                       for a, pts in (("x", (5, 3, 2, 1)), ("sdpa", (1, 2, 3, 4))) for T, ms in zip((1, 2, 4, 8), pts)]}
    assert nb10_scaling.crossover(rec, "x", "fwd") == 4      # first T from which x stays faster
    rec["results"].append({"method": "x", "mode": "fwd", "T": 16, "ms": 99, "status": "ok"})
    rec["results"].append({"method": "sdpa", "mode": "fwd", "T": 16, "ms": 5, "status": "ok"})
    assert nb10_scaling.crossover(rec, "x", "fwd") is None   # loses again at the end: no crossover


def test_floors_are_the_counted_bytes_and_flops():
    rec = nb10_scaling.load()
    B, H, D = rec["meta"]["B"], rec["meta"]["H"], rec["meta"]["D"]
    f = nb10_scaling.floors(rec, "fwd", [65536])
    bytes_fwd = 4 * B * H * 65536 * D * 2                 # q, k, v read, out written, bf16
    assert math.isclose(f["bytes_ms"][0], bytes_fwd / (rec["ceilings"]["copy_TBps"] * 1e12) * 1e3)
    flops = 2 * B * H * 65536**2 * D
    assert math.isclose(f["softmax_flops_ms"][0], flops / (rec["ceilings"]["bf16_matmul_TFLOPs"] * 1e12) * 1e3)
    assert math.isclose(f["inputs_gib"][0], 1.5)          # three (4, 16, 65536, 64) bf16 tensors


def test_chunk_traffic_model():
    r = nb10_chunk_traffic.compute(m=64, d_v=64, n=4096, mode="fwd")
    heads = r["heads"]
    for C, fl in zip(r["Cs"], r["flops"]):
        assert fl == costs.chunked_cost(4096, 64, 64, int(C)).flops * heads
    # bytes: U-shaped in C with the minimum next to C* = sqrt(2 m d_v)
    i = int(np.argmin(r["bytes"]))
    assert r["Cs"][i] in (64, 128) and math.isclose(r["C_star"], math.sqrt(2 * 64 * 64))
    assert np.all(np.diff(r["intensity"]) > 0)            # bigger blocks: more FLOPs per byte
    grid = np.arange(2, 2000)
    b = [nb10_chunk_traffic.traffic_bytes(4096, 32, 32, 96, C) for C in grid]
    assert abs(grid[int(np.argmin(b))] - nb10_chunk_traffic.best_chunk(32, 96)) < 1
    fb = nb10_chunk_traffic.compute(m=64, d_v=64, n=4096, mode="fwd+bwd")
    np.testing.assert_allclose(fb["bytes"], 3 * r["bytes"])


def test_chunk_traffic_measured_points_only_for_the_stored_setting():
    assert set(nb10_chunk_traffic.compute(**nb10_chunk_traffic.DEFAULTS)["measured"]) == {64, 128}
    assert nb10_chunk_traffic.compute(m=128, d_v=64)["measured"] == {}


def test_plot_scaling_on_a_cpu_results_file(tmp_path):
    """A results file without ceilings or memory (a CPU run) still plots."""
    rec = {"meta": {"versions": {}, "device": "cpu", "dtype": "float32", "B": 1, "H": 2, "D": 8},
           "ceilings": None, "methods": {"sdpa": "softmax"},
           "results": [{"method": "sdpa", "mode": "fwd+bwd", "T": T, "ms": 0.1 * T, "peak_gib": None, "status": "ok"}
                       for T in (64, 128)]}
    path = tmp_path / "cpu.json"
    path.write_text(json.dumps(rec))
    fig = nb10_scaling.plot_scaling(str(path), methods=("sdpa",))
    assert isinstance(fig, Figure)
    plt.close(fig)
