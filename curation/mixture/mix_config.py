"""The mix stage's config: MIX.yaml as frozen dataclasses, its presets, and its sources resolved.

``spark_jobs/mix.py`` loads it (``--config``/``--set``), resolves the sources (:func:`resolve_sources`:
shares from a preset, inputs from the mixture's default) before Spark starts, then counts, plans and
samples them (:mod:`curation.mixture.token_counts`, :mod:`curation.mixture.plan`,
:mod:`curation.mixture.sample`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from curation import config as configlib
from curation.mixture.source import KEPT, Source

#: phi-4 Table 5, organic part only (web 15 : code 20 : acquired 10). Multilingual web is ~8% of all
#: phi-4 data; here it is 8% of the organic mixture, and the rest of the web share is split evenly
#: between reasoning-heavy and knowledge-heavy pages (the paper gives no split).
PRESETS: dict[str, dict[str, float]] = {
    "phi4-organic": {
        "web_reasoning": (15 / 45 - 0.08) / 2,
        "web_knowledge": (15 / 45 - 0.08) / 2,
        "web_multilingual": 0.08,
        "code": 20 / 45,
        "acquired": 10 / 45,
    },
}


@dataclass(frozen=True)
class MixSource(Source):
    """A :class:`curation.mixture.source.Source` with its share of the mixture's tokens."""

    #: SQL condition selecting this source's documents (the one dialect of curation.mixture.source).
    where: str = KEPT
    #: Parquet/JSONL documents (id, text); default: the mixture's ``input``.
    input: str | None = None
    #: Share of total tokens in (0, 1]; 0 takes the preset's share for this name.
    share: float = 0.0


@dataclass(frozen=True)
class MixJobConfig:
    """The mix stage's config (``curate mix --config MIX.yaml``, a pipeline's ``mix:`` section)."""

    input: str | None = None
    #: A local Hugging Face tokenizers JSON file.
    tokenizer: str = ""
    total_tokens: int = 0
    seed: int = 0
    preset: str | None = None
    sources: tuple[MixSource, ...] = ()
    #: error: refuse a plan past an epoch cap; warn: write it and record the warning.
    on_cap: str = "error"
    #: Output Parquet files (0: one per 1M rows, at least 1).
    shards: int = 0
    #: Also write tokenised shards for training, in ``_tokens/`` (each document's ids, then the end-of-text id;
    #: uint16 when the vocabulary fits 16 bits). Their layout is ``token_format``.
    binary: bool = False
    #: megatron: Megatron-LM/NeMo indexed datasets, a ``tokens-NNNNN.bin`` + ``.idx`` pair per Parquet shard
    #: (each pair's path without suffix is a ``--data-path`` prefix); nanogpt: one flat ``train.bin`` as
    #: nanoGPT's train.py reads it. See :mod:`curation.mixture.token_shards`.
    token_format: Literal["megatron", "nanogpt"] = "megatron"
    #: The end-of-text token appended after each document in binary shards (if in the vocabulary).
    eos_token: str = "<|endoftext|>"
    #: Documents longer than this many tokens are sampled as consecutive chunks of at most this
    #: size (cut at token boundaries; ids ``<id>#<k>``), so a budget is met to within one chunk
    #: even when single documents (books, long papers) are large next to it. 0: whole documents.
    chunk_tokens: int = 2048


def resolve_sources(cfg: MixJobConfig) -> list[MixSource]:
    if cfg.preset is not None and cfg.preset not in PRESETS:
        raise configlib.ConfigError(f"unknown preset {cfg.preset!r} (known: {', '.join(PRESETS)})")
    shares = PRESETS.get(cfg.preset or "", {})
    out = []
    for s in cfg.sources:
        if not s.name:
            raise configlib.ConfigError("every source needs a name")
        share = s.share or shares.get(s.name, 0.0)
        if share <= 0:
            raise configlib.ConfigError(f"source {s.name!r} has no share (and preset {cfg.preset!r} gives none)")
        if not (s.input or cfg.input):
            raise configlib.ConfigError(f"source {s.name!r} has no input (set input: for it or for the mixture)")
        out.append(replace(s, share=share, input=s.input or cfg.input))
    if not out:
        names = ", ".join(shares) if shares else "name, share, where"
        raise configlib.ConfigError(f"no sources configured (preset {cfg.preset!r} expects sources named: {names})")
    return out
