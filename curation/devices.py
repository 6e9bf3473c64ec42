"""The torch device a ``device`` setting names, defined once for the classifiers and the proxy trainer."""

from __future__ import annotations

from typing import Any


def resolve_device(name: str | None = "auto") -> Any:
    """``auto`` (or None): CUDA when available, else the CPU; any other name (``cpu``, ``cuda:1``,
    ``mps``) as given. A ``torch.device`` (``str()`` of it is the name); torch is imported here only."""
    import torch

    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
