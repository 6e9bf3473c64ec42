"""A tiny GPT-style decoder-only language model used as the proxy for data-mixture ablations.

nanoGPT's shape, read top to bottom: token + learned position embeddings, pre-LayerNorm blocks
(causal self-attention, GELU MLP), a final LayerNorm and an output head tied to the token
embedding. No dropout: proxy runs are far from over-fitting, and a dropout-free model makes a
resumed run bit-identical to an uninterrupted one on CPU (no RNG state to carry over).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ProxyConfig:
    vocab_size: int
    n_layer: int = 2
    d_model: int = 128
    n_head: int = 4
    seq_len: int = 128
    mlp_ratio: int = 4

    def __post_init__(self) -> None:
        if (self.vocab_size < 2 or self.n_layer < 1 or self.seq_len < 1 or self.mlp_ratio < 1
                or self.n_head < 1 or self.d_model < 1):
            raise ValueError(f"invalid ProxyConfig: {self}")
        if self.d_model % self.n_head:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head})")

    def n_params(self) -> int:
        """Unique parameters (the tied output head is not counted twice)."""
        d, h = self.d_model, self.mlp_ratio * self.d_model
        block = (2 * d) + (3 * d * d + 3 * d) + (d * d + d) + (2 * d) + (d * h + h) + (h * d + d)
        return self.vocab_size * d + self.seq_len * d + self.n_layer * block + 2 * d

    def flops_per_token(self) -> float:
        """Training FLOPs per token, forward + backward: ``6 N + 12 L d T`` (PaLM appendix B).

        ``N`` leaves out the position embedding (a lookup, no matmul) but keeps the token
        embedding, because the tied output head is a real ``d x V`` matmul on every token.
        The attention term counts the full ``T x T`` score matrix, as the convention does,
        although causal kernels skip about half of it.
        """
        n = self.n_params() - self.seq_len * self.d_model
        return 6.0 * n + 12.0 * self.n_layer * self.d_model * self.seq_len


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ProxyConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        # one fused projection, then split into (3, B, heads, T, head_dim)
        q, k, v = self.qkv(x).view(b, t, 3, self.n_head, c // self.n_head).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, cfg: ProxyConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc = nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model)
        self.out = nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class ProxyLM(nn.Module):
    def __init__(self, cfg: ProxyConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init_weights)
        # GPT-2: scale the projections that write into the residual stream by 1/sqrt(2 L) so the
        # residual's variance does not grow with depth.
        for block in self.blocks:
            for proj in (block.attn.proj, block.out):
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``idx`` (B, T) token ids -> (logits (B, T, V), mean cross-entropy or None)."""
        t = idx.shape[1]
        if t > self.cfg.seq_len:
            raise ValueError(f"sequence of {t} tokens is longer than seq_len={self.cfg.seq_len}")
        pos = torch.arange(t, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        for block in self.blocks:
            x = block(x)
        # tied head: the token embedding doubles as the output projection
        logits = F.linear(self.ln_f(x), self.tok_emb.weight)
        loss = None
        if targets is not None:
            # float32 for the loss even under bf16 autocast (cross_entropy autocasts up anyway)
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss
