"""Sound events of the AudioCaps layout: their classes and phrases, captions and clips.

An event class renders from the soundfont's sound effects, an instrument or speech; a clip
is a natural mixture of 1 to 4 events with a caption written from their phrases in onset
order.
"""

from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from .instruments import INSTRUMENTS
from .notes import held, melody, rings, sparse_hits
from .speech import speak
from .synth import Note, Renderer, _normalise, room


@dataclass(frozen=True)
class EventClass:
    """A sound event of the AudioCaps-layout generator: phrases and a renderer.

    ``phrases`` are written as present-tense clauses ("A telephone rings"); ``background``
    events (drones) tend to last the whole clip, the others cover part of it.
    """

    label: str
    phrases: Tuple[str, ...]
    background: bool
    make: Callable[[Renderer, np.random.Generator, float], np.ndarray]


def _fx(program: int, notes: Callable[[np.random.Generator, float], List[Note]]):
    def make(renderer, rng, seconds):
        return room(
            renderer.render(program, notes(rng, seconds), seconds), rng, renderer.sample_rate
        )

    return make


def _instrument(label: str):
    return lambda renderer, rng, seconds: INSTRUMENTS[label].render(renderer, rng, seconds)


def _speech(female: bool):
    return lambda renderer, rng, seconds: speak(rng, female, seconds, renderer.sample_rate)


EVENT_CLASSES: Dict[str, EventClass] = {
    e.label: e
    for e in [
        EventClass("man", ("A man speaks", "A man talks", "A man is speaking"), False, _speech(0)),
        EventClass(
            "woman", ("A woman speaks", "A woman talks", "A woman is speaking"), False, _speech(1)
        ),
        EventClass(
            "birds",
            ("Birds chirp", "A bird sings", "Birds are chirping"),
            False,
            _fx(123, lambda r, s: sparse_hits(r, range(60, 90), s, (1.0, 3.0), 0.4)),
        ),
        EventClass(
            "telephone",
            ("A telephone rings", "A phone rings"),
            False,
            _fx(124, lambda r, s: rings(r, int(r.integers(64, 80)), s)),
        ),
        EventClass(
            "helicopter",
            ("A helicopter flies overhead", "A helicopter engine roars"),
            True,
            _fx(125, lambda r, s: held(r, range(50, 70), s)),
        ),
        EventClass(
            "applause",
            ("People applaud", "A crowd claps", "An audience applauds"),
            True,
            _fx(126, lambda r, s: held(r, range(55, 70), s)),
        ),
        EventClass(
            "waves",
            ("Waves crash on the shore", "Ocean waves roll in"),
            True,
            _fx(122, lambda r, s: held(r, range(45, 70), s)),
        ),
        EventClass(
            "gunshots",
            ("Gunshots fire", "A gun is fired repeatedly"),
            False,
            _fx(127, lambda r, s: sparse_hits(r, range(45, 70), s, (0.7, 2.0), 0.6)),
        ),
        EventClass(
            "piano", ("A piano plays", "Someone plays the piano"), False, _instrument("piano")
        ),
        EventClass(
            "guitar",
            ("A guitar is strummed", "An acoustic guitar plays"),
            False,
            _instrument("acoustic_guitar"),
        ),
        EventClass(
            "violin", ("A violin plays", "A fiddle is played"), False, _instrument("violin")
        ),
        EventClass("drums", ("Drums beat", "A drummer plays a beat"), False, _instrument("drum")),
        EventClass(
            "bell",
            ("A bell rings", "Church bells ring"),
            False,
            _fx(14, lambda r, s: sparse_hits(r, range(55, 75), s, (0.4, 1.0), 2.0)),
        ),
        EventClass(
            "whistle",
            ("Someone whistles a tune", "A person whistles"),
            False,
            _fx(78, lambda r, s: melody(r, 72, 96, s, legato=True)),
        ),
    ]
}

# how one clause joins the next, by their timing (each keeps split_caption's cuts)
_OVERLAP = (" while ", " as ", " and ")
_AFTER = (" and then ", ", then ", " before ", ", and later ")


def write_caption(phrases: Sequence[str], spans: Sequence[Tuple[float, float]], rng) -> str:
    """One caption for events in onset order: overlapping events join with "while", "as" or
    "and", later ones with "and then", "then", "before" or "and later".

    Examples:
        >>> write_caption(["A man speaks", "A phone rings"], [(0, 2), (3, 4)],
        ...               np.random.default_rng(1))
        'A man speaks, then a phone rings'
    """
    text = phrases[0]
    for k in range(1, len(phrases)):
        overlap = spans[k][0] < max(stop for _, stop in spans[:k])
        joiner = str(rng.choice(_OVERLAP if overlap else _AFTER))
        text += joiner + phrases[k][0].lower() + phrases[k][1:]
    return text


def _event_span(rng, background: bool, seconds: float) -> Tuple[float, float]:
    if background or rng.random() < 0.35:
        return 0.0, seconds
    length = rng.uniform(0.4, 0.8) * seconds
    start = rng.uniform(0, seconds - length)
    return float(start), float(start + length)


def render_clip(
    renderer: Renderer,
    rng: np.random.Generator,
    seconds: float,
    n_events: int,
    classes: Sequence[str],
) -> dict:
    """One natural mixture: ``n_events`` events of distinct classes with their spans.

    Returns:
        dict: ``events`` (n, T) scaled clean events summing to ``mixture`` (T,), ``labels``,
        ``phrases``, ``spans`` (seconds) and ``caption``, events in onset order.
    """
    sr = renderer.sample_rate
    n = int(round(seconds * sr))
    labels = [str(x) for x in rng.choice(list(classes), size=n_events, replace=False)]
    drawn = []
    for label in labels:
        event = EVENT_CLASSES[label]
        start, stop = _event_span(rng, event.background, seconds)
        wave = _normalise(event.make(renderer, rng, stop - start))
        ramp = min(int(0.02 * sr), len(wave) // 2)
        if ramp:  # no click where the event starts or stops
            fade = np.linspace(0, 1, ramp, dtype=np.float32)
            wave[:ramp] *= fade
            wave[-ramp:] *= fade[::-1]
        full = np.zeros(n, np.float32)
        a = int(round(start * sr))
        full[a : a + len(wave)] = wave[: n - a]
        gain = 10 ** (rng.uniform(-8, 0) / 20)  # foreground and background levels
        drawn.append((start, stop, label, str(rng.choice(event.phrases)), full * gain))
    drawn.sort(key=lambda d: (d[0], d[1]))
    events = np.stack([d[4] for d in drawn])
    peak = float(np.abs(events.sum(0)).max())
    if peak > 0.99:
        events *= 0.99 / peak
    phrases = [d[3] for d in drawn]
    spans = [(d[0], d[1]) for d in drawn]
    return {
        "events": events,
        "mixture": events.sum(0),
        "labels": [d[2] for d in drawn],
        "phrases": phrases,
        "spans": spans,
        "caption": write_caption(phrases, spans, rng),
    }
