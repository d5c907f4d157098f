"""Augmentation of training solos (data.augment) and training clips longer than the test
mixtures (data.train_segment)."""

import math

import numpy as np
import pytest
import torch

from asteroid_wsas.data import MUSICDataset, SoloAugment, get_dataset
from asteroid_wsas.data.augment import room_response, stretch_and_shift

RATE = 8000
ALL_ON = {"pitch_prob": 1.0, "stretch_prob": 1.0, "room_prob": 1.0}


def _tone(freq: float, seconds: float = 1.0, start: float = 0.0, stop: float = None):
    t = torch.arange(int(seconds * RATE)) / RATE
    on = (t >= start) & (t < (seconds if stop is None else stop))
    return torch.sin(2 * math.pi * freq * t) * on


def _peak_hz(wav: torch.Tensor) -> float:
    spectrum = torch.fft.rfft(wav * torch.hann_window(wav.shape[-1])).abs()
    return float(spectrum.argmax()) * RATE / wav.shape[-1]


def _onset_and_length(wav: torch.Tensor):
    """Where a tone burst starts and how long it lasts (s): its 10 ms envelope above half."""
    frame = RATE // 100
    env = wav[: wav.shape[0] // frame * frame].abs().unflatten(0, (-1, frame)).amax(1)
    on = torch.nonzero(env > env.max() / 2).flatten()
    return float(on[0]) / 100, float(on[-1] - on[0] + 1) / 100


def _music(root: str, augment=None, segment: float = 0.5, train: bool = True, **kwargs):
    return MUSICDataset(
        f"{root}/MUSIC_solo_videos.json",
        f"{root}/audio",
        segment=segment,
        sample_rate=RATE,
        train=train,
        augment=augment,
        **kwargs,
    )


def _same(a: dict, b: dict) -> bool:
    return (
        a["ids"] == b["ids"]
        and torch.equal(a["mixture"], b["mixture"])
        and torch.equal(a["sources"], b["sources"])
    )


def test_pitch_shift_moves_a_tone_by_its_ratio_and_keeps_the_length():
    tone = _tone(440.0)
    for semitones in (-3.0, 5.0):
        shifted = stretch_and_shift(tone, RATE, ratio=2 ** (semitones / 12))
        assert abs(shifted.shape[0] - tone.shape[0]) <= 1
        # the resampling ratio is rounded to hundredths: within 1 % of the asked one
        assert _peak_hz(shifted) / 440.0 == pytest.approx(2 ** (semitones / 12), rel=0.01)


def test_time_stretch_moves_onsets_and_durations_and_keeps_the_pitch():
    burst = _tone(440.0, seconds=1.0, start=0.3, stop=0.5)
    slow = stretch_and_shift(burst, RATE, rate=0.5)
    assert slow.shape[0] == 2 * burst.shape[0]
    (onset, length), (onset2, length2) = _onset_and_length(burst), _onset_and_length(slow)
    assert onset == pytest.approx(0.3, abs=0.015) and length == pytest.approx(0.2, abs=0.015)
    # the vocoder's 32 ms window blurs each edge by a few tens of milliseconds
    assert onset2 == pytest.approx(0.6, abs=0.04) and length2 == pytest.approx(0.4, abs=0.06)
    assert _peak_hz(slow[int(0.65 * RATE) : int(0.95 * RATE)]) == pytest.approx(440.0, rel=0.02)


def test_a_room_response_decays_by_60_db_over_its_rt60():
    rt60 = 0.4
    h = room_response(np.random.default_rng(0), RATE, rt60, drr_db=0.0)
    assert h.shape == (int(rt60 * RATE),) and float(h.square().sum()) == pytest.approx(1.0)
    assert h.dtype == torch.float32 and float(h[0]) == float(h.abs().max())  # the direct path
    quarter = int(rt60 * RATE / 4)
    first, second = (float(h[k * quarter + 1 : (k + 1) * quarter].square().sum()) for k in (0, 1))
    # -60 dB over rt60: a quarter of it later, 15 dB less energy
    assert 10 * math.log10(first / second) == pytest.approx(15.0, abs=2.0)
    tail = float(h[1:].square().sum())
    assert 10 * math.log10(float(h[0]) ** 2 / tail) == pytest.approx(0.0, abs=1e-3)


def test_a_room_lengthens_the_decay_of_a_burst():
    burst = _tone(440.0, seconds=1.0, start=0.1, stop=0.3)
    room = SoloAugment(room_prob=1.0, room_rt60=(0.5, 0.5))
    wet = room(burst, np.random.default_rng(0), RATE, RATE)
    after = slice(int(0.35 * RATE), int(0.6 * RATE))
    assert float(burst[after].abs().max()) == 0.0
    assert 10 * math.log10(float(wet[after].square().sum()) / float(wet.square().sum())) > -30


def test_augmented_sources_keep_length_and_dtype_and_are_drawn_from_the_seed():
    wav = _tone(300.0, seconds=1.1)  # a stretch of up to 1.1 reads 1.1 x the clip
    augment = SoloAugment(**ALL_ON)
    assert augment.read_seconds(1.0) == pytest.approx(1.1)
    out = augment(wav, np.random.default_rng(7), RATE, RATE)
    assert out.shape == (RATE,) and out.dtype == wav.dtype and torch.isfinite(out).all()
    assert torch.equal(out, augment(wav, np.random.default_rng(7), RATE, RATE))
    assert not torch.allclose(out, augment(wav, np.random.default_rng(8), RATE, RATE))
    off = SoloAugment()  # every probability 0: the clip itself
    assert off.read_seconds(1.0) == 1.0
    assert torch.equal(off(wav[:RATE], np.random.default_rng(7), RATE, RATE), wav[:RATE])


def test_augmentation_off_gives_the_items_of_before(music_root):
    before = _music(music_root)
    for off in (_music(music_root, None), _music(music_root, SoloAugment())):
        for index in (0, 3):
            assert _same(before[index], off[index])
    listed = {"dataset": "music", "root": music_root, "sample_rate": RATE, "segment": 0.5}
    absent = get_dataset(listed).mixtures("train", return_sources=True)
    null = get_dataset({**listed, "augment": None}).mixtures("train", return_sources=True)
    assert absent.augment is None and null.augment is None
    assert _same(absent[2], null[2])


def test_augmentation_on_changes_the_audio_not_the_draws_and_mixes_what_it_returns(music_root):
    before, on = _music(music_root), _music(music_root, SoloAugment(**ALL_ON))
    for index in (0, 5):
        plain, item = before[index], on[index]
        assert item["ids"] == plain["ids"]  # the same partners
        assert item["sources"].shape == plain["sources"].shape == (2, RATE // 2)
        assert item["sources"].dtype == plain["sources"].dtype == torch.float32
        assert not torch.allclose(item["sources"], plain["sources"], atol=1e-3)
        assert torch.allclose(item["sources"].sum(0), item["mixture"])
        assert _same(item, _music(music_root, SoloAugment(**ALL_ON))[index])  # reproducible
    on.set_epoch(1)
    assert not torch.equal(
        on[0]["mixture"], _music(music_root, SoloAugment(**ALL_ON))[0]["mixture"]
    )


def test_evaluation_items_are_never_augmented(music_root):
    plain = _music(music_root, train=False)
    asked = _music(music_root, SoloAugment(**ALL_ON), train=False)
    assert asked.augment is None and _same(plain[1], asked[1])


def test_the_gain_range_is_set_by_the_block(music_root):
    loud = _music(music_root, SoloAugment(gain=(2.0, 2.0)), n_sources=1)[4]["mixture"]
    unit = _music(music_root, SoloAugment(gain=(1.0, 1.0)), n_sources=1)[4]["mixture"]
    assert torch.allclose(loud, (2 * unit).clamp(-1, 1))  # one solo: the crop times its gain
    assert not torch.allclose(unit, _music(music_root, n_sources=1)[4]["mixture"])


@pytest.mark.parametrize(
    "block, message",
    [
        ({"pitch_prob": 1.5}, "data.augment.pitch_prob must be a number from 0 to 1, got 1.5"),
        ({"room_prob": -0.1}, "data.augment.room_prob must be a number from 0 to 1"),
        ({"stretch_rate": [1.2, 0.9]}, "data.augment.stretch_rate must be [low, high]"),
        ({"stretch_rate": [0.2, 1.0]}, "data.augment.stretch_rate must be [low, high]"),
        ({"pitch_semitones": 3}, "data.augment.pitch_semitones must be [low, high]"),
        ({"room_rt60": [0, 0.5]}, "data.augment.room_rt60 must be [low, high] with 0 < low"),
        ({"gain": [-1, 1]}, "data.augment.gain must be [low, high]"),
        ({"pich_prob": 0.5}, "unknown key 'data.augment.pich_prob'; did you mean"),
        ([0.5], "data.augment must be a mapping"),
    ],
)
def test_bad_augmentation_values_are_refused_by_name(block, message):
    with pytest.raises(ValueError) as err:
        SoloAugment.from_conf(block)
    assert message in str(err.value)


def test_training_clips_can_be_longer_than_the_test_mixtures(music_root):
    data = {"dataset": "music", "root": music_root, "sample_rate": RATE, "segment": 0.5}
    dataset = get_dataset({**data, "train_segment": 1.0})
    train = dataset.mixtures("train", return_sources=True)
    assert train[0]["mixture"].shape == (RATE,) and train[0]["sources"].shape == (2, RATE)
    assert dataset.mixtures("val").segment == 0.5 and dataset.segment("test") == 0.5
    assert get_dataset(data).mixtures("train").segment == 0.5  # unset: data.segment
