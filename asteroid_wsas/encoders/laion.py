"""LAION-CLAP ``.pt`` checkpoints -> ``transformers.ClapModel``, without ``laion_clap``.

``laion_clap`` fetches three tokenizers from the hub when imported and pins ``numpy<2``, so
its checkpoints are read here as plain state dicts: keys are renamed onto transformers'
layout (HTSAT's fused ``qkv`` split into query / key / value), training-only parts are
dropped, and the ``ClapConfig`` is inferred from the tensor shapes. The mapping was checked
against ``laion_clap`` 1.1.7 models (``tests/encoders/test_laion.py``).
"""

import os
import re
from typing import Dict, Tuple, Union

import torch
from transformers import ClapConfig, ClapModel

# Parts of a LAION checkpoint that ClapModel does not have: the waveform -> mel front end
# (done by the feature extractor / ClapEncoder), the AudioSet classifier head, the
# "transform" MLPs of LAION's training losses, and buffers transformers rebuilds itself.
DROPPED = (
    r"^audio_branch\.spectrogram_extractor\.",
    r"^audio_branch\.logmel_extractor\.",
    r"^audio_branch\.tscam_conv\.",
    r"^audio_branch\.head\.",
    r"^(text|audio)_transform\.",
    r"\.attn_mask$",
    r"^text_branch\.embeddings\.position_ids$",
)

# Renames inside the audio encoder's Swin blocks (LAION name -> transformers name).
BLOCK_RENAMES = (
    (".norm1.", ".layernorm_before."),
    (".norm2.", ".layernorm_after."),
    (".attn.proj.", ".attention.output.dense."),
    (".attn.relative_position", ".attention.self.relative_position"),
    (".mlp.fc1.", ".intermediate.dense."),
    (".mlp.fc2.", ".output.dense."),
)


