"""The layering the README describes is the one the import contracts enforce, and both checks pass.

README's "### Layers" section is prose for a newcomer; pyproject.toml ``[tool.importlinter]`` is what
``lint-imports`` enforces. A README paragraph that nothing checks drifts, so this test parses both and
fails when they disagree (layers, contract ids and names, every ``ignore_imports`` exception), and runs
``lint-imports`` and ``ruff check`` so a violation fails the suite even outside ``make test``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _importlinter() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]


def _readme_layers() -> str:
    """The README text from "### Layers" to the next heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^### Layers\n(.*?)(?=^#{1,3} |\Z)", text, re.M | re.S)
    assert found, 'README.md has no "### Layers" section'
    return found.group(1)


def _contract(contract_id: str) -> dict:
    return next(c for c in _importlinter()["contracts"] if c["id"] == contract_id)


def test_readme_layers_are_the_layers_contract():
    # "1. `dashboards` | `spark_jobs`: ..." -> [["dashboards", "spark_jobs"], ...]
    readme = [re.findall(r"`([\w.]+)`", line.split(":", 1)[0])
              for line in re.findall(r"^\d+\. (.*)$", _readme_layers(), re.M)]
    contract = [[m.strip() for m in layer.split("|")] for layer in _contract("layers")["layers"]]
    assert readme == contract
    assert sorted(m for layer in contract for m in layer) == sorted(_importlinter()["root_packages"])


def test_readme_lists_every_contract_by_id_and_name():
    readme = dict(re.findall(r"^- `([\w-]+)`: (.+)$", _readme_layers(), re.M))
    assert readme == {c["id"]: c["name"] for c in _importlinter()["contracts"]}


def test_readme_names_every_exception():
    readme = set(re.findall(r"`([\w.*]+ -> [\w.*]+)`", _readme_layers()))
    contracts = {line for c in _importlinter()["contracts"] for line in c.get("ignore_imports", [])}
    assert readme == contracts


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    exe = BIN / "lint-imports"
    if not exe.exists():
        pytest.fail(f"{exe} missing: install requirements.lock (import-linter)")
    done = _run([str(exe)])
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_ruff_passes():
    done = _run([sys.executable, "-m", "ruff", "check", "."])
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
