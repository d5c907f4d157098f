"""Realistic sounds rendered offline from sampled instruments and a speech synthesiser.

The beeps of :mod:`~asteroid_wsas.data.synthetic` are easy to tell apart; real recordings
are not. This module renders recordings from sources a fresh machine can install from its
OS packages, with no download at run time:

- **instruments** from a General MIDI soundfont (sampled recordings of real instruments,
  FluidR3_GM by default) played by FluidSynth: random melodies, chords, arpeggios and drum
  patterns in each instrument's range, with a register, key, scale, tempo, dynamics
  (velocity contour) and room (reverberation) drawn per recording, and 1 to 3 presets per
  class (e.g. nylon / steel guitar) so that a class is not one timbre;
- **environmental events** from the same soundfont's recorded sound effects (birds,
  telephone, helicopter, applause, sea shore, gunshots) and instruments;
- **speech** from espeak-ng (male and female voices, random sentences, pitch and speed).

Three public layouts are written: MUSIC's (:func:`write_rendered_music_layout`, solo
"videos" of 17 of MUSIC21's instrument classes), AudioCaps' (
:func:`write_rendered_audiocaps_layout`, natural mixtures of 1 to 4 events with a written
caption, plus every clean event and its phrase for phrase-level scoring) and VGGSound's
(:func:`write_rendered_vggsound_layout`, single-event clips of the same 14 event classes
under VGGSound's labels).

Install (Debian / Ubuntu): ``apt-get install fluidsynth fluid-soundfont-gm espeak-ng``;
:func:`check_tools` names what is missing in one line. Everything is deterministic given
the seed and the soundfont file (recorded in the layout's ``generator.json``).

The package's rooms: :mod:`.synth` (tools, soundfont, :class:`Renderer`, room and level),
:mod:`.notes` (note makers), :mod:`.instruments` (:data:`INSTRUMENTS`), :mod:`.speech`
(espeak-ng), :mod:`.events` (:data:`EVENT_CLASSES`, captions, clips) and :mod:`.layouts`
(the three writers). Every name is importable from here.
"""

from .events import EVENT_CLASSES, EventClass, render_clip, write_caption
from .instruments import INSTRUMENTS, Instrument, NoteMaker
from .layouts import (
    VGGSOUND_LABELS,
    write_rendered_audiocaps_layout,
    write_rendered_music_layout,
    write_rendered_vggsound_layout,
)
from .notes import SCALES, chords, drum_pattern, held, melody, rings, sparse_hits
from .speech import sentence, speak
from .synth import (
    DRUMS,
    INSTALL_HINT,
    SOUNDFONTS,
    MissingTool,
    Note,
    PathLike,
    Renderer,
    check_tools,
    find_soundfont,
    room,
)

__all__ = [
    "DRUMS",
    "EVENT_CLASSES",
    "INSTALL_HINT",
    "INSTRUMENTS",
    "SCALES",
    "SOUNDFONTS",
    "VGGSOUND_LABELS",
    "EventClass",
    "Instrument",
    "MissingTool",
    "Note",
    "NoteMaker",
    "PathLike",
    "Renderer",
    "check_tools",
    "chords",
    "drum_pattern",
    "find_soundfont",
    "held",
    "melody",
    "render_clip",
    "rings",
    "room",
    "sentence",
    "sparse_hits",
    "speak",
    "write_caption",
    "write_rendered_audiocaps_layout",
    "write_rendered_music_layout",
    "write_rendered_vggsound_layout",
]