def unwrap_checkpoint(checkpoint: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The model state dict of a LAION checkpoint, without DDP's ``module.`` prefix.

    Args:
        checkpoint: ``torch.load`` of the ``.pt`` file: a training checkpoint with a
            ``state_dict`` entry, or a bare state dict.

    Returns:
        dict: parameter name -> tensor.
    """
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, dict) or "logit_scale_a" not in {_strip(k) for k in state}:
        raise ValueError("checkpoint does not look like a LAION-CLAP model (no logit_scale_a)")
    return {_strip(k): v for k, v in state.items()}


def convert_state_dict(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename a LAION-CLAP state dict onto ``transformers.ClapModel``'s.

    Args:
        state: LAION state dict (``unwrap_checkpoint``'s output).

    Returns:
        dict: ``ClapModel`` state dict.

    Examples:
        >>> w = torch.randn(6, 2)
        >>> out = convert_state_dict({"audio_branch.layers.0.blocks.0.attn.qkv.weight": w})
        >>> sorted(k.split(".")[-2] for k in out)
        ['key', 'query', 'value']
    """
    out = {}
    for key, value in state.items():
        if any(re.search(pattern, key) for pattern in DROPPED):
            continue
        new = _rename(key)
        if new.endswith((".attn.qkv.weight", ".attn.qkv.bias")):
            stem, kind = new.rsplit(".attn.qkv.", 1)
            for name, part in zip(("query", "key", "value"), value.chunk(3, dim=0)):
                out[f"{stem}.attention.self.{name}.{kind}"] = part
        else:
            out[new] = value
    return out


def infer_config(state: Dict[str, torch.Tensor]) -> ClapConfig:
    """Build the ``ClapConfig`` of a LAION-CLAP state dict from its tensor shapes.

    Args:
        state: LAION state dict (``unwrap_checkpoint``'s output).

    Returns:
        ClapConfig: RoBERTa text tower + HTSAT audio tower matching the weights.
    """
    words = state["text_branch.embeddings.word_embeddings.weight"]
    text_layers = _count(state, r"^text_branch\.encoder\.layer\.(\d+)\.")
    hidden = words.shape[1]
    text_config = dict(
        vocab_size=words.shape[0],
        hidden_size=hidden,
        num_hidden_layers=text_layers,
        num_attention_heads=hidden // 64,  # RoBERTa / BERT heads are 64 wide
        intermediate_size=state["text_branch.encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=state["text_branch.embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=state["text_branch.embeddings.token_type_embeddings.weight"].shape[0],
    )

    proj = state["audio_branch.patch_embed.proj.weight"]
    n_stages = _count(state, r"^audio_branch\.layers\.(\d+)\.")
    depths = [
        _count(state, rf"^audio_branch\.layers\.{i}\.blocks\.(\d+)\.") for i in range(n_stages)
    ]
    heads = [
        state[f"audio_branch.layers.{i}.blocks.0.attn.relative_position_bias_table"].shape[1]
        for i in range(n_stages)
    ]
    table = state["audio_branch.layers.0.blocks.0.attn.relative_position_bias_table"].shape[0]
    window = (int(round(table**0.5)) + 1) // 2  # the table has (2w - 1)^2 rows
    dim = proj.shape[0]
    fusion = "audio_branch.patch_embed.mel_conv2d.weight" in state
    audio_config = dict(
        patch_embeds_hidden_size=dim,
        depths=depths,
        num_attention_heads=heads,
        window_size=window,
        hidden_size=state["audio_branch.norm.weight"].shape[0],
        patch_size=proj.shape[-1],
        patch_stride=[proj.shape[-2], proj.shape[-1]],
        mlp_ratio=state["audio_branch.layers.0.blocks.0.mlp.fc1.weight"].shape[0] / dim,
        num_mel_bins=state["audio_branch.bn0.weight"].shape[0],
        enable_fusion=fusion,
        fusion_type="aff_2d" if fusion else None,
    )
    return ClapConfig(
        text_config=text_config,
        audio_config=audio_config,
        projection_dim=state["text_projection.0.weight"].shape[0],
    )


def load_laion_clap(
    checkpoint: Union[str, os.PathLike, Dict[str, torch.Tensor]], trust_checkpoint: bool = False
) -> ClapModel:
    """Load a LAION-CLAP checkpoint as a ``transformers.ClapModel`` (eval mode).

    Args:
        checkpoint: Path to the ``.pt`` file, or its loaded content.
        trust_checkpoint: Load with ``weights_only=False`` (can run code from the file). Only
            needed for checkpoints that store non-tensor Python objects.

    Returns:
        ClapModel: with every weight taken from the checkpoint.

    Raises:
        ValueError: If the checkpoint's tensors do not fill the model exactly.
    """
    if not isinstance(checkpoint, dict):
        path = os.fspath(checkpoint)
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=not trust_checkpoint)
        except Exception as err:  # the weights-only unpickler raises several types
            if trust_checkpoint:
                raise
            raise ValueError(
                f"{path} could not be read with weights_only=True ({err}). If you trust the "
                "file, pass trust_checkpoint=True."
            ) from err
    state = unwrap_checkpoint(checkpoint)
    model = ClapModel(infer_config(state)).eval()
    missing, unexpected = _load(model, convert_state_dict(state))
    if missing or unexpected:
        raise ValueError(
            f"LAION checkpoint does not match ClapModel: missing {missing[:5]} "
            f"({len(missing)}), unexpected {unexpected[:5]} ({len(unexpected)})"
        )
    return model


def _load(model: ClapModel, state: Dict[str, torch.Tensor]) -> Tuple[list, list]:
    # Buffers that transformers derives itself may be absent from old checkpoints.
    derived = ("position_ids", "token_type_ids")
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith(derived)]
    return missing, list(result.unexpected_keys)


def _strip(key: str) -> str:
    return key[len("module.") :] if key.startswith("module.") else key


def _rename(key: str) -> str:
    if key.startswith("text_branch."):
        return "text_model." + key[len("text_branch.") :]
    if key.startswith(("text_projection.", "audio_projection.")):
        head, index, rest = key.split(".", 2)
        return f"{head}.linear{1 if index == '0' else 2}.{rest}"
    if key.startswith("audio_branch."):
        key = "audio_model.audio_encoder." + key[len("audio_branch.") :]
        key = key.replace(".bn0.", ".batch_norm.")
        for old, new in BLOCK_RENAMES:
            key = key.replace(old, new)
    return key


def _count(state: Dict[str, torch.Tensor], pattern: str) -> int:
    indices = {int(m.group(1)) for k in state for m in [re.match(pattern, k)] if m}
    return max(indices) + 1 if indices else 0
