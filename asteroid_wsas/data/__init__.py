"""Datasets in their public layouts, mixers, fixed test sets and generated data."""

from .audiocaps import (
    AudioCapsData,
    AudioCapsDataset,
    caption_candidates,
    event_test_set,
    read_events,
)
from .augment import SoloAugment
from .frames import FrameStore, MissingFrames, UnreadableFrames, load_image
from .loader import ResumableLoader, ResumableSampler
from .manifest import CaptionManifest
from .mixing import (
    CLEAN_FRACTIONS,
    JoinedMixtures,
    LabeledSourceMixtures,
    MixtureGroups,
    SingleSources,
    SoloEntry,
    WithFixedPhrases,
    clean_fraction_split,
    clean_mixtures,
    collate_groups,
    mixture_of_mixtures,
    shared_sources,
    source_keys,
    split_sources,
)
from .music import MUSICData, MUSICDataset, music_solos
from .synthetic import SOUND_CLASSES, SyntheticCaptionedMixtures
from .testsets import (
    TestSetDataset,
    assert_disjoint,
    build_test_set,
    collate_test_items,
    read_manifest,
    solo_candidates,
    write_manifest,
)
from .registry import (
    DATASETS,
    LabelledSolos,
    RecipeData,
    get_dataset,
    get_dataset_class,
    register_dataset,
)
from .vggsound import VGGSoundData, VGGSoundDataset, vggsound_clips

__all__ = [
    "DATASETS",
    "RecipeData",
    "LabelledSolos",
    "register_dataset",
    "get_dataset",
    "get_dataset_class",
    "MUSICData",
    "VGGSoundData",
    "AudioCapsData",
    "AudioCapsDataset",
    "MUSICDataset",
    "VGGSoundDataset",
    "CaptionManifest",
    "ResumableLoader",
    "ResumableSampler",
    "SyntheticCaptionedMixtures",
    "SOUND_CLASSES",
    "LabeledSourceMixtures",
    "SoloAugment",
    "SoloEntry",
    "CLEAN_FRACTIONS",
    "clean_fraction_split",
    "JoinedMixtures",
    "mixture_of_mixtures",
    "MixtureGroups",
    "collate_groups",
    "source_keys",
    "shared_sources",
    "clean_mixtures",
    "split_sources",
    "WithFixedPhrases",
    "SingleSources",
    "music_solos",
    "vggsound_clips",
    "TestSetDataset",
    "build_test_set",
    "solo_candidates",
    "caption_candidates",
    "event_test_set",
    "read_events",
    "write_manifest",
    "read_manifest",
    "assert_disjoint",
    "collate_test_items",
    "FrameStore",
    "UnreadableFrames",
    "MissingFrames",
    "load_image",
]
