"""Datasets in their public layouts, mixers, fixed test sets and generated data."""

from .audiocaps import AudioCapsDataset
from .manifest import CaptionManifest
from .mixing import (
    CLEAN_FRACTIONS,
    LabeledSourceMixtures,
    SoloEntry,
    clean_fraction_split,
    mixture_of_mixtures,
)
from .music import MUSICDataset, music_solos
from .synthetic import SOUND_CLASSES, SyntheticCaptionedMixtures
from .testsets import (
    TestSetDataset,
    assert_disjoint,
    build_test_set,
    caption_candidates,
    read_manifest,
    solo_candidates,
    write_manifest,
)
from .vggsound import VGGSoundDataset, vggsound_clips

__all__ = [
    "AudioCapsDataset",
    "MUSICDataset",
    "VGGSoundDataset",
    "CaptionManifest",
    "SyntheticCaptionedMixtures",
    "SOUND_CLASSES",
    "LabeledSourceMixtures",
    "SoloEntry",
    "CLEAN_FRACTIONS",
    "clean_fraction_split",
    "mixture_of_mixtures",
    "music_solos",
    "vggsound_clips",
    "TestSetDataset",
    "build_test_set",
    "solo_candidates",
    "caption_candidates",
    "write_manifest",
    "read_manifest",
    "assert_disjoint",
]
