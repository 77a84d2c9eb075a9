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
