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


def separator_unet(text_embed_dim: int = EMBED_DIM, text_token_dim: int = TOKEN_DIM):
    """The separator tests' 3-level model (attention at level 2)."""
    return tiny_unet(
        channels=[8, 16, 16],
        attention_levels=[2],
        text_embed_dim=text_embed_dim,
        text_token_dim=text_token_dim,
    )


def tiny_separator(texts):
    """A random-initialised Separator (:func:`separator_unet`) whose small encoder knows
    ``texts`` and "wind blows"; seeded, so every test module gets the same weights."""
    from asteroid_wsas import Separator
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab

    torch.manual_seed(0)
    vocab = build_vocab(list(texts) + ["wind blows"])
    encoder = TinyBimodalEncoder(vocab, 8000, embed_dim=EMBED_DIM, token_dim=TOKEN_DIM)
    return Separator(separator_unet(), encoder)


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


def tiny_encoder(texts, sample_rate: int = 8000):
    """A small TinyBimodalEncoder whose dims match :func:`tiny_unet` (random weights)."""
    from asteroid_wsas.encoders.tiny import TinyBimodalEncoder, build_vocab

    torch.manual_seed(0)
    return TinyBimodalEncoder(
        build_vocab(texts),
        sample_rate=sample_rate,
        embed_dim=EMBED_DIM,
        token_dim=TOKEN_DIM,
        n_mels=32,
        n_fft=256,
        hop_length=80,
        channels=(4, 8, 8, 8),
        text_layers=1,
        n_heads=2,
    )


def weak_items(n_items: int = 8, n_phrases: int = 2, seconds: float = 0.5, seed: int = 0):
    """Generated captioned mixtures with P fixed phrases (weak-objective items)."""
    from asteroid_wsas.data import SyntheticCaptionedMixtures, WithFixedPhrases

    data = SyntheticCaptionedMixtures(n_items, seconds=seconds, sample_rate=8000, seed=seed)
    return WithFixedPhrases(data, n_phrases, seed=seed)


def test_items(n_items: int = 4, seconds: float = 0.5, seed: int = 9):
    """Generated two-source test items (mixture, references, queries)."""
    from asteroid_wsas.data import SyntheticCaptionedMixtures

    data = SyntheticCaptionedMixtures(
        n_items, min_sources=2, max_sources=2, seconds=seconds, sample_rate=8000, seed=seed
    )
    return [
        {"mixture": it["mixture"], "references": it["sources"], "queries": it["phrases"]}
        for it in (data[i] for i in range(n_items))
    ]


test_items.__test__ = False  # a helper, not a pytest test


TONE_BANDS = {"low": (220.0, 380.0), "mid": (700.0, 1100.0), "high": (1800.0, 2600.0)}


class ToneMixtures(torch.utils.data.Dataset):
    """Mixtures of amplitude-modulated tones, one class per frequency band (8 kHz).

    Items as :class:`~asteroid_wsas.data.mixing.LabeledSourceMixtures`' (``mixture``,
    ``sources``, ``labels``, ``phrases`` "The sound of {band}", ``phrase_weights``,
    ``caption``), deterministic per (seed, index).
    """

    sample_rate = 8000

    def __init__(
        self, n_items, classes=("low", "high"), min_sources=1, max_sources=1, seconds=0.5, seed=0
    ):
        self.n_items, self.classes = n_items, list(classes)
        self.min_sources, self.max_sources = min_sources, max_sources
        self.n_samples, self.seed = int(seconds * self.sample_rate), seed

    def __len__(self):
        return self.n_items

    def tone(self, label, gen):
        low, high = TONE_BANDS[label]
        freq = low + (high - low) * torch.rand(1, generator=gen)
        rate, phase = 2 + 4 * torch.rand(1, generator=gen), 6.28 * torch.rand(2, generator=gen)
        t = torch.arange(self.n_samples) / self.sample_rate
        envelope = 0.6 + 0.4 * torch.sin(2 * torch.pi * rate * t + phase[0])
        gain = 0.3 + 0.7 * torch.rand(1, generator=gen)
        return gain * envelope * torch.sin(2 * torch.pi * freq * t + phase[1])

    def __getitem__(self, index):
        from asteroid_wsas.text import mixture_prompt, source_prompt

        gen = torch.Generator().manual_seed(self.seed * 100003 + index)
        n = int(torch.randint(self.min_sources, self.max_sources + 1, (1,), generator=gen))
        labels = [self.classes[i] for i in torch.randperm(len(self.classes), generator=gen)[:n]]
        sources = torch.stack([self.tone(label, gen) for label in labels])
        return {
            "mixture": sources.sum(0),
            "sources": sources,
            "labels": labels,
            "phrases": [source_prompt(label) for label in labels],
            "phrase_weights": torch.ones(n),
            "caption": mixture_prompt(labels) if n > 1 else source_prompt(labels[0]),
        }


def count_calls(monkeypatch, owner, name: str) -> list:
    """Wrap ``owner.name`` (for the test's duration) so that each call's positional
    arguments are appended to the list returned."""
    calls = []
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def named_pipe(path, data: bytes):
    """A named pipe at ``path`` that a thread writes ``data`` into once a reader opens it;
    returns the thread (join it after reading)."""
    import os
    import threading

    os.mkfifo(path)

    def write():
        with open(path, "wb") as f:
            f.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def default_signals() -> None:
    """``preexec_fn`` of a child that must answer Ctrl+C and stop signals as a terminal's
    would: a job started in the background of a shell (``cmd &``, ``nohup``) ignores SIGINT
    and SIGHUP, and a child inherits that, so Python would never see them."""
    import signal

    for name in ("SIGINT", "SIGHUP", "SIGTERM"):
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_DFL)


def moved_encoder_run(separator, folder):
    """A recipe run (``<folder>/exp``: best_model.pth, conf.yml) whose conf.yml names a
    small-encoder file that is gone (a moved experiment). Returns (run folder, gone file)."""
    run = folder / "exp"
    run.mkdir()
    torch.save(separator.model.serialize(), run / "best_model.pth")
    gone = folder / "old" / "encoder" / "tiny.pth"
    (run / "conf.yml").write_text(f"encoder:\n  name: {gone}\n")
    return run, gone


def recipe_utility(name: str):
    """The module of a script in recipes/utils/ (``sweep_table``), imported by its path
    (recipes are not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "recipes" / "utils" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
