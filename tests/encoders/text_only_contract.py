"""What every text-only query encoder (BERT, CLIP's text tower) must do, written once.

A test module subclasses :class:`TextOnlyContract` as ``Test...``, sets the class attributes
and provides two fixtures: ``folder`` (a saved random-initialised checkpoint with its
tokenizer) and ``encoder`` (the frozen encoder loaded from it).
"""

import os

import pytest
import torch

from asteroid_wsas import TextCondUNet
from asteroid_wsas.encoders import encode_queries
from asteroid_wsas.encoders.loading import load_encoder
from asteroid_wsas.separator import Separator, separate_batch

WORDS = "a the dog cat barks meows man woman speaks talks while water runs rain falls on roof"
PHRASES = ["a dog barks", "a man speaks while water runs on the roof", "rain falls", "a dog barks"]


def tiny_unet(conditioning: str, embed_dim: int, token_dim: int) -> TextCondUNet:
    """A 2-level separator that takes the encoder's widths."""
    torch.manual_seed(0)
    return TextCondUNet(
        n_fft=62,
        hop_length=16,
        channels=[4, 8],
        n_heads=2,
        conditioning=conditioning,
        text_embed_dim=embed_dim,
        text_token_dim=token_dim,
    ).eval()


class TextOnlyContract:
    """Shared tests; subclasses set these."""

    KIND = ""  # load_encoder's prefix and the package entry's kind
    ENCODER = None  # the TextOnlyEncoder subclass
    EMBED_DIM = 0
    TOKEN_DIM = 0
    CONDITIONINGS = ("attention",)  # the separator variants the row uses

    def test_shapes_norm_and_mask(self, encoder):
        embed, states, mask = encoder.encode_text(PHRASES)
        reference = encoder.tokenizer(PHRASES, padding=True, return_tensors="pt")
        reference = reference["attention_mask"]
        assert (encoder.embed_dim, encoder.token_dim) == (self.EMBED_DIM, self.TOKEN_DIM)
        assert embed.shape == (4, self.EMBED_DIM) and embed.dtype == torch.float32
        assert states.shape == (4, reference.shape[1], self.TOKEN_DIM)
        assert torch.equal(mask, reference.bool())
        assert torch.allclose(embed.norm(dim=-1), torch.ones(4), atol=1e-5)
        assert (states[~mask] == 0).all()  # padding is zero, as in the cached path

    def test_equal_and_different_phrases(self, encoder):
        embed = encoder.embed_text(PHRASES)
        assert torch.equal(embed[0], embed[3])
        assert not torch.allclose(embed[0], embed[1], atol=1e-3)
        assert not torch.allclose(embed[0], embed[2], atol=1e-3)

    def test_padding_does_not_change_a_phrase(self, folder):
        unfrozen = self.ENCODER.from_pretrained(folder, freeze=False).eval()
        with torch.no_grad():
            alone, states_alone, _ = unfrozen.encode_text(["rain falls"])
            batch, states_batch, mask = unfrozen.encode_text(["rain falls", PHRASES[1]])
        assert mask[0].sum() < mask.shape[1]  # the short phrase really is padded
        assert torch.allclose(alone[0], batch[0], atol=1e-5)
        length = states_alone.shape[1]
        assert torch.allclose(states_alone[0], states_batch[0, :length], atol=1e-5)

    def test_cache_once_frozen(self, folder):
        encoder = self.ENCODER.from_pretrained(folder)
        assert encoder.frozen and not encoder.training
        assert not any(p.requires_grad for p in encoder.parameters())
        first = encoder.embed_text(PHRASES)
        assert encoder.cache_stats() == {"entries": 3, "hits": 1, "misses": 3}
        again = encoder.embed_text(PHRASES[::-1])
        assert encoder.cache_stats()["hits"] == 5 and encoder.cache_stats()["misses"] == 3
        assert torch.equal(again, first.flip(0))

    def test_unfrozen_encoder_is_trainable(self, folder):
        encoder = self.ENCODER.from_pretrained(folder, freeze=False)
        encoder.embed_text(PHRASES[:2]).sum().backward()
        assert encoder.cache_stats()["entries"] == 0
        assert any(p.grad is not None for p in encoder.parameters())
        assert encoder.freeze().frozen

    def test_text_only(self, encoder):
        assert not encoder.has_audio and encoder.sample_rate == 0
        message = f"{self.ENCODER.__name__} embeds text only, no audio"
        with pytest.raises(NotImplementedError, match=message):
            encoder.embed_audio(torch.zeros(1, 1000), 16000)
        with pytest.raises(NotImplementedError, match=message):
            encoder.logit_scale

    def test_load_encoder_spec_and_package_entry(self, folder, encoder):
        expected = encoder.embed_text(PHRASES[:2])
        for spec, base in [
            (f"{self.KIND}:{folder}", None),
            ({"kind": self.KIND, "name": folder}, None),
            ({"kind": self.KIND, "name": f"{self.KIND}:{folder}"}, None),  # a conf.yml's name
            ({"kind": self.KIND, "name": os.path.basename(folder)}, os.path.dirname(folder)),
        ]:
            loaded = load_encoder(spec, base)
            assert isinstance(loaded, self.ENCODER) and loaded.frozen
            assert torch.allclose(loaded.embed_text(PHRASES[:2]), expected, atol=1e-6)

    def test_text_cond_unet_separates_with_its_queries(self, encoder):
        queries = [["a dog barks", "rain falls"], ["a man speaks", "a cat meows"]]
        mix = torch.randn(2, 800)
        for conditioning in self.CONDITIONINGS:
            model = tiny_unet(conditioning, self.EMBED_DIM, self.TOKEN_DIM)
            embed, tokens, mask = encode_queries(encoder, queries, model.wants_tokens)
            assert embed.shape == (2, 2, self.EMBED_DIM)
            if model.wants_tokens:
                assert tokens.shape[:3] == mask.shape and tokens.shape[-1] == self.TOKEN_DIM
            with torch.no_grad():
                out = model(mix, embed, tokens, mask)
                batch = separate_batch(model, encoder, mix, queries)
            assert out.shape[:2] == (2, 2) and out.shape[-1] == 800
            assert torch.isfinite(out).all()
            assert torch.allclose(batch, out.reshape(batch.shape), atol=1e-5)

    def test_separator_package_keeps_the_encoder(self, tmp_path, folder, encoder):
        model = tiny_unet(self.CONDITIONINGS[0], self.EMBED_DIM, self.TOKEN_DIM)
        queries = [["a dog barks", "rain falls"]]
        mix = torch.randn(1, 800)
        with torch.no_grad():
            expected = separate_batch(model, encoder, mix, queries)

        # loaded from nowhere else: the encoder is written into the package folder
        Separator(model, encoder).save_pretrained(tmp_path / "own")
        package = torch.load(tmp_path / "own" / "separator.pth", weights_only=True)
        assert package["encoder"] == {"kind": self.KIND, "name": "encoder"}
        # named: only the name is kept
        named = f"{self.KIND}:{folder}"
        Separator(model, encoder, encoder_name=named).save_pretrained(tmp_path / "named")
        package = torch.load(tmp_path / "named" / "separator.pth", weights_only=True)
        assert package["encoder"] == {"kind": self.KIND, "name": named}

        for name in ("own", "named"):
            loaded = Separator.from_pretrained(tmp_path / name)
            assert isinstance(loaded.encoder, self.ENCODER)
            with torch.no_grad():
                got = separate_batch(loaded.model, loaded.encoder, mix, queries)
            assert torch.allclose(got, expected, atol=1e-5)
