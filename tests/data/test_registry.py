"""The recipes' datasets by name: lookup, layouts, registration errors."""

import pytest

from asteroid_wsas.data import DATASETS, RecipeData, get_dataset, register_dataset
from asteroid_wsas.data.synthetic import write_music_layout


def test_every_public_layout_is_registered_with_its_protocol():
    assert {n: c.test_passes for n, c in DATASETS.items()} == {
        "music": 10,
        "vggsound": 2,
        "audiocaps": 1,
    }
    assert DATASETS["music"].clean_sources and not DATASETS["audiocaps"].clean_sources
    with pytest.raises(ValueError, match="data.dataset must be one of"):
        get_dataset({"dataset": "esc50"})


def test_a_dataset_builds_itself_from_its_config_block(tmp_path):
    write_music_layout(str(tmp_path), videos_per_class=5, seconds=0.5, sample_rate=8000)
    data = {"dataset": "music", "root": str(tmp_path), "sample_rate": 8000, "segment": 0.5}
    data["test_fraction"] = 0.2  # one of the 5 recordings per class
    music = get_dataset(data)
    train, test = music.solos("train"), music.solos("test")
    assert train and test and not {e.video_id for e in train} & {e.video_id for e in test}
    assert len(music.candidates("test")) == len(test)
    item = music.mixtures("train", n_sources=3)[0]
    assert item["mixture"].shape == (4000,) and len(item["phrases"]) == 3
    clean, rest = music.clean_split(0.2, min_classes=2)
    assert len(clean) >= 2 and not {e.video_id for e in clean} & {e.video_id for e in rest}
    with pytest.raises(FileNotFoundError, match="MUSIC_solo_videos.json"):
        get_dataset({**data, "root": str(tmp_path / "audio")}).paths()


def test_registration_needs_a_subclass_with_a_free_name():
    class Nameless(RecipeData):
        pass

    with pytest.raises(TypeError, match="must subclass RecipeData and set name"):
        register_dataset(Nameless)

    class Other(RecipeData):
        name = "music"

    with pytest.raises(ValueError, match="dataset 'music' is already registered"):
        register_dataset(Other)
