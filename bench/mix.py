"""Mixture assembly on a larger generated run: budget error per source and byte-identical reruns.

Builds a multi-source input from real text (WikiText-2 paragraphs as "web", GSM8K train solutions
as "reasoning", this repository's Python files as "code", arXiv papers as "acquired"), then runs
``python -m spark_jobs.mix`` twice with the same seed (and once with another seed) and reports,
per source, planned vs achieved tokens, the achieved share against the planned share, and whether
the two same-seed runs wrote byte-identical shards.

    python bench/mix.py [--total-tokens 2000000] [--json OUT]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import bench_env, emit, venv_python  # noqa: E402

WORK = REPO / "bench" / "_work" / "mix"


def build_input(data: Path) -> Path:
    rows = []
    for split in ("train", "valid", "test"):
        p = data / "corpora/wikitext2" / f"{split}.txt"
        if p.is_file():
            rows += [{"id": f"wiki-{split}-{i}", "text": t.strip(), "kind": "web"}
                     for i, t in enumerate(p.read_text(encoding="utf-8").split("\n")) if len(t.split()) > 40]
    for i, line in enumerate((data / "benchmarks/gsm8k/train.jsonl").open(encoding="utf-8")):
        r = json.loads(line)
        rows.append({"id": f"gsm-{i}", "text": r["question"] + "\n" + r["answer"], "kind": "reasoning"})
    for f in sorted((REPO / "curation").rglob("*.py")) + sorted((REPO / "spark_jobs").glob("*.py")):
        rows.append({"id": f"code-{f.name}", "text": f.read_text(encoding="utf-8"), "kind": "code"})
    for i, line in enumerate((data / "corpora/arxiv/arxiv.jsonl").open(encoding="utf-8")):
        rows.append({"id": f"arxiv-{i}", "text": json.loads(line)["text"], "kind": "acquired"})
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run_mix(config: Path, out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([venv_python(), "-m", "spark_jobs.mix", "--config", str(config), "--output", str(out),
                    "--master", "local[2]"], cwd=REPO, env=bench_env(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def shard_hashes(out: Path) -> list[str]:
    files = sorted(out.glob("*.parquet")) + sorted((out / "_tokens").glob("*"))
    return sorted(hashlib.sha256(f.read_bytes()).hexdigest() for f in files)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str((REPO / ".." / "shared" / "data").resolve()))
    ap.add_argument("--total-tokens", type=int, default=2_000_000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    data = Path(args.data)
    docs = build_input(data)
    shares = {"web": 0.45, "reasoning": 0.2, "code": 0.25, "acquired": 0.1}
    result = {"input_docs": sum(1 for _ in docs.open()), "total_tokens": args.total_tokens, "runs": {}}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        cfg = WORK / f"mix_{name}.yaml"
        cfg.write_text(json.dumps({
            "input": str(docs), "tokenizer": str(data / "tokenizers/gpt-neo-test-tokenizer.json"),
            "total_tokens": args.total_tokens, "seed": seed, "binary": True,
            "sources": [{"name": k, "share": v, "where": f"kind = '{k}'", "max_epochs": 5} for k, v in shares.items()]}))
        out = WORK / f"out_{name}"
        secs = run_mix(cfg, out)
        manifest = json.loads((out / "mixture_manifest.json").read_text())
        total = manifest["achieved_total_tokens"]
        result["runs"][name] = {
            "seed": seed, "seconds": round(secs, 1), "achieved_total_tokens": total,
            "sources": {k: {"planned": s["planned_tokens"], "achieved": s["achieved_tokens"],
                            "error_pct": s["error_pct"], "epochs": s["epochs"], "unique_tokens": s["unique_tokens"],
                            "share_planned": round(s["share"], 4), "share_achieved": round(s["achieved_tokens"] / total, 4)}
                        for k, s in manifest["sources"].items()},
            "hashes": shard_hashes(out)}
    a, b, c = (result["runs"][k].pop("hashes") for k in "abc")
    result["same_seed_byte_identical"] = a == b
    result["other_seed_differs"] = a != c
    result["max_abs_error_pct"] = max(abs(s["error_pct"]) for r in result["runs"].values() for s in r["sources"].values())
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
