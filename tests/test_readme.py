"""Numbers the README states are the stored measurements (they cannot drift from the results files)."""
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_h200_table_matches_the_stored_results():
    readme = (ROOT / "README.md").read_text()
    stored = json.loads((ROOT / "benchmarks" / "results" / "h200-2026-11-28.json").read_text())
    ms = {(r["method"], r["mode"], r["T"]): r["ms"] for r in stored["results"] if r["status"] == "ok"}
    columns = ["sdpa", "fla_chunk", "chunked_compiled", "chunked64"]
    rows = re.findall(r"^\| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", readme, flags=re.M)
    assert len(rows) == 3, rows
    for T, *values in rows:
        for method, text in zip(columns, values):
            decimals = len(text.split(".")[1]) if "." in text else 0
            assert float(text) == round(ms[(method, "fwd+bwd", int(T))], decimals), (method, T, text)


def test_panel_latency_range_matches_the_stored_results():
    readme = (ROOT / "README.md").read_text()
    stored = json.loads((ROOT / "benchmarks" / "results" / "panels-vm.json").read_text())["panels"]
    totals = [p["total_ms"] for p in stored.values()]
    lo, hi = re.search(r"takes (\d+)–(\d+) ms at default settings", readme).groups()
    assert (int(lo), int(hi)) == (round(min(totals)), round(max(totals)))
    under, count = re.search(r"(\d+) of (\d+) panels are under", readme).groups()
    assert int(count) == len(stored) and int(under) == sum(p["under_100ms"] for p in stored.values())
    compute = re.search(r"compute is at most (\d+) ms", readme).group(1)
    assert int(compute) == round(max(p["compute_ms"] for p in stored.values()))


def test_browser_latency_sentence_matches_the_stored_run():
    readme = (ROOT / "README.md").read_text()
    stored = json.loads((ROOT / "benchmarks" / "results" / "panels-browser-vm.json").read_text())["panels"]
    med = [p["median_ms"] for p in stored.values()]
    p95 = [p["p95_ms"] for p in stored.values()]
    got = re.search(r"medians\s+(\d+)–(\d+)\s+ms,\s+95th\s+percentiles\s+(\d+)–(\d+)\s+ms;\s+(\d+)\s+of\s+(\d+)\s+panels\s+meet\s+both",
                    readme).groups()
    assert tuple(map(int, got)) == (round(min(med)), round(max(med)), round(min(p95)), round(max(p95)),
                                    sum(p["meets_target"] for p in stored.values()), len(stored)), got


def test_readme_opens_with_the_quick_start_and_a_readable_gallery():
    readme = (ROOT / "README.md").read_text()
    heads = re.findall(r"^## (.+)$", readme, flags=re.M)
    assert heads[0].startswith("Quick start") and heads[1] == "Gallery", heads[:3]
    assert "make lab" in readme.split("## Gallery")[0]
    pictures = re.findall(r"\[!\[([^\]]+)\]\(([^)]+)\)\]\(([^)]+)\)", readme)
    assert len(pictures) >= 6
    for alt, img, target in pictures:
        assert target == img, f"clicking {img} must open the image, not {target}"    # full size on click
        assert (ROOT / img).is_file(), img
    assert not re.search(r"^\|\s*\|\s*\|\s*$", readme, flags=re.M), "a table with an empty header row"
    assert "|---|---|" not in readme.split("## The library")[0], "gallery images squeezed into table cells"


def test_h200_forms_table_matches_the_one_run_of_2026_12_02():
    """Every ours / fla pair in the README's table of all forms is the stored median of that run."""
    readme = (ROOT / "README.md").read_text()
    stored = json.loads((ROOT / "benchmarks" / "results" / "h200-2026-12-02.json").read_text())
    ms = {(r["method"], r["mode"], r["T"]): r["ms"] for r in stored["results"] if r["status"] == "ok"}
    fla = {"chunk_linear_attn(normalize=True)": "fla_chunk", "chunk_linear_attn(normalize=False)": "fla_chunk_unnorm",
           "chunk_simple_gla": "fla_simple_gla", "chunk_gla": "fla_gla", "chunk_delta_rule": "fla_delta",
           "chunk_gated_delta_rule": "fla_gated_delta"}
    pair = r"([\d.]+) / ([\d.]+)"
    rows = re.findall(rf"^\| [^|]+ \| `(\w+)` \| `([^`]+)`[^|]* \| (fwd|fwd\+bwd) \| {pair} \| {pair} \| {pair} \| [^|]+ \|$",
                      readme, flags=re.M)
    assert len(rows) == 9, rows
    assert {r[0] for r in rows} >= {"chunked_compiled", "unnorm_compiled", "decay_compiled", "gla_compiled",
                                    "delta_compiled", "gated_delta_compiled", "triton_norm", "triton_unnorm"}
    for ours, fla_name, mode, *values in rows:
        for i, T in enumerate((4096, 16384, 65536)):
            o, f = values[2 * i], values[2 * i + 1]
            assert float(o) == round(ms[(ours, mode, T)], 2), (ours, mode, T, o)
            assert float(f) == round(ms[(fla[fla_name], mode, T)], 2), (fla_name, mode, T, f)


def test_compile_cost_sentence_matches_the_stored_measurement():
    readme = (ROOT / "README.md").read_text()
    rows = json.loads((ROOT / "benchmarks" / "results" / "h200-2026-12-02-compile-cost.json").read_text())["compile_cost"]
    first = {(r["dynamic"], r["mode"], r["T"]): r["first_call_s"] for r in rows}
    m = re.search(r"first\s+forward-only call at a length takes (\d+)–(\d+) s, the first forward \+ backward "
                  r"\(a training step\) (\d+)–(\d+) s", readme)
    assert m, "compile-cost sentence not found"
    for (lo, hi), mode in zip(((m[1], m[2]), (m[3], m[4])), ("fwd", "fwd+bwd")):
        times = [t for (dyn, md, _), t in first.items() if dyn is False and md == mode]
        assert (int(lo), int(hi)) == (round(min(times)), round(max(times))), (mode, times)
    m = re.search(r"take (\d+) \+ (\d+) s at the first length, recompile once at\s+the second \((\d+) \+ (\d+) s\) "
                  r"and never after", readme)
    assert m, "dynamic=None sentence not found"
    Ts = sorted({T for _, _, T in first})
    want = [first[None, "fwd", Ts[0]], first[None, "fwd+bwd", Ts[0]], first[None, "fwd", Ts[1]], first[None, "fwd+bwd", Ts[1]]]
    assert [int(x) for x in m.groups()] == [round(w) for w in want]
    assert all(first[None, md, Ts[2]] < 1 for md in ("fwd", "fwd+bwd"))          # never after
