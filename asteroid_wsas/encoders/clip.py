"""CLIP's two towers as a query encoder of text *and* images (CLIPSep-Img, Sound of Pixels).

CLIPSep (Dong et al., ICLR 2023) trains a separator on video frames through CLIP's image
embedding and queries it at test time with CLIP's text embedding of a phrase: the two live in
one space, so a model that learned image queries answers text queries too. This encoder gives
both sides that space: :meth:`~ClipEncoder.encode_text` and :meth:`~ClipEncoder.encode_images`
return the same triple (normalised embedding, token states, mask), and the token states are
the projected embedding itself as one token, so a text query and an image query are the same
kind of input to every separator here, also to one that attends to token states.

Like BERT and CLIP's text tower alone, CLIP has no audio side: it queries separators but
cannot be the teacher of the weak objective (``has_audio`` is False).
"""

import os
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoTokenizer, CLIPConfig, CLIPModel, PreTrainedModel

from .base import BimodalEncoder, TextBatch
from .clip_text import _quiet_transformers
from .text_only import NoAudioTower

__all__ = ["ClipEncoder", "POOLINGS"]

# CLIP's own: the pooled class token through the visual projection. "patch_max": each
# patch token through the projection, then the maximum over space (Sound of Pixels pools
# its visual feature map so in training).
POOLINGS = ("cls", "patch_max")
# OpenAI CLIP's pixel statistics (the image processor's defaults)
_MEAN = (0.48145466, 0.4578275, 0.40821073)
_STD = (0.26862954, 0.26130258, 0.27577711)

ImageLike = torch.Tensor


