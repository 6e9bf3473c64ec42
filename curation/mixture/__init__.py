"""Mixtures: the one source model, token counting, token-budget planning and sampling."""
