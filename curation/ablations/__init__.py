"""Mixture ablations: a small proxy language model trained on weighted mixtures of token streams.

``proxy_model`` holds the GPT-style model, ``token_streams`` the tokenizer/token plumbing and the
seeded mixture sampler, ``trainer`` the resumable training loop that writes metrics and results.
"""
