"""The proxy-LM trainer for mixture ablations: tokenizer, sampler, resumable training."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from curation.ablations.proxy_model import ProxyConfig, ProxyLM
from curation.ablations.token_streams import (
    MixtureSampler,
    SourceTokens,
    read_token_shards,
    split_tokens,
    tokenize_texts,
    train_bpe_tokenizer,
)
from curation.ablations.trainer import CheckpointError, RunMismatchError, TrainConfig, train

SEQ = 32
WORDS = ("the cat sat on a mat and the dog ran to the park while birds sang in tall green trees "
         "every morning people walk to work drink coffee read news talk with friends").split()


def english(rng: np.random.Generator, n_docs: int) -> list[str]:
    return [" ".join(rng.choice(WORDS, size=rng.integers(20, 60))).capitalize() + "." for _ in range(n_docs)]


def noise(rng: np.random.Generator, n_docs: int) -> list[str]:
    """Nothing like ``english``: random hex and Cyrillic, so its tokens are rare in English text."""
    alphabet = list("0123456789abcdef#@$%") + [chr(c) for c in range(0x430, 0x450)]
    return ["".join(rng.choice(alphabet, size=rng.integers(100, 300))) for _ in range(n_docs)]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict:
    rng = np.random.default_rng(0)
    texts = {"en": english(rng, 300), "noise": noise(rng, 150)}
    path = train_bpe_tokenizer(texts["en"] + texts["noise"], 384, tmp_path_factory.mktemp("tok"))
    ids = {k: tokenize_texts(path, v) for k, v in texts.items()}
    return {"path": path, "texts": texts, "ids": ids}


def tiny(vocab: int = 384) -> ProxyConfig:
    return ProxyConfig(vocab_size=vocab, n_layer=1, d_model=32, n_head=2, seq_len=SEQ)


def periodic_source(name: str = "p", period: int = 37, n: int = 8000) -> SourceTokens:
    return split_tokens(name, (np.arange(n) % period).astype(np.uint16) + 3, seq_len=SEQ)


def cfg(**kw) -> TrainConfig:
    base = dict(steps=30, batch_size=8, lr=3e-3, eval_every=10, eval_batches=2, checkpoint_every=10, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------------------ model


def test_param_count_and_flops_match_the_module():
    c = ProxyConfig(vocab_size=500, n_layer=2, d_model=64, n_head=4, seq_len=SEQ)
    model = ProxyLM(c)
    assert c.n_params() == sum(p.numel() for p in model.parameters())  # tied head counted once
    n_no_pos = c.n_params() - SEQ * 64
    assert c.flops_per_token() == 6 * n_no_pos + 12 * 2 * 64 * SEQ
    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 500, (2, 3, SEQ), generator=g)
    logits, loss = model(x, y)
    assert logits.shape == (3, SEQ, 500)
    assert abs(loss.item() - math.log(500)) < 0.3  # std-0.02 init: close to uniform predictions


def test_attention_is_causal():
    model = ProxyLM(tiny()).eval()
    x = torch.randint(0, 384, (1, SEQ))
    y = x.clone()
    y[0, -1] = (x[0, -1] + 1) % 384
    with torch.no_grad():
        a, _ = model(x)
        b, _ = model(y)
    assert torch.equal(a[0, :-1], b[0, :-1])  # changing the last token changes no earlier position
    assert not torch.equal(a[0, -1], b[0, -1])


# ------------------------------------------------------------------------------ tokens


def test_bpe_round_trips_text_and_appends_eos(corpora):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(corpora["path"]))
    assert corpora["path"].name == "tokenizer.json"
    assert 256 < tok.get_vocab_size() <= 384
    for text in ["The cat sat on the mat.", "  naïve café — 東京 ∑ 🙂\n\ttabs", corpora["texts"]["noise"][0]]:
        assert tok.decode(tok.encode(text, add_special_tokens=False).ids) == text
    # merges were learned: common English compresses well below one token per byte
    sample = corpora["texts"]["en"][0]
    assert len(tok.encode(sample).ids) < 0.5 * len(sample.encode())
    ids = tokenize_texts(corpora["path"], ["a cat", "the dog"])
    eos = tok.token_to_id("<|endoftext|>")
    assert ids.dtype == np.uint16
    n_a = len(tok.encode("a cat", add_special_tokens=False).ids)
    assert np.flatnonzero(ids == eos).tolist() == [n_a, len(ids) - 1]
    assert tok.decode([i for i in ids.tolist() if i != eos]) == "a catthe dog"


def test_split_holds_out_the_tail_and_rejects_short_sources():
    ids = np.arange(1000, dtype=np.uint16)
    s = split_tokens("x", ids, val_fraction=0.1, seq_len=SEQ)
    assert np.array_equal(np.concatenate([s.train, s.val]), ids)
    assert len(s.val) == 100 and s.val[0] == 900
    assert len(split_tokens("x", ids, val_fraction=0.01, seq_len=SEQ).val) == SEQ + 1  # floor: one window
    with pytest.raises(ValueError, match="'short' has 60 tokens"):
        split_tokens("short", np.arange(60), seq_len=SEQ)
    split_tokens("just-enough", np.arange(2 * (SEQ + 1)), seq_len=SEQ)


def test_read_token_shards_reads_mix_output(tmp_path):
    from curation.mixture.token_shards import ShardWriter

    def write(dirname: str, name: str, docs: list[list[int]], dtype) -> None:
        d = tmp_path / dirname / "_tokens"
        d.mkdir(parents=True, exist_ok=True)
        with open(d / f"{name}.bin", "wb") as sink:  # as spark_jobs/mix.py writes Megatron shards
            w = ShardWriter(sink, np.dtype(dtype))
            for doc in docs:
                w.add(doc)
        (d / f"{name}.idx").write_bytes(w.megatron_index())

    write("small", "tokens-00001", [[7, 8, 0]], np.uint16)
    write("small", "tokens-00000", [[1, 2, 3, 0], [4, 5, 0]], np.uint16)
    got = read_token_shards(tmp_path / "small")
    assert got.dtype == np.uint16 and got.tolist() == [1, 2, 3, 0, 4, 5, 0, 7, 8, 0]  # shard order
    assert read_token_shards(tmp_path / "small" / "_tokens").tolist() == got.tolist()

    write("big", "tokens-00000", [[70_000, 1, 0], [99_999, 0]], np.int32)
    big = read_token_shards(tmp_path / "big")
    assert big.dtype == np.int32 and big.tolist() == [70_000, 1, 0, 99_999, 0]

    (tmp_path / "big" / "_tokens" / "tokens-00000.bin").write_bytes(b"\0" * 7)
    with pytest.raises(ValueError, match="7 bytes"):
        read_token_shards(tmp_path / "big")
    with pytest.raises(FileNotFoundError):
        read_token_shards(tmp_path / "nothing")

    # nanoGPT's flat train.bin: its dtype is in the mix manifest beside _tokens/
    flat = tmp_path / "flat"
    (flat / "_tokens").mkdir(parents=True)
    (flat / "_tokens" / "train.bin").write_bytes(np.asarray([9, 70_000, 0], np.uint32).tobytes())
    with pytest.raises(FileNotFoundError, match="mixture_manifest.json"):
        read_token_shards(flat)
    (flat / "mixture_manifest.json").write_text('{"token_shards": {"format": "nanogpt", "dtype": "uint32"}}')
    assert read_token_shards(flat / "_tokens").tolist() == [9, 70_000, 0]


# ------------------------------------------------------------------------------ sampler


def test_sampler_is_seeded_by_step_and_follows_weights():
    a = SourceTokens("a", np.arange(0, 500, dtype=np.uint16), np.arange(0, 100, dtype=np.uint16))
    b = SourceTokens("b", np.arange(1000, 1500, dtype=np.uint16), np.arange(1000, 1100, dtype=np.uint16))
    s1 = MixtureSampler([a, b], [0.25, 0.75], seed=5)
    x, y = s1.batch(64, SEQ, step=7)
    assert x.dtype == torch.int64 and x.shape == (64, SEQ)
    assert torch.equal(x[:, 1:], y[:, :-1])  # targets are inputs shifted by one
    assert torch.all((x[:, 1:] - x[:, :-1]) == 1)  # each row is one contiguous window
    x2, _ = MixtureSampler([a, b], [0.25, 0.75], seed=5).batch(64, SEQ, step=7)
    assert torch.equal(x, x2)  # a fresh sampler (a resumed run) draws the same batch
    assert not torch.equal(x, s1.batch(64, SEQ, step=8)[0])
    from_b = (x[:, 0] >= 1000).float().mean().item()
    assert 0.55 < from_b < 0.95
    only_a, _ = MixtureSampler([a, b], [1.0, 0.0], seed=5).batch(64, SEQ, step=0)
    assert only_a.max().item() < 500


def test_val_batches_are_fixed_and_non_overlapping():
    src = SourceTokens("v", np.zeros(10, np.uint16), np.arange(20 * SEQ + 1, dtype=np.uint16))
    batches = MixtureSampler.val_batches(src, n=3, batch_size=4, seq_len=SEQ)
    assert [b[0].shape[0] for b in batches] == [4, 4, 4]
    targets = torch.cat([y for _, y in batches]).flatten().tolist()
    assert len(targets) == len(set(targets))  # no token is predicted twice
    again = MixtureSampler.val_batches(src, n=3, batch_size=4, seq_len=SEQ)
    assert all(torch.equal(p[0], q[0]) for p, q in zip(batches, again))
    assert max(targets) > 15 * SEQ  # spread over the whole tail, not just its start


@pytest.mark.parametrize("make", [
    lambda: ProxyConfig(vocab_size=384, n_head=0),  # used to be a ZeroDivisionError (d_model % n_head)
    lambda: ProxyConfig(vocab_size=384, d_model=0),
    lambda: cfg(steps=0), lambda: cfg(batch_size=0), lambda: cfg(lr=float("nan")), lambda: cfg(lr=float("inf")),
    lambda: cfg(weight_decay=-0.1), lambda: cfg(grad_clip=float("nan")),
    lambda: split_tokens("x", np.arange(1000), seq_len=0),
    lambda: MixtureSampler.val_batches(SourceTokens("v", np.zeros(9), np.arange(99)), n=1, batch_size=1, seq_len=0),
    lambda: MixtureSampler([periodic_source()], [1.0]).batch(0, SEQ),
])
def test_sizes_and_rates_out_of_range_are_value_errors(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("weights", [[0.5, 0.4], [1.2, -0.2], [float("nan"), 1.0], [1.0]])
def test_weights_must_be_a_distribution(weights, tmp_path):
    sources = [periodic_source("a"), periodic_source("b")]
    with pytest.raises(ValueError, match="weights"):
        MixtureSampler(sources, weights)
    with pytest.raises(ValueError, match="weights"):
        train(tiny(), cfg(), sources, weights, tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists()


# ------------------------------------------------------------------------------ training


@pytest.mark.slow  # ~2-9 s: trains a proxy model (pays torch's first-use cost)
def test_loss_decreases_on_a_learnable_stream(tmp_path):
    res = train(tiny(), cfg(steps=40, lr=1e-2), [periodic_source()], [1.0], tmp_path)
    log = metrics(tmp_path)
    assert [r["step"] for r in log] == list(range(1, 41))
    assert log[0]["loss"] > 5.0  # ~ln(384) at init
    assert log[-1]["loss"] < log[0]["loss"] - 2.5
    assert res["val_loss"]["p"] < 3.0
    assert res["steps"] == 40 and res["tokens"] == 40 * 8 * SEQ and res["n_params"] == tiny().n_params()
    assert res["device"] == "cpu" and res["tokens_per_s"] > 0
    lrs = [r["lr"] for r in log]
    assert lrs[0] < lrs[1] and max(lrs) == pytest.approx(1e-2) and lrs[-1] == pytest.approx(1e-3, rel=0.05)


def test_too_short_validation_stream_is_rejected(tmp_path):
    short = SourceTokens("tiny-val", np.arange(500, dtype=np.uint16) % 300, np.arange(10, dtype=np.uint16))
    with pytest.raises(ValueError, match="'tiny-val' has 10 val tokens"):
        train(tiny(), cfg(), [short], [1.0], tmp_path)


@pytest.mark.slow  # ~9 s: trains the proxy model three times
def test_resume_after_stop_equals_uninterrupted_run(tmp_path):
    sources = [periodic_source("a"), periodic_source("b", period=11)]
    straight = train(tiny(), cfg(), sources, [0.3, 0.7], tmp_path / "straight")

    stopped = train(tiny(), cfg(), sources, [0.3, 0.7], tmp_path / "resumed", stop_at_step=13)
    assert stopped == {"status": "stopped", "step": 13}
    assert not (tmp_path / "resumed" / "result.json").exists()
    resumed = train(tiny(), cfg(), sources, [0.3, 0.7], tmp_path / "resumed")

    for name in ("a", "b"):
        assert abs(resumed["val_loss"][name] - straight["val_loss"][name]) <= 1e-6
    log_s, log_r = metrics(tmp_path / "straight"), metrics(tmp_path / "resumed")
    assert [r["step"] for r in log_r] == list(range(1, 31))  # no duplicated or missing steps
    assert all(abs(p["loss"] - q["loss"]) <= 1e-6 for p, q in zip(log_s, log_r))
    ck_s = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    ck_r = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert all(torch.allclose(ck_s["model"][k], ck_r["model"][k], atol=1e-6, rtol=0) for k in ck_s["model"])


@pytest.mark.slow  # ~3 s: trains a proxy model (the first in the process pays torch's warm-up)
def test_finished_run_is_returned_without_retraining(tmp_path):
    first = train(tiny(), cfg(steps=12), [periodic_source()], [1.0], tmp_path)
    before = (tmp_path / "metrics.jsonl").read_text()
    again = train(tiny(), cfg(steps=12, threads=1), [periodic_source()], [1.0], tmp_path)  # threads: operational
    assert again == json.loads(json.dumps(first))
    assert (tmp_path / "metrics.jsonl").read_text() == before


@pytest.mark.slow  # ~1 s: trains a proxy model (or pays torch's warm-up)
def test_corrupt_checkpoint_falls_back_to_previous(tmp_path, caplog):
    sources = [periodic_source()]
    straight = train(tiny(), cfg(), sources, [1.0], tmp_path / "straight")
    out = tmp_path / "run"
    train(tiny(), cfg(), sources, [1.0], out, stop_at_step=13)  # checkpoints at 10 (-> prev) and 13
    data = (out / "checkpoint.pt").read_bytes()
    (out / "checkpoint.pt").write_bytes(data[: len(data) // 2])  # truncated by a crash
    with caplog.at_level(logging.WARNING, logger="curation.ablations.trainer"):
        resumed = train(tiny(), cfg(), sources, [1.0], out)
    assert "checkpoint.prev.pt" in caplog.text and "step 10" in caplog.text
    assert [r["step"] for r in metrics(out)] == list(range(1, 31))  # steps 11-13 redone, not repeated
    assert abs(resumed["val_loss"]["p"] - straight["val_loss"]["p"]) <= 1e-6


@pytest.mark.slow  # ~1 s: trains a proxy model (or pays torch's warm-up)
def test_both_checkpoints_corrupt_is_an_error_not_a_restart(tmp_path):
    train(tiny(), cfg(), [periodic_source()], [1.0], tmp_path, stop_at_step=13)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "checkpoint.prev.pt").write_bytes(b"PK\x03\x04 torn")
    log_before = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(CheckpointError, match="checkpoint.pt.*checkpoint.prev.pt"):
        train(tiny(), cfg(), [periodic_source()], [1.0], tmp_path)
    assert (tmp_path / "metrics.jsonl").read_text() == log_before  # nothing overwritten
    (tmp_path / "checkpoint.prev.pt").unlink()
    with pytest.raises(CheckpointError):
        train(tiny(), cfg(), [periodic_source()], [1.0], tmp_path)
    res = train(tiny(), cfg(), [periodic_source()], [1.0], tmp_path, resume=False)  # explicit restart
    assert res["status"] == "complete" and [r["step"] for r in metrics(tmp_path)] == list(range(1, 31))


@pytest.mark.slow  # ~1 s: trains a proxy model (or pays torch's warm-up)
def test_resume_with_other_config_or_weights_is_a_clear_error(tmp_path):
    sources = [periodic_source("a"), periodic_source("b", period=11)]
    train(tiny(), cfg(), sources, [0.5, 0.5], tmp_path, stop_at_step=10)
    with pytest.raises(RunMismatchError, match=r"train_config\.lr: 0\.003 -> 0\.001"):
        train(tiny(), cfg(lr=1e-3), sources, [0.5, 0.5], tmp_path)
    with pytest.raises(RunMismatchError, match=r"weights.*\[0\.5, 0\.5\] -> \[0\.4, 0\.6\]"):
        train(tiny(), cfg(), sources, [0.4, 0.6], tmp_path)
    with pytest.raises(RunMismatchError, match=r"model_config\.d_model: 32 -> 64"):
        train(ProxyConfig(vocab_size=384, n_layer=1, d_model=64, n_head=2, seq_len=SEQ), cfg(), sources,
              [0.5, 0.5], tmp_path)
    changed = [sources[0], periodic_source("b", period=13)]
    with pytest.raises(RunMismatchError, match=r"data\.b\.train"):
        train(tiny(), cfg(), changed, [0.5, 0.5], tmp_path)
    # operational knobs may change between attempts
    res = train(tiny(), cfg(checkpoint_every=7, log_every=5), sources, [0.5, 0.5], tmp_path)
    assert res["status"] == "complete"


@pytest.mark.slow  # ~1 s: trains a proxy model (or pays torch's warm-up)
def test_model_trained_on_a_only_is_better_on_a_than_b(corpora, tmp_path):
    a = split_tokens("english", corpora["ids"]["en"], seq_len=SEQ)
    b = split_tokens("noise", corpora["ids"]["noise"], seq_len=SEQ)
    res = train(tiny(), cfg(steps=60, batch_size=16, lr=1e-2, eval_every=30, checkpoint_every=0),
                [a, b], [1.0, 0.0], tmp_path)
    assert set(res["val_loss"]) == {"english", "noise"}
    assert res["val_loss_mean"] == pytest.approx(np.mean(list(res["val_loss"].values())))
    assert res["val_loss"]["english"] < res["val_loss"]["noise"] - 1.0
    evals = [r for r in metrics(tmp_path) if "val_loss" in r]
    assert [r["step"] for r in evals] == [30, 60]
    assert evals[1]["val_loss"]["english"] < evals[0]["val_loss"]["english"]
