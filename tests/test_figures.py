"""figures/make_figures.py: one command regenerates every figure, and the committed ones are current.

The generator runs once (as `make figures` would, in a subprocess) into a temporary folder; the tests
then compare that output with what README.md, docs/gallery.md, the notebooks and the book reference,
and with the PNGs committed in figures/, so a figure whose code changed without `make figures` fails.
"""
import importlib.util
import json
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "figures"
GENERATOR = FIGURES / "make_figures.py"

# Two renderings of the same figure on different machines may differ by antialiasing at edges:
# at most this share of pixels may differ by more than PIXEL_TOL (on a 0..1 scale) ...
PIXEL_TOL, MAX_SHARE_CHANGED = 0.1, 0.002
# ... and the mean absolute difference over all pixels must stay below this (a changed curve moves
# thousands of pixels; antialiasing noise moves a few hundred by a few levels).
MAX_MEAN_ABS_DIFF = 0.002
REFERENCE = re.compile(r"figures/([A-Za-z0-9_\-]+\.(?:png|svg|pdf))")


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_figures", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _load_generator()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Run the command line exactly as `make figures` does, into a fresh folder: (folder, {skipped: reason})."""
    out = tmp_path_factory.mktemp("figures")
    proc = subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"make_figures.py failed:\n{proc.stdout}\n{proc.stderr}"
    skipped = dict(re.findall(r"^(\w+): SKIPPED: (.*)$", proc.stderr, flags=re.M))
    for name, reason in skipped.items():
        warnings.warn(f"figure {name} not drawn: {reason}")
    return out, skipped


@pytest.fixture(scope="module")
def generated(run):
    return run[0]


@pytest.fixture(scope="module")
def produced(gen, run):
    """Names of the figures drawn in this run (all but those whose stored measurements are missing)."""
    return [name for name in gen.FIGURES if name not in run[1]]


def _grey(path):
    import matplotlib.image as mpimg
    img = mpimg.imread(path)                            # (h, w, 3 or 4) floats in [0, 1]
    return img[..., :3].mean(axis=-1), img.shape


def _references():
    """{figure file name: [where it is referenced]} from the README, the gallery, the book and the notebooks."""
    refs = {}
    texts = [ROOT / "README.md", ROOT / "docs" / "gallery.md", ROOT / "docs" / "teaching.md", ROOT / "book" / "index.md"]
    for path in texts:
        if path.exists():
            for name in REFERENCE.findall(path.read_text()):
                refs.setdefault(name, []).append(path.name)
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            for name in REFERENCE.findall("".join(cell["source"])):
                refs.setdefault(name, []).append(nb_path.name)
    return refs


# ------------------------------------------------------------------ the generator's contract
def test_every_figure_has_a_one_line_caption_and_a_notebook(gen):
    assert len(gen.FIGURES) >= 8
    for name, spec in gen.FIGURES.items():
        assert re.fullmatch(r"[a-z0-9_]+", name), name
        assert spec.caption.strip() and "\n" not in spec.caption, name
        assert re.fullmatch(r"\d\d", spec.notebook), (name, spec.notebook)


def test_every_registered_figure_is_written_as_png_and_svg(gen, run, produced, generated):
    skipped = run[1]
    assert set(skipped) <= {"mqar_recall", "gpu_scaling"}, f"only figures of stored measurements may be skipped: {skipped}"
    for name in skipped:
        assert gen.missing_input(name), f"{name} was skipped although its input exists"
    for name in produced:
        for ext in ("png", "svg"):
            path = generated / f"{name}.{ext}"
            assert path.exists() and path.stat().st_size > 1000, f"{path.name} missing or empty"
    written = {p.stem for p in generated.iterdir()}
    assert written == set(produced), f"unexpected files: {written ^ set(produced)}"


def test_pngs_are_not_blank_and_have_slide_resolution(gen, produced, generated):
    for name in produced:
        spec = gen.FIGURES[name]
        grey, shape = _grey(generated / f"{name}.png")
        assert shape[:2] == (round(spec.size[1] * gen.DPI), round(spec.size[0] * gen.DPI)), name
        assert shape[1] >= 900, f"{name}: {shape[1]} px wide is too small for a slide"
        assert grey.std() > 0.05, f"{name}.png looks blank (pixel std {grey.std():.3f})"
        assert (grey < 0.5).mean() > 0.005, f"{name}.png has almost no dark pixels (no lines or text?)"


def test_svgs_parse_and_carry_no_date(produced, generated):
    for name in produced:
        text = (generated / f"{name}.svg").read_text()
        root = ET.fromstring(text)
        assert root.tag.endswith("svg"), name
        assert text.count("<path") > 20, f"{name}.svg has almost no drawing"
        assert "<dc:date>" not in text, f"{name}.svg carries a date: it would change on every run"


def test_output_is_reproducible(gen, tmp_path):
    """Same code, same seeds -> the same bytes (fixed hash salt, no date or software version)."""
    name = "cost_crossover"
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        gen.render(name, tmp_path / sub)
    for ext in ("png", "svg"):
        assert (tmp_path / "a" / f"{name}.{ext}").read_bytes() == (tmp_path / "b" / f"{name}.{ext}").read_bytes(), ext


