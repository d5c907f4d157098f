"""Test helpers: tiny TextCondUNet configs and generated inputs."""

import torch

from asteroid_wsas import TextCondUNet

EMBED_DIM = 16
TOKEN_DIM = 12


def tiny_unet(conditioning: str = "attention", **kwargs) -> TextCondUNet:
    """A 4-level model (spectrogram 64 x N) that runs in milliseconds."""
    config = dict(
        sample_rate=8000,
        n_fft=126,
        hop_length=32,
        channels=[8, 16, 16, 16],
        attention_levels=[2, 3],
        conditioning=conditioning,
        text_embed_dim=EMBED_DIM,
        text_token_dim=TOKEN_DIM,
        n_heads=2,
        out_channels=4,
    )
    config.update(kwargs)
    return TextCondUNet(**config)


def randomize_norm_stats(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BatchNorm non-trivial running statistics so eval mode is not an identity."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=gen) * 0.3)
            module.running_var.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
    return model


def queries(batch: int, n_queries: int, n_tokens: int = 5, seed: int = 0):
    """Random text embeddings (B, K, D) and token states (B, K, L, E)."""
    gen = torch.Generator().manual_seed(seed)
    embed = torch.randn(batch, n_queries, EMBED_DIM, generator=gen)
    tokens = torch.randn(batch, n_queries, n_tokens, TOKEN_DIM, generator=gen)
    return embed, tokens