class ClipEncoder(NoAudioTower, BimodalEncoder):
    """A ``CLIPModel`` (text and vision towers) as encoder of text and image queries.

    Text: CLIP's projected text embedding (end-of-text state through ``text_projection``),
    L2-normalised. Images: CLIP's projected image embedding (``pooling="cls"``) or the
    maximum over CLIP's projected patch tokens (``pooling="patch_max"``, the pixel-level
    features of Sound of Pixels), L2-normalised; several frames of one query (a tensor
    :math:`(F, 3, H, W)`) give the normalised mean of their embeddings. Token states of both
    are the embedding as a single token (``token_dim == embed_dim``), so text and image
    queries can be mixed in one batch and swapped after training.

    Images are resized (shorter side, bicubic, antialiased) and centre-cropped to the vision
    tower's ``image_size``, then normalised with the checkpoint's image-processor statistics
    (CLIP's defaults without a ``preprocessor_config.json``): CLIP's preprocessing, done in
    torch so that frames need no PIL round trip.

    Args:
        model: A ``CLIPModel``.
        tokenizer: Its tokenizer.
        pooling: ``"cls"`` or ``"patch_max"`` (see above).
        image_mean: Per-channel mean of pixels in [0, 1] (default: OpenAI CLIP's).
        image_std: Per-channel standard deviation (default: OpenAI CLIP's).
        max_text_length: Longest token sequence (default: the text tower's positions).
        freeze: Freeze the encoder (the usual case).
        cache_size: Phrases kept in the text cache once frozen (images are not cached).
        cache_dtype: Storage dtype of cached token states.

    Attributes:
        embed_dim (int): ``projection_dim``; also ``token_dim``.
        image_size (int): Side of the square the vision tower sees.

    Examples:
        >>> encoder = ClipEncoder.from_pretrained("openai/clip-vit-base-patch32")  # doctest: +SKIP
        >>> frames = torch.zeros(4, 3, 224, 224, dtype=torch.uint8)  # doctest: +SKIP
        >>> embed, states, mask = encoder.encode_images([frames])  # doctest: +SKIP
        >>> embed.shape, states.shape  # doctest: +SKIP
        (torch.Size([1, 512]), torch.Size([1, 1, 512]))
    """

    kind = "clip_image"
    family = "CLIP"
    has_image = True
    modality = "text and images"

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer,
        pooling: str = "cls",
        image_mean: Optional[Sequence[float]] = None,
        image_std: Optional[Sequence[float]] = None,
        max_text_length: Optional[int] = None,
        freeze: bool = True,
        cache_size: Optional[int] = 65536,
        cache_dtype: torch.dtype = torch.float16,
    ):
        super().__init__(cache_size=cache_size, cache_dtype=cache_dtype)
        if not isinstance(model, CLIPModel):
            raise ValueError(
                f"ClipEncoder needs a CLIPModel (both towers), got {type(model).__name__}; "
                "for text queries only use ClipTextEncoder ('clip:<folder>')"
            )
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        config = model.config
        self.embed_dim = self.token_dim = int(config.projection_dim)
        self.image_size = int(config.vision_config.image_size)
        limits = [config.text_config.max_position_embeddings, tokenizer.model_max_length]
        self.max_text_length = int(max_text_length or min(int(v) for v in limits if v))
        self.register_buffer("image_mean", _channels(image_mean or _MEAN), persistent=False)
        self.register_buffer("image_std", _channels(image_std or _STD), persistent=False)
        if freeze:
            self.freeze()

    @classmethod
    def from_pretrained(cls, name_or_path: Union[str, os.PathLike], **kwargs) -> "ClipEncoder":
        """Load a full CLIP checkpoint (folder or hub id) and its tokenizer.

        The image statistics come from the folder's image processor when it has one.

        Args:
            name_or_path: Local folder (transformers' ``save_pretrained`` layout) or hub id.
            **kwargs: Passed to the constructor (``pooling``, ``freeze``, ...).

        Raises:
            OSError: Nothing loadable there; the message names ``name_or_path``.
            ValueError: Not a full CLIP checkpoint (e.g. a text tower alone).
        """
        source = os.fspath(name_or_path)
        if os.path.isabs(source) and not os.path.exists(source):
            raise OSError(f"CLIP folder {source!r} not found")
        try:
            config = AutoConfig.from_pretrained(source)
            if not isinstance(config, CLIPConfig):  # e.g. a text tower saved alone
                raise ValueError(f"model_type {config.model_type!r} is not a full CLIP")
            with _quiet_transformers():
                model, info = CLIPModel.from_pretrained(
                    source, config=config, output_loading_info=True
                )
            tokenizer = AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError) as err:
            raise OSError(
                f"could not load a CLIP model (text and vision towers) and tokenizer from "
                f"{source!r} (a local folder in transformers' save_pretrained layout, or a hub "
                f"id when online): {err}"
            ) from err
        missing = sorted(info["missing_keys"])
        if missing:  # transformers would initialise them at random and only warn
            raise ValueError(f"{source}: the checkpoint has no weights for {missing[:5]}")
        for key, value in _processor_stats(source).items():
            kwargs.setdefault(key, value)
        return cls(model, tokenizer, **kwargs)

    # ------------------------------------------------------------------ text
    def _encode_text(self, phrases: List[str]) -> TextBatch:
        inputs = self._tokenize(phrases)
        with torch.autocast(self._device().type, enabled=False):
            outputs = self.model.text_model(**inputs)
            embed = self.model.text_projection(outputs.pooler_output)
        return _as_tokens(embed.float())

    # ------------------------------------------------------------------ images
    def encode_images(self, images: Sequence[ImageLike]) -> TextBatch:
        """Embeddings of image queries, each one image or several frames.

        Args:
            images: N tensors, each :math:`(3, H, W)` or :math:`(F, 3, H, W)` (F frames of one
                query: the normalised mean of their embeddings); uint8 in [0, 255] or float
                in [0, 1]. Sizes may differ between queries.

        Returns:
            tuple: ``embed`` :math:`(N, D)` L2-normalised, ``states`` :math:`(N, 1, D)` (the
            embedding as one token) and ``mask`` :math:`(N, 1)` (True).

        Raises:
            TypeError, ValueError: A query that is not such a tensor (the message names it).
        """
        frames = [_check_image(image, i) for i, image in enumerate(images)]
        if not frames:
            d = self.embed_dim
            return (torch.zeros(0, d), torch.zeros(0, 0, d), torch.zeros(0, 0, dtype=torch.bool))
        counts = [f.shape[0] for f in frames]
        pixels = torch.cat([self.preprocess(f) for f in frames])
        grad = not self.frozen and torch.is_grad_enabled()
        with torch.set_grad_enabled(grad), torch.autocast(self._device().type, enabled=False):
            per_frame = self.image_features(pixels)
        if per_frame.ndim == 4:  # (frames, h, w, D): pooled over space for the query
            per_frame = per_frame.flatten(1, 2).amax(1)
        per_frame = F.normalize(per_frame, dim=-1)
        embed = torch.stack([chunk.mean(0) for chunk in per_frame.split(counts)])
        return _as_tokens(embed)

    def embed_images(self, images: Sequence[ImageLike]) -> torch.Tensor:
        """L2-normalised image embeddings ``(N, D)`` (see :meth:`encode_images`)."""
        return self.encode_images(images)[0]

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Projected features of preprocessed images, before normalisation.

        Args:
            pixels: :math:`(N, 3, S, S)` from :meth:`preprocess`.

        Returns:
            torch.Tensor: :math:`(N, D)` with ``pooling="cls"``; :math:`(N, h, w, D)`, one
            vector per patch (the visual feature map of Sound of Pixels), with
            ``pooling="patch_max"``.
        """
        if self.pooling == "patch_max":
            return self.patch_features(pixels)
        vision = self.model.vision_model(pixel_values=pixels)
        return self.model.visual_projection(vision.pooler_output).float()

    def patch_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """The visual feature map: each patch token through CLIP's post-layernorm and visual
        projection (into the space of the text embeddings), before normalisation.

        Args:
            pixels: :math:`(N, 3, S, S)` from :meth:`preprocess`.

        Returns:
            torch.Tensor: :math:`(N, h, w, D)`, ``h = w = S / patch_size``.
        """
        vision = self.model.vision_model(pixel_values=pixels)
        patches = self.model.vision_model.post_layernorm(vision.last_hidden_state[:, 1:])
        side = int(round(patches.shape[1] ** 0.5))
        return self.model.visual_projection(patches).float().unflatten(1, (side, side))

    @torch.no_grad()
    def encode_pixels(self, image: torch.Tensor) -> TextBatch:
        """One query per patch of an image (Sound of Pixels at test time: what sounds there).

        Args:
            image: :math:`(3, H, W)` or frames :math:`(F, 3, H, W)` (per patch, the normalised
                mean over the frames), uint8 or float in [0, 1].

        Returns:
            tuple: ``embed`` :math:`(h w, D)` normalised, ``states`` :math:`(h w, 1, D)`,
            ``mask`` :math:`(h w, 1)`, patches in row-major order.
        """
        frames = _check_image(image, 0)
        features = F.normalize(self.patch_features(self.preprocess(frames)), dim=-1)
        return _as_tokens(features.mean(0).flatten(0, 1))

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """CLIP's input of frames: resize, centre crop, normalise.

        Args:
            frames: :math:`(F, 3, H, W)`, uint8 or float in [0, 1].

        Returns:
            torch.Tensor: :math:`(F, 3, S, S)` float32 on the encoder's device.
        """
        x = frames.to(self._device())
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        h, w = x.shape[-2:]
        scale = self.image_size / min(h, w)
        size = (max(self.image_size, round(h * scale)), max(self.image_size, round(w * scale)))
        if size != (h, w):
            x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
        top, left = (size[0] - self.image_size) // 2, (size[1] - self.image_size) // 2
        x = x[..., top : top + self.image_size, left : left + self.image_size].clamp(0, 1)
        return (x - self.image_mean) / self.image_std


def _as_tokens(embed: torch.Tensor) -> TextBatch:
    embed = F.normalize(embed, dim=-1)
    mask = torch.ones(embed.shape[0], 1, dtype=torch.bool, device=embed.device)
    return embed, embed.unsqueeze(1), mask


def _channels(values: Sequence[float]) -> torch.Tensor:
    values = [float(v) for v in values]
    if len(values) != 3:
        raise ValueError(f"image statistics need 3 channels, got {values}")
    return torch.tensor(values).view(3, 1, 1)


def _processor_stats(source: str) -> dict:
    """``image_mean`` / ``image_std`` of the checkpoint's image processor, if it has one."""
    from transformers import CLIPImageProcessor

    if os.path.isdir(source) and not os.path.isfile(
        os.path.join(source, "preprocessor_config.json")
    ):
        return {}  # a folder without an image processor: CLIP's defaults
    try:
        with _quiet_transformers():  # without torchvision it warns about its PIL fallback
            processor = CLIPImageProcessor.from_pretrained(source)
    except (OSError, ValueError):
        return {}
    return {"image_mean": processor.image_mean, "image_std": processor.image_std}


def _check_image(image, index: int) -> torch.Tensor:
    """An image query as :math:`(F, 3, H, W)`."""
    name = f"images[{index}]"
    if not isinstance(image, torch.Tensor):
        raise TypeError(
            f"{name} must be a tensor (3, H, W) or (F, 3, H, W), got {type(image).__name__} "
            "(load files and PIL images with asteroid_wsas.data.load_image)"
        )
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.ndim != 4 or image.shape[1] != 3 or image.shape[0] == 0 or min(image.shape[2:]) < 1:
        raise ValueError(f"{name} must be (3, H, W) or (F, 3, H, W), got {tuple(image.shape)}")
    if image.dtype != torch.uint8:
        if not torch.is_floating_point(image):
            raise ValueError(f"{name} must be uint8 or float in [0, 1], got {image.dtype}")
        if not torch.isfinite(image).all() or image.min() < 0 or image.max() > 1:
            raise ValueError(f"{name}: float pixels must be finite and in [0, 1]")
    return image