def test_only_and_unknown_names(gen, tmp_path, capsys):
    gen.main(["--out", str(tmp_path), "--only", "decay_mask"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decay_mask.png", "decay_mask.svg"]
    with pytest.raises(SystemExit):
        gen.main(["--out", str(tmp_path), "--only", "no_such_figure"])
    assert "no_such_figure" in capsys.readouterr().err


def test_list_prints_every_caption(gen, capsys):
    gen.main(["--list"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == list(gen.FIGURES)


# ------------------------------------------------------------------ references and staleness
def test_every_referenced_figure_is_generated(generated):
    refs = _references()
    assert refs, "no figure is referenced anywhere (docs/gallery.md should reference several)"
    missing = {name: where for name, where in refs.items() if not (generated / name).exists()}
    assert not missing, f"referenced but not produced by make_figures.py: {missing}"


def test_gallery_links_point_to_existing_notebooks():
    gallery = (ROOT / "docs" / "gallery.md").read_text()
    figures = REFERENCE.findall(gallery)
    # a gallery, not a figure dump: 4-6 figures (issue #8), plus the trained-model audit that issue #14 adds
    assert 4 <= len(set(figures)) <= 7, f"the README gallery should show 4-7 figures (has {len(set(figures))})"
    notebooks = re.findall(r"\((notebooks/[^)#]+\.ipynb)", gallery)
    assert len(notebooks) >= len(set(figures)), "every gallery figure should link to the notebook that explains it"
    for nb in notebooks:
        assert (ROOT / nb).exists(), f"docs/gallery.md links to {nb}, which does not exist"


def test_committed_figures_match_the_generator(gen, run, produced, generated):
    stale = [f"{name}.{ext} is committed but cannot be generated now ({run[1][name]})"
             for name in run[1] for ext in ("png", "svg") if (FIGURES / f"{name}.{ext}").exists()]
    for name in produced:
        committed = FIGURES / f"{name}.png"
        if not committed.exists():
            stale.append(f"{name}.png is not in figures/")
            continue
        new, new_shape = _grey(generated / f"{name}.png")
        old, old_shape = _grey(committed)
        if new_shape[:2] != old_shape[:2]:
            stale.append(f"{name}.png: size {old_shape[:2]} committed, {new_shape[:2]} generated")
            continue
        diff = np.abs(new - old)
        share, mean = (diff > PIXEL_TOL).mean(), diff.mean()
        if share > MAX_SHARE_CHANGED or mean > MAX_MEAN_ABS_DIFF:
            stale.append(f"{name}.png: {share:.2%} of pixels differ (mean |diff| {mean:.4f})")
        if not (FIGURES / f"{name}.svg").exists():
            stale.append(f"{name}.svg is not in figures/")
    assert not stale, "figures/ is stale; run `make figures` and commit the result:\n  " + "\n  ".join(stale)


def test_no_orphan_files_in_figures(gen):
    orphans = [p.name for p in FIGURES.iterdir()
               if p.suffix in (".png", ".svg", ".pdf") and p.stem not in gen.FIGURES]
    assert not orphans, f"files in figures/ that no figure function writes (delete them): {orphans}"


def test_stored_measurement_figures_draw_from_records_of_the_stored_format(gen, tmp_path, monkeypatch):
    """mqar_recall and gpu_scaling read committed result files; check their drawing code on small made-up
    records of the same format (the numbers are placeholders: only the plumbing is tested here), and that
    a missing file is reported, not drawn."""
    from linattn_edu.panels import nb10_scaling

    from linattn_edu import mqar
    rows = [dict(kind=k, d_head=h, seed=s, accuracy=0.2 + 0.1 * i + 0.01 * s)
            for i, h in enumerate((2, 4, 8, 16)) for k in mqar.MIXERS for s in range(3)]
    mqar_file = tmp_path / "benchmarks" / "results" / "mqar-capacity-full.json"
    mqar_file.parent.mkdir(parents=True)
    mqar_file.write_text(json.dumps({"command": "c", "date": "2026-01-01", "machine": {"cpu": "test CPU"},
                                     "rows": rows}))
    gpu_rows = [dict(method=m, mode=mode, T=T, ms=T / 1e3, peak_gib=T / 1e4, status="ok")
                for m in ("sdpa", "chunked_compiled") for mode in ("fwd", "fwd+bwd") for T in (1024, 4096, 16384)]
    record = {"meta": {"device": "cuda", "dtype": "bfloat16", "B": 1, "H": 1, "D": 64, "date": "2026-01-01",
                       "command": "c", "versions": {"gpu": "test GPU"}}, "methods": {}, "ceilings": None,
              "results": gpu_rows}
    gpu_file = mqar_file.parent / "gpu.json"
    gpu_file.write_text(json.dumps(record))
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    monkeypatch.setattr(gen, "MQAR_RESULTS", mqar_file.parent)
    monkeypatch.setattr(nb10_scaling, "DEFAULT_RESULTS", str(gpu_file))
    for name in ("mqar_recall", "gpu_scaling"):
        assert gen.missing_input(name) is None
        png, _ = gen.render(name, tmp_path)
        grey, _ = _grey(png)
        assert grey.std() > 0.05, name
    monkeypatch.setattr(gen, "MQAR_RESULTS", tmp_path / "nowhere")
    assert "no " in gen.missing_input("mqar_recall") and "nowhere" in gen.missing_input("mqar_recall")
