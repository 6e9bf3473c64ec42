"""Proxy-LM trainer throughput: ``curation.ablations.trainer.train`` against a bare training loop.

Both train the same model (default: vocab 4,096 BPE, 2 layers, d_model 128, seq_len 128,
batch 16) on the same two-source WikiText-2 mixture (valid.txt and test.txt, 50/50) with the
same sampler. ``reference`` is ``reference_train_loop`` (model + AdamW, nothing else); ``train``
adds the LR schedule, gradient clipping, a metrics line per step, and at the end an evaluation,
a checkpoint and result.json. Rounds alternate which goes first; figures are medians.

* steady-state tokens/s: over steps ``warmup+1 .. warmup+steps`` (timed from per-step callbacks;
  each run does one extra step so the final evaluation/checkpoint falls outside the window);
* end-to-end tokens/s: all tokens over the whole call, setup and final evaluation included;
* tokens per CPU-second over the same window (``time.process_time``): on a shared machine the
  wall-clock figures swing with other load, CPU time much less;
* MFU (CUDA, or when ``CURATE_PEAK_FLOPS`` is set): ``flops_per_token * tokens/s / peak``.

    python bench/trainer.py [--steps 60] [--warmup 5] [--rounds 3] [--vocab 4096] [--json OUT]
"""

from __future__ import annotations

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import WORK_DIR, emit  # noqa: E402

