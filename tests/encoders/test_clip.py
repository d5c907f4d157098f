"""ClipEncoder (text and image queries in CLIP's space) on a random-initialised tiny CLIP."""

import pytest
import torch
import torch.nn.functional as F

from asteroid_wsas.encoders import ClipEncoder, encode_queries
from asteroid_wsas.encoders.loading import load_encoder
from asteroid_wsas.encoders.testing import random_clap_encoder, save_random_clip


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return save_random_clip(tmp_path_factory.mktemp("clip"), image_size=32, patch_size=8)


@pytest.fixture(scope="module")
def encoder(folder):
    return load_encoder(f"clip_image:{folder}")


def image(seed: int, shape=(3, 40, 56)) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed)).byte()


def test_loads_frozen_with_both_towers(encoder):
    assert isinstance(encoder, ClipEncoder) and encoder.frozen and not encoder.training
    assert encoder.has_image and not encoder.has_audio
    assert encoder.embed_dim == encoder.token_dim == 16
    assert not any(p.requires_grad for p in encoder.parameters())
    with pytest.raises(NotImplementedError, match="embeds text and images, no audio"):
        encoder.embed_audio(torch.zeros(1, 100), 16000)


def test_text_embedding_is_clips_projected_text_embedding(encoder):
    phrases = ["the sound of a violin", "a dog barks"]
    embed, states, mask = encoder.encode_text(phrases)
    inputs = encoder.tokenizer(phrases, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = encoder.model.text_model(**inputs).pooler_output
        reference = F.normalize(encoder.model.text_projection(out), dim=-1)
    assert torch.allclose(embed, reference, atol=1e-5)
    # the token state is the embedding itself: one token in the shared space
    assert states.shape == (2, 1, 16) and mask.all()
    assert torch.allclose(states[:, 0].float(), embed, atol=1e-2)  # cached in float16


def test_image_embedding_is_clips_projected_image_embedding(encoder):
    img = image(0)
    embed = encoder.embed_images([img])
    pixels = encoder.preprocess(img[None])
    assert pixels.shape == (1, 3, 32, 32)
    with torch.no_grad():
        out = encoder.model.vision_model(pixel_values=pixels).pooler_output
        reference = F.normalize(encoder.model.visual_projection(out), dim=-1)
    assert torch.allclose(embed, reference, atol=1e-5)
    # uint8 and float in [0, 1] are the same picture
    assert torch.allclose(encoder.embed_images([img.float() / 255]), embed, atol=1e-5)


def test_preprocess_resizes_the_short_side_and_crops_the_centre(encoder):
    # a wide picture whose left and right thirds are white: the centre crop keeps the black
    img = torch.zeros(3, 30, 90, dtype=torch.uint8)
    img[..., :30] = 255
    img[..., 60:] = 255
    pixels = encoder.preprocess(img[None])
    black = (0 - encoder.image_mean) / encoder.image_std
    assert pixels.shape == (1, 3, 32, 32)
    assert torch.allclose(pixels[0, :, 8:24, 8:24], black.expand(3, 16, 16), atol=1e-4)


def test_frames_of_one_query_give_the_mean_embedding(encoder):
    frames = torch.stack([image(1), image(2), image(3)])
    alone = encoder.embed_images(list(frames))
    together = encoder.embed_images([frames])
    assert torch.allclose(together[0], F.normalize(alone.mean(0), dim=0), atol=1e-5)
    assert not torch.allclose(alone[0], alone[1], atol=1e-3)


def test_text_and_image_queries_mix_in_one_call(encoder):
    a, b = image(4), image(5, (3, 32, 32))
    embed, tokens, mask = encode_queries(encoder, [["a dog barks", a], [b, "rain falls"]])
    assert embed.shape == (2, 2, 16) and tokens.shape == (2, 2, 1, 16) and mask.all()
    texts = encoder.embed_text(["a dog barks", "rain falls"])
    images = encoder.embed_images([a, b])
    assert torch.allclose(embed[0, 0], texts[0], atol=1e-5)
    assert torch.allclose(embed[1, 1], texts[1], atol=1e-5)
    assert torch.allclose(embed[0, 1], images[0], atol=1e-5)
    assert torch.allclose(embed[1, 0], images[1], atol=1e-5)


def test_patch_max_pooling_is_the_maximum_over_the_feature_map(folder):
    encoder = load_encoder(f"clip_image:{folder}?pooling=patch_max")
    assert encoder.pooling == "patch_max"
    img = image(6)
    features = encoder.image_features(encoder.preprocess(img[None]))
    assert features.shape == (1, 4, 4, 16)  # 32 / 8 patches a side
    expected = F.normalize(features.flatten(1, 2).amax(1), dim=-1)
    assert torch.allclose(encoder.embed_images([img]), expected, atol=1e-5)
    cls = load_encoder(f"clip_image:{folder}")
    assert not torch.allclose(cls.embed_images([img]), expected, atol=1e-3)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ("a path", TypeError, r"images\[0\] must be a tensor"),
        (torch.zeros(4, 8, 8), ValueError, r"images\[0\] must be \(3, H, W\)"),
        (torch.full((3, 8, 8), 2.0), ValueError, "in \\[0, 1\\]"),
        (torch.zeros(3, 8, 8, dtype=torch.int32), ValueError, "uint8 or float"),
    ],
)
def test_bad_images_are_named(encoder, bad, error, match):
    with pytest.raises(error, match=match):
        encoder.encode_images([bad])


def test_image_query_for_a_text_only_encoder_is_refused():
    encoder = random_clap_encoder().freeze()
    with pytest.raises(TypeError, match="clip_image:"):
        encode_queries(encoder, [["a dog barks", image(0)]])


def test_a_text_tower_alone_is_not_enough(tmp_path, folder):
    text_only = tmp_path / "text"
    load_encoder(f"clip:{folder}").save_pretrained(text_only)  # its text tower alone
    with pytest.raises(OSError, match="text and vision towers"):
        load_encoder(f"clip_image:{text_only}")
    with pytest.raises(OSError, match="not found"):
        load_encoder(f"clip_image:{tmp_path / 'missing'}")
