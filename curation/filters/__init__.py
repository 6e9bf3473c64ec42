"""Per-document annotate steps: the step contract and registry, heuristic, content, language and
score filters, and the per-batch annotate task that runs them."""