#: dense bf16 peak FLOP/s by GPU name fragment (first match wins; PCIe before the SXM default)
PEAK_BF16 = (("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("A100", 312e12))


def peak_flops(device) -> float | None:
    if os.environ.get("CURATE_PEAK_FLOPS"):
        return float(os.environ["CURATE_PEAK_FLOPS"])
    if device.type != "cuda":
        return None
    import torch

    name = torch.cuda.get_device_name(device)
    return next((peak for frag, peak in PEAK_BF16 if frag in name), None)


def wiki_docs(path: Path) -> list[str]:
    """WikiText-2 paragraphs (one per non-blank line) as documents."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str((REPO / ".." / "shared" / "data" / "corpora" / "wikitext2").resolve()))
    ap.add_argument("--steps", type=int, default=60, help="timed steps per run")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before the window")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import torch

    from curation.ablations.proxy_model import ProxyConfig
    from curation.ablations.token_streams import split_tokens, tokenize_texts, train_bpe_tokenizer
    from curation.ablations.trainer import TrainConfig, reference_train_loop, resolve_device, train

    data = Path(args.data)
    files = [p for p in (data / "train.txt", data / "valid.txt", data / "test.txt") if p.exists()]
    if len(files) < 2:
        raise SystemExit(f"need two of train/valid/test.txt under {data}")
    files = files[-2:]  # the two smallest that exist: valid + test here (train.txt is 10 MB)
    docs = {p.stem: wiki_docs(p) for p in files}

    key = hashlib.sha256(repr([(p.name, p.stat().st_size) for p in files] + [args.vocab]).encode()).hexdigest()[:10]
    tok_path = WORK_DIR / "trainer" / f"bpe-{args.vocab}-{key}.json"
    tok_s = None  # None: reused from bench/_work
    if not tok_path.exists():
        t0 = time.perf_counter()
        train_bpe_tokenizer(docs[files[0].stem], args.vocab, tok_path)
        tok_s = round(time.perf_counter() - t0, 2)

    model_cfg = ProxyConfig(vocab_size=args.vocab, n_layer=2, d_model=128, n_head=4, seq_len=128)
    sources = [split_tokens(f"wikitext2-{name}", tokenize_texts(tok_path, d), seq_len=model_cfg.seq_len)
               for name, d in docs.items()]
    weights = [0.5, 0.5]
    device = resolve_device("auto")
    steps = args.warmup + args.steps + 1  # the last step (evaluation, checkpoint) is outside the window
    tokens_per_step = args.batch_size * model_cfg.seq_len
    window = (args.warmup, args.warmup + args.steps)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def stamper(stamps: dict):
        def on_step(step: int) -> None:
            if step in window:
                sync()
                stamps[step] = (time.perf_counter(), time.process_time())
        return on_step

    def rates(stamps: dict) -> tuple[float, float]:
        (w0, c0), (w1, c1) = stamps[window[0]], stamps[window[1]]
        return args.steps * tokens_per_step / (w1 - w0), args.steps * tokens_per_step / (c1 - c0)

    def run_reference() -> tuple[float, float, float, float]:
        stamps: dict[int, float] = {}
        t = time.perf_counter()
        res = reference_train_loop(model_cfg, steps, args.batch_size, 3e-3, sources, weights, seed=0,
                                   on_step=stamper(stamps))
        sync()
        wall = time.perf_counter() - t
        return rates(stamps)[0], steps * tokens_per_step / wall, res["final_loss"], rates(stamps)[1]

    def run_ours() -> tuple[float, float, float, float]:
        stamps: dict[int, float] = {}
        on_step = stamper(stamps)
        cfg = TrainConfig(steps=steps, batch_size=args.batch_size, lr=3e-3, eval_every=0, checkpoint_every=0)
        with tempfile.TemporaryDirectory(dir=WORK_DIR) as out:
            t = time.perf_counter()
            res = train(model_cfg, cfg, sources, weights, out, resume=False, log=lambda rec: on_step(rec["step"]))
            wall = time.perf_counter() - t
        return rates(stamps)[0], steps * tokens_per_step / wall, res["val_loss_mean"], rates(stamps)[1]

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    ref, ours = [], []
    for r in range(args.rounds):
        order = ((run_reference, ref), (run_ours, ours)) if r % 2 == 0 else ((run_ours, ours), (run_reference, ref))
        for fn, acc in order:
            acc.append(fn())
            print(f"[trainer] round {r + 1}: {fn.__name__}: {acc[-1][0]:,.0f} tokens/s steady", file=sys.stderr)

    def med(runs, i):
        return statistics.median(x[i] for x in runs)

    ref_tps, our_tps = med(ref, 0), med(ours, 0)
    fpt = model_cfg.flops_per_token()
    peak = peak_flops(device)
    result = {
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "torch_threads": torch.get_num_threads(),
        "model": {"vocab_size": model_cfg.vocab_size, "n_layer": model_cfg.n_layer, "d_model": model_cfg.d_model,
                  "n_head": model_cfg.n_head, "seq_len": model_cfg.seq_len},
        "n_params": model_cfg.n_params(),
        "flops_per_token": fpt,
        "batch_size": args.batch_size,
        "sources": {s.name: {"train_tokens": int(len(s.train)), "val_tokens": int(len(s.val))} for s in sources},
        "tokenizer": str(tok_path),
        "tokenizer_train_s": tok_s,
        "timed_steps": args.steps, "warmup_steps": args.warmup, "rounds": args.rounds,
        "reference_tokens_per_s": round(ref_tps),
        "train_tokens_per_s": round(our_tps),
        "ratio_train_vs_reference": round(our_tps / ref_tps, 3),
        "reference_end_to_end_tokens_per_s": round(med(ref, 1)),
        "train_end_to_end_tokens_per_s": round(med(ours, 1)),
        "ratio_end_to_end": round(med(ours, 1) / med(ref, 1), 3),
        # tokens per CPU-second of this process: less sensitive to other load on a shared machine
        "reference_tokens_per_cpu_s": round(med(ref, 3)),
        "train_tokens_per_cpu_s": round(med(ours, 3)),
        "ratio_cpu_time": round(med(ours, 3) / med(ref, 3), 3),
        "train_gflops_per_s": round(our_tps * fpt / 1e9, 2),
        "mfu": round(our_tps * fpt / peak, 4) if peak else None,
        "peak_flops": peak,
        "reference_final_train_loss": round(med(ref, 2), 4),
        "train_final_val_loss_mean": round(med(ours, 2), 4),
        "all_runs_steady_tokens_per_s": {"reference": [round(x[0]) for x in ref], "train": [round(x[0]) for x in ours]},
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
