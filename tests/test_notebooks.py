"""The notebooks in notebooks/ run top to bottom against a real demo run (their assertions are the test).

Each notebook is executed with nbclient in this interpreter's environment (the venv), against a
``curate demo`` output plus a real ``curate ablate`` over it (~15 s with tiny proxies), and once
more without any ablation to check that 03 says so instead of failing.
"""

from __future__ import annotations

import json
import shutil
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def test_notebooks_are_committed_clean():
    """Valid nbformat v4, python3 kernel, and no outputs or execution counts in the committed files."""
    assert [p.name for p in NOTEBOOKS] == ["01_funnel_duckdb.ipynb", "02_classifier_thresholds_polars.ipynb",
                                          "03_ablation_results.ipynb"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), path.name
        assert any("assert " in c.source for c in code), f"{path.name} checks nothing"


def _execute(path: Path, env: dict[str, str], monkeypatch) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(path, as_version=4)
    # The kernelspec says `python`, which jupyter_client replaces with sys.executable; check that
    # the kernel really is this environment (a system kernel would not have `curation` installed).
    nb.cells.insert(0, nbformat.v4.new_code_cell(f"import sys\nassert sys.prefix == {sys.prefix!r}, sys.prefix"))
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    from curate.cli import main

    run = tmp_path_factory.mktemp("nbrun") / "demo"
    assert main(["demo", "--output", str(run)]) == 0
    # A real ablation over the demo's kept web pages, a code tree and a text file; tiny proxies.
    cfg = {
        "sources": [
            {"name": "web", "input": str(run / "annotate"), "kind": "documents", "where": "drop_reason IS NULL", "max_tokens": 20_000},
            {"name": "code", "input": str(STDLIB / "json"), "kind": "code", "max_tokens": 20_000},
            {"name": "license", "input": str(STDLIB / "LICENSE.txt"), "kind": "text", "max_tokens": 20_000},
        ],
        "vocab_size": 300, "proxies": 6, "held_out": 3, "workers": 2, "target": {"sources": ["code"]},
        "model": {"n_layer": 1, "d_model": 16, "n_head": 2, "seq_len": 32},
        "train": {"steps": 15, "batch_size": 4, "lr": 0.01, "checkpoint_every": 15, "eval_batches": 2},
    }
    config = run.parent / "ablate.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["ablate", "--config", str(config), "--output", str(run / "ablate")]) == 0
    return run


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_against_the_demo(path, demo_run, monkeypatch):
    nb = _execute(path, {"CURATE_RUN": str(demo_run)}, monkeypatch)
    text = _text(nb)
    assert str(demo_run.resolve()) in text
    if path.stem.startswith("03"):
        assert "6 proxies over sources ['web', 'code', 'license']" in text
        assert "No ablation output found" not in text


@pytest.mark.slow
def test_ablation_notebook_with_explicit_dir_and_without_any(demo_run, tmp_path, monkeypatch):
    path = ROOT / "notebooks" / "03_ablation_results.ipynb"
    # CURATE_ABLATION wins over discovery inside the run.
    moved = tmp_path / "abl"
    shutil.copytree(demo_run / "ablate", moved)
    report = json.loads((moved / "regression.json").read_text())
    nb = _execute(path, {"CURATE_RUN": str(demo_run), "CURATE_ABLATION": str(moved)}, monkeypatch)
    assert f"ablation: {moved.resolve()}" in _text(nb)
    rho = report["held_out_spearman"]
    if rho == rho:  # NaN when the held-out proxies cannot be ranked
        assert f"held-out Spearman: {rho:.3f}" in _text(nb)
    # A run without an ablation: the notebook says so and still completes.
    bare = tmp_path / "bare"
    shutil.copytree(demo_run, bare, ignore=shutil.ignore_patterns("ablate"))
    monkeypatch.delenv("CURATE_ABLATION")
    nb = _execute(path, {"CURATE_RUN": str(bare)}, monkeypatch)
    text = _text(nb)
    assert "No ablation output found" in text and "no ablation: nothing to propose" in text
