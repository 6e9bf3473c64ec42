"""`curate ablate` end to end on real text: known answer, resume, outputs DuckDB can read, bad configs."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml

from curate import cli
from curation.ablations.runner import load_config

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _config(shared_data: Path, tmp_path: Path, **extra) -> Path:
    cfg = {
        "sources": [
            {"name": "wiki", "input": str(shared_data / "corpora/wikitext2/valid.txt"), "max_tokens": 40_000},
            {"name": "books", "input": str(shared_data / "corpora/shakespeare/milton"), "max_tokens": 40_000},
            {"name": "code", "input": str(STDLIB / "json"), "kind": "code", "max_tokens": 40_000},
        ],
        "vocab_size": 512, "proxies": 9, "held_out": 3, "workers": 2,
        "target": {"sources": ["code"]},
        "model": {"n_layer": 1, "d_model": 48, "n_head": 2, "seq_len": 32},
        "train": {"steps": 40, "batch_size": 8, "lr": 0.01, "checkpoint_every": 20, "eval_batches": 4},
    }
    cfg.update(extra)
    path = tmp_path / "abl.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_ablation_finds_the_target_domain_and_resumes(shared_data, tmp_path):
    out = tmp_path / "out"
    assert cli.main(["ablate", "--config", str(_config(shared_data, tmp_path)), "--output", str(out)]) == 0
    runs = duckdb.sql(f"SELECT * FROM '{out}/runs.parquet' ORDER BY proxy").df()
    assert len(runs) == 9 and (runs.split == "held_out").sum() == 3
    w = runs[["w_wiki", "w_books", "w_code"]].to_numpy()
    assert np.allclose(w.sum(axis=1), 1) and len({tuple(r) for r in w.round(6)}) == 9
    # The target is code's validation loss: more code in the mixture, lower loss.
    assert np.corrcoef(runs.w_code, runs.metric)[0, 1] < -0.8
    report = json.loads((out / "regression.json").read_text())
    assert report["held_out_spearman"] >= 0.8
    best = yaml.safe_load((out / "best_mixture.yaml").read_text())
    shares = {s["name"]: s["share"] for s in best["sources"]}
    assert max(shares, key=shares.get) == "code" and sum(shares.values()) == pytest.approx(1, abs=1e-9)
    assert report["best_predicted_metric"] <= runs.metric.min() + 0.05
    # Killed mid-ablation: one proxy lost its result (its checkpoint survives), another never started.
    (out / "proxies/004/result.json").unlink()
    for f in (out / "proxies/007").iterdir():
        f.unlink()
    (out / "runs.parquet").unlink()
    assert cli.main(["ablate", "--config", str(_config(shared_data, tmp_path)), "--output", str(out)]) == 0
    again = duckdb.sql(f"SELECT * FROM '{out}/runs.parquet' ORDER BY proxy").df()
    assert np.allclose(again.metric, runs.metric, atol=1e-6)  # same plan, same proxies, same losses
    lines = (out / "proxies/007/metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines].count(40) == 1  # retrained once, no duplicated log lines
    # A different plan in the same directory is refused rather than mixed in.
    changed = _config(shared_data, tmp_path, seed=5)
    assert cli.main(["ablate", "--config", str(changed), "--output", str(out)]) == 2


@pytest.mark.slow
def test_target_text_is_an_evaluation_set_never_trained_on(shared_data, tmp_path):
    # The target is the loss on held-out Python (JSONL, code in a "code" field) that no source
    # contains: the proxies closest to it are those with the most code in their mixture.
    target = tmp_path / "eval.jsonl"
    with target.open("w") as f:
        for name in ("textwrap.py", "difflib.py", "shlex.py"):
            f.write(json.dumps({"code": (STDLIB / name).read_text()}) + "\n")
    out = tmp_path / "out"
    cfg = _config(shared_data, tmp_path, target={"text": str(target), "field": "code"})
    assert cli.main(["ablate", "--config", str(cfg), "--output", str(out)]) == 0
    runs = duckdb.sql(f"SELECT * FROM '{out}/runs.parquet' ORDER BY proxy").df()
    assert len(runs) == 9 and not any(c.startswith("w__") for c in runs.columns)  # never a training source
    assert np.corrcoef(runs.w_code, runs.metric)[0, 1] < -0.8
    assert (out / "data/_target.npy").is_file()
    best = yaml.safe_load((out / "best_mixture.yaml").read_text())
    shares = {s["name"]: s["share"] for s in best["sources"]}
    assert set(shares) == {"wiki", "books", "code"} and max(shares, key=shares.get) == "code"


@pytest.mark.slow  # ~2 s: loads a dozen ablation configs over ../shared/data
def test_bad_ablation_configs_are_clear_errors(shared_data, tmp_path, capsys):
    from curation.config import ConfigError

    def err(**extra):
        if "sources" in extra:
            extra.setdefault("target", {})
        with pytest.raises((ConfigError, ValueError)) as e:
            load_config(str(_config(shared_data, tmp_path, **extra)))
        return str(e.value)

    wiki = str(shared_data / "corpora/wikitext2/valid.txt")
    assert "sum to 1" in err(sources=[{"name": "a", "input": wiki, "prior": 0.5}, {"name": "b", "input": wiki, "prior": 0.6}])
    assert "at least two sources" in err(sources=[{"name": "a", "input": wiki}])
    assert "input not found" in err(sources=[{"name": "a", "input": wiki}, {"name": "b", "input": str(tmp_path / "nope")}])
    assert "unknown sources ['math']" in err(target={"sources": ["math"]})
    assert "held_out" in err(proxies=4, held_out=2)
    assert "mixture_manifest.json not found" in err(mixture=str(tmp_path))
    # Too few tokens for one training and one validation window: an error before any proxy trains.
    tiny = _config(shared_data, tmp_path, sources=[{"name": "a", "input": wiki, "max_tokens": 40},
                                                   {"name": "b", "input": wiki, "max_tokens": 5000}], target={})
    assert cli.main(["ablate", "--config", str(tiny), "--output", str(tmp_path / "o")]) == 2
    assert "source 'a' has 40 tokens: too few" in capsys.readouterr().err
    assert not (tmp_path / "o/proxies").exists()
    # A budget too small for one proxy: one line, before any source is read.
    budgeted = _config(shared_data, tmp_path, flops_per_core=1e9)
    assert cli.main(["ablate", "--config", str(budgeted), "--output", str(tmp_path / "b"), "--budget", "1e-9"]) == 2
    assert "too small for one proxy" in capsys.readouterr().err
    assert not (tmp_path / "b/data").exists()
