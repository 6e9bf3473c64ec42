"""Token counting throughput: curate's counter against raw ``tokenizers`` batch encoding.

Same texts (WikiText-2 + the DCLM dev documents), same tokenizer file, one thread each
(``RAYON_NUM_THREADS=1`` is set before ``tokenizers`` is imported), alternated rounds, medians.
``raw`` is ``Tokenizer.encode_batch(texts)`` (the practical ceiling); ``curate`` is
``curation.mixture.tokens.Tokenizer.count`` fed Arrow batches of 1,000 rows, as a Spark task would be.

    python bench/tokens.py [--tokenizer FILE] [--rounds 5] [--json OUT]
"""

from __future__ import annotations

import os

os.environ["RAYON_NUM_THREADS"] = "1"  # one core each: must precede the tokenizers import
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import emit  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str((REPO / ".." / "shared" / "data").resolve()))
    ap.add_argument("--tokenizer", default=None, help="default: DATA/tokenizers/gpt-neo-test-tokenizer.json")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import pyarrow as pa
    from tokenizers import Tokenizer as HFTokenizer

    from curation.mixture.tokens import load_tokenizer

    data = Path(args.data)
    path = Path(args.tokenizer) if args.tokenizer else data / "tokenizers" / "gpt-neo-test-tokenizer.json"
    wiki = [p for p in (data / "corpora/wikitext2/valid.txt").read_text(encoding="utf-8").split("\n") if p.strip()]
    dev = [json.loads(line)["text"] for line in (data / "labels/dclm-human-quality-dev.jsonl").open(encoding="utf-8")]
    texts = wiki + dev * 5
    raw = HFTokenizer.from_file(str(path))
    ours = load_tokenizer(path)
    batches = [pa.record_batch([pa.array(texts[i:i + 1000], pa.large_string())], names=["text"])
               for i in range(0, len(texts), 1000)]

    def run_raw():
        return sum(len(e.ids) for e in raw.encode_batch(texts, add_special_tokens=False))

    def run_ours():
        return int(sum(ours.count(b.column("text").to_pylist()).sum() for b in batches))

    n_tokens = run_raw()
    assert run_ours() == n_tokens, "the counter must agree with the tokenizer"
    raw_s, our_s = [], []
    for _ in range(args.rounds):
        for fn, acc in ((run_raw, raw_s), (run_ours, our_s)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    r, o = n_tokens / statistics.median(raw_s), n_tokens / statistics.median(our_s)
    result = {"tokenizer": str(path), "texts": len(texts), "tokens": n_tokens, "rounds": args.rounds,
              "raw_encode_batch_tokens_per_s": round(r), "curate_count_tokens_per_s": round(o),
              "ratio_curate_vs_raw": round(o / r, 3)}
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
