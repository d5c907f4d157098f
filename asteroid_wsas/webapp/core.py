"""The web page's work, without Gradio: the queries a request asks, the upload's checks,
the separation (:func:`separate_upload`), its pictures and zip, the per-request folders
(:class:`Workspace`) and the model the page serves. Tested on its own; :mod:`.page` lays it
out and :mod:`.server` serves it.

Examples:
    >>> from asteroid_wsas.webapp import parse_queries
    >>> parse_queries("a violin\\n\\n a piano ", max_queries=4)
    ['a violin', 'a piano']
"""

import atexit
import os
import shutil
import tempfile
import time
import uuid
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, List, Optional, Union

import numpy as np
import torch

from ..separation.contract import QueryWarning, ScaleWarning
from ..utils import atomic_path, query_slug

DEFAULT_MAX_MB = 50.0
DEFAULT_MAX_QUERIES = 6
SILENCE = 1e-5  # peak below which the input counts as silent


class PageError(ValueError):
    """A problem with what the user gave: shown on the page as one line."""


@dataclass
class PageResult:
    """What one separation on the page produced (files in the request's own folder).

    Attributes:
        names: Per output: the query, or ``"residual"``.
        audio: Per output: its WAV file (the input's rate, length and channels).
        images: Per output: a PNG of the input's spectrogram next to the output's.
        scores: Per output: one line with its presence score and level.
        mixture_image: PNG of the input's spectrogram.
        sample_rate: The input's rate.
        length: The input's length in samples.
        info: The input's length, rate and channels, for the status line.
        extras: What the separator returned besides (e.g. a MixIT model's outputs).
        warnings: Queries the encoder cannot read or tell apart (shown on the page).
        drawn: Whether ``images`` and ``mixture_image`` are written yet
            (:func:`draw_pictures`).
        archive: The zip of every WAV and PNG once :func:`make_archive` built it.
    """

    names: List[str]
    audio: List[str]
    images: List[str]
    scores: List[str]
    mixture_image: str
    sample_rate: int
    length: int
    info: str = ""
    extras: dict = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)
    drawn: bool = False
    archive: Optional[str] = None
    # (png, wave, title) still to draw, and the STFT hop: kept until draw_pictures
    pending: list = field(default_factory=list, repr=False)
    hop: int = 128

    @property
    def files(self) -> List[str]:
        """Every file of the result that exists: the WAVs, then the PNGs once drawn."""
        return self.audio + (self.images + [self.mixture_image] if self.drawn else [])


class Workspace:
    """Temporary files of the page: one fresh folder per request, so that two users never
    share a file; folders older than ``keep_seconds`` are removed at each new request and
    everything at exit.

    Args:
        root: Parent folder (default: a new folder in the system's temporary directory).
        keep_seconds: How long a request's files stay available for download.

    Attributes:
        cache: Where :func:`serve` has Gradio keep its copies of uploads and results
            (``root/gradio``): Gradio ages them itself, and they go with ``root``.
    """

    def __init__(self, root: Optional[str] = None, keep_seconds: float = 3600.0):
        self.root = Path(root or tempfile.mkdtemp(prefix="asteroid-wsas-page-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.cache = self.root / "gradio"
        self.keep_seconds = float(keep_seconds)
        atexit.register(self.close)

    def new_request(self) -> Path:
        """A new, empty folder for one request (older ones are cleaned first)."""
        self.clean()
        folder = self.root / uuid.uuid4().hex
        folder.mkdir()
        return folder

    def clean(self, now: Optional[float] = None) -> int:
        """Remove request folders older than ``keep_seconds``; returns how many."""
        now = time.time() if now is None else now
        removed = 0
        for folder in self.root.iterdir():
            if folder == self.cache:  # Gradio's, in use as long as the server runs
                continue
            if folder.is_dir() and now - folder.stat().st_mtime > self.keep_seconds:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    def close(self) -> None:
        """Remove every file of the page."""
        shutil.rmtree(self.root, ignore_errors=True)


def parse_queries(
    text: Optional[str], max_queries: int = DEFAULT_MAX_QUERIES, example: str = ""
) -> List[str]:
    """The queries typed on the page: one per line, blank lines ignored.

    Args:
        text: What was typed.
        max_queries: Most queries accepted.
        example: A query the model can answer, quoted in the no-query message
            (:func:`model_hints`); none quoted when empty.

    Raises:
        PageError: No query, too many, or two that give the same file name.
    """
    queries = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not queries:
        hint = f", e.g. '{example}'" if example else ""
        raise PageError(f"Type at least one query (one per line){hint}.")
    if len(queries) > max_queries:
        raise PageError(f"{len(queries)} queries: this page answers at most {max_queries}.")
    names = [query_slug(q) for q in queries]
    twins = sorted({q for q, n in zip(queries, names) if names.count(n) > 1})
    if twins:
        raise PageError(f"These queries are the same once written as file names: {twins}.")
    return queries


# words of the training prompts ("The sound of violin", "The sound mixture of a and b"):
# in a small encoder's vocabulary, but no answer to a query on their own
PROMPT_WORDS = frozenset("the sound of mixture and a an".split())
FREE_TEXT_EXAMPLES = ("a dog barks", "a piano plays")


@dataclass
class ModelHints:
    """What the page tells about the served model, taken from the model itself.

    Attributes:
        examples: Queries the model can answer (the placeholder and the no-query message's
            example): for a small encoder, its training prompt around words of its
            vocabulary; for an encoder of free text (CLAP, ...), plain phrases.
        words: The small encoder's content words (empty for free text).
        sample_rate: The rate the model runs at (0: no model).
        rate_note: One line: that rate, and what it means for the estimates' bandwidth.
    """

    examples: List[str]
    words: List[str] = field(default_factory=list)
    sample_rate: int = 0
    rate_note: str = ""

    @property
    def placeholder(self) -> str:
        """The queries box's placeholder: the examples, one per line."""
        return "\n".join(self.examples)

    @property
    def vocabulary_note(self) -> str:
        """One line listing the words a small encoder knows (empty for free text)."""
        if not self.words:
            return ""
        shown = ", ".join(self.words[:40]) + (", ..." if len(self.words) > 40 else "")
        return (
            f"This model's encoder knows {len(self.words)} words ({shown}); other words are "
            "all read as one unknown token."
        )


def model_hints(separator) -> ModelHints:
    """Example queries and the rate line for ``separator`` (None: no model loaded).

    A small encoder (:class:`~asteroid_wsas.encoders.tiny.TinyBimodalEncoder`) keeps its
    vocabulary, most frequent words first: the words of its training prompt come first
    ("the sound of"), then the labels. The examples put the two most frequent labels in that
    prompt ("The sound of violin"), in the form the model was trained on.

    Examples:
        >>> model_hints(demo_separator()).examples
        ['The sound of violin', 'The sound of piano']
        >>> print(model_hints(demo_separator(8000)).rate_note)
        This model runs at 8 kHz: the estimates hold nothing above 4 kHz (they are given back at the input's rate).
    """
    if separator is None:
        return ModelHints(list(FREE_TEXT_EXAMPLES))
    rate = int(separator.sample_rate)
    rate_note = (
        f"This model runs at {rate / 1000:g} kHz: the estimates hold nothing above "
        f"{rate / 2000:g} kHz (they are given back at the input's rate)."
    )
    vocab = getattr(separator.encoder, "vocab", None)
    if not vocab:  # free text: any phrase is read
        return ModelHints(list(FREE_TEXT_EXAMPLES), [], rate, rate_note)
    from ..encoders.tiny import SPECIALS

    known = set(vocab)
    content = [w for w in vocab if w not in SPECIALS and w not in PROMPT_WORDS]
    # the training prompt, as far as the vocabulary shows it
    if {"the", "sound", "of"} <= known:
        template = "The sound of {}"
    elif "a" in known:
        template = "a {}"
    else:
        template = "{}"
    return ModelHints([template.format(w) for w in content[:2]], content, rate, rate_note)


def _check_upload(path: Optional[str], max_mb: float) -> None:
    if not path:
        raise PageError("Upload or record some audio first.")
    if not os.path.isfile(path):
        raise PageError("The uploaded file is gone; upload it again.")
    size_mb = os.path.getsize(path) / 2**20
    if size_mb > max_mb:
        raise PageError(f"The file is {size_mb:.1f} MB; this page takes files up to {max_mb:g} MB.")


def _unreadable(name: str) -> PageError:
    # one line without the decoders' own wording ("[Errno 1094995529] Invalid data ...")
    return PageError(
        f"{name} is not readable audio: upload a sound file (WAV, FLAC, OGG, MP3, ...)."
    )


def check_audio_file(path: Optional[str]) -> str:
    """What the page says right after an upload: its length, rate and channels, or why it
    cannot be separated. Reads the header only (soundfile, else PyAV), so it is quick.

    Returns:
        str: One line (empty when nothing is uploaded).
    """
    if not path:
        return ""
    name = os.path.basename(path)
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return f"{name} is empty: upload a sound file (WAV, FLAC, OGG, MP3, ...)."
    import soundfile as sf

    try:
        info = sf.info(path)
        seconds, rate, channels = info.duration, info.samplerate, info.channels
    except Exception:  # soundfile raises its own error types: try PyAV's formats
        try:
            import av

            with av.open(path) as container:
                stream = container.streams.audio[0]  # IndexError: no sound in it
                rate, channels = stream.rate, stream.channels
                seconds = float(container.duration or 0) / 1e6  # in AV_TIME_BASE units
        except Exception:  # not installed, or not audio: same answer
            return str(_unreadable(name))
    if seconds <= 0 and rate:
        return f"{name} holds no samples: upload another file."
    return f"{name}: {seconds:.1f} s at {rate} Hz, {channels} channel(s)."


def separate_upload(
    separator,
    audio_path: Optional[str],
    queries_text: Optional[str],
    negative_text: Optional[str],
    residual: bool,
    folder: Union[str, os.PathLike],
    max_mb: float = DEFAULT_MAX_MB,
    max_queries: int = DEFAULT_MAX_QUERIES,
    progress: Optional[Callable[[float, str], Any]] = None,
    pictures: bool = True,
) -> PageResult:
    """Everything the page's "Separate" button does, without the page.

    Args:
        separator: A :class:`~asteroid_wsas.Separator`.
        audio_path: The uploaded or recorded file (any format soundfile reads; others
            through PyAV when installed).
        queries_text: Queries, one per line.
        negative_text: Optional negative query (what to remove from every estimate).
        residual: Also return the input minus the estimates.
        folder: This request's own folder (written into).
        max_mb: Largest accepted file.
        max_queries: Most queries per request.
        progress: ``progress(fraction, message)`` callback.
        pictures: Draw the spectrograms now; False leaves them to :func:`draw_pictures`
            (the page shows the players first, then draws).

    Returns:
        PageResult: the files to show.

    Raises:
        PageError: A message for the page: no audio, unreadable / empty / silent audio,
            file too large, no query or too many, bad negative query.
    """
    import soundfile as sf

    from ..separation.audio_io import load_audio

    step = progress or (lambda fraction, message: None)
    examples = model_hints(separator).examples
    queries = parse_queries(queries_text, max_queries, examples[0] if examples else "")
    _check_upload(audio_path, max_mb)
    step(0.02, "reading the audio")
    name = os.path.basename(audio_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QueryWarning)
        warnings.simplefilter("always", ScaleWarning)
        try:
            wav, rate, _, _ = load_audio(audio_path)
        except ValueError as err:
            if "is empty" in str(err):
                raise PageError(f"{name} is empty: upload a sound file.") from None
            raise _unreadable(name) from None
        if float(wav.abs().max()) < SILENCE:
            raise PageError("The audio is silent: there is nothing to separate.")
        negative = (negative_text or "").strip() or None
        step(0.05, f"separating {len(queries)} queries")
        try:
            result = separator.separate(
                wav.numpy(),
                queries,
                sample_rate=rate,
                residual=residual,
                negative=negative,
                # long files run in chunks: the bar moves with them
                progress=lambda done, total: step(
                    0.05 + 0.85 * done / total, f"chunk {done}/{total}"
                ),
            )
        except (ValueError, TypeError) as err:  # the Separator's own checks, e.g. an image query
            raise PageError(str(err)) from None
    # queries the encoder cannot read or tell apart, samples of integer scale: said on the
    # page, beside the results; the scale once, as the file's (the upload's name, not the
    # server's copy; the array handed on says it again)
    notes = [str(w.message) for w in caught if issubclass(w.category, QueryWarning)]
    scale = [str(w.message) for w in caught if issubclass(w.category, ScaleWarning)]
    notes += [scale[0].replace(audio_path, name)] if scale else []
    step(0.9, "writing files")
    folder = Path(folder)
    names = list(queries) + (["residual"] if residual else [])
    waves = list(result.estimates) + ([result.residual] if residual else [])
    audio, images, scores = [], [], []
    mixture_png = folder / "input.png"
    for k, (name, wave) in enumerate(zip(names, waves)):
        stem = "residual" if k == len(queries) else query_slug(name)
        path = folder / f"{stem}.wav"
        # float samples as they came out: no re-encoding, nothing clipped
        sf.write(path, np.asarray(wave).T, rate, subtype="FLOAT")
        audio.append(str(path))
        images.append(str(folder / f"{stem}.png"))
        if k < len(queries):
            presence = result.presence[k]
            shown = "n/a (text-only encoder)" if np.isnan(presence) else f"{presence:+.2f}"
            scores.append(f"presence {shown} · level {result.level_db[k]:+.1f} dB")
        else:
            scores.append("what the queries left")
    seconds = wav.shape[-1] / rate
    info = f"{seconds:.1f} s at {rate} Hz, {wav.shape[0]} channel(s)"
    page = PageResult(
        names,
        audio,
        images,
        scores,
        str(mixture_png),
        rate,
        wav.shape[-1],
        info,
        warnings=notes,
        pending=[(mixture_png, wav, "input")]
        + [(png, torch.as_tensor(w), n) for png, w, n in zip(images, waves, names)],
        # a long file is drawn with a larger hop: ~1,000 frames are more than its pixels
        hop=max(128, wav.shape[-1] // 1000),
    )
    if pictures:
        step(0.95, "drawing spectrograms")
        draw_pictures(page)
    step(1.0, "done")
    return page


def draw_pictures(result: PageResult) -> PageResult:
    """Write the spectrogram PNGs of a :func:`separate_upload` result made with
    ``pictures=False`` (nothing to do when they are drawn), and let go of its waves.

    Args:
        result: The result to draw.

    Returns:
        PageResult: ``result``, with ``drawn`` True.
    """
    if not result.drawn:
        _spectrogram_pngs(result.pending, result.sample_rate, result.hop)
        result.pending, result.drawn = [], True
    return result


def make_archive(result: PageResult) -> str:
    """The zip of a result's files (built once, when asked: most people want one file).

    Args:
        result: A :func:`separate_upload` result; its pictures are included once drawn.

    Returns:
        str: The zip's path, ``separated.zip`` next to the result's files.
    """
    archive = Path(result.audio[0]).parent / "separated.zip"
    if result.archive is None or not archive.is_file():
        # stored, not compressed: float WAV hardly compresses, and deflating it took seconds
        with atomic_path(archive) as part, zipfile.ZipFile(part, "w", zipfile.ZIP_STORED) as zf:
            for path in result.files:
                zf.write(path, os.path.basename(path))
        if not result.drawn:  # built again once the pictures are there
            return str(archive)
        result.archive = str(archive)
    return result.archive


def _spectrogram_pngs(pictures, sample_rate: int, hop: int = 128) -> None:
    """One PNG per ``(path, wave, title)``, the first's colour scale for all (so that what an
    estimate took out shows). One figure serves them all: only its image and title change,
    which takes half the time of a new figure each."""
    from matplotlib.figure import Figure

    from ..plots import draw_spectrogram, spectrogram_db

    fig = Figure(figsize=(6.4, 2.4))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.2, top=0.88)  # a fixed layout: quick
    (path, wave, title), *rest = pictures
    draw_spectrogram(ax, wave, sample_rate, title, hop=hop)
    fig.savefig(path, dpi=90)
    image = ax.images[0]
    for path, wave, title in rest:
        image.set_data(spectrogram_db(wave, hop=hop).numpy())
        ax.set_title(title, fontsize=9)
        fig.savefig(path, dpi=90)


def demo_separator(sample_rate: int = 16000, seed: int = 0):
    """A random-initialised separator (small encoder and U-Net) to try the page and the docs
    without a trained model: its estimates are meaningless."""
    from ..encoders.tiny import SPECIALS, TinyBimodalEncoder
    from ..models import TextCondUNet
    from ..separation.separator import Separator

    torch.manual_seed(seed)
    words = "a the sound of violin piano dog barks man speaks drum bird sings engine".split()
    encoder = TinyBimodalEncoder(list(SPECIALS) + words, sample_rate=sample_rate).freeze()
    model = TextCondUNet(
        sample_rate=sample_rate,
        n_fft=510,
        hop_length=128,
        channels=[16, 32, 64],
        attention_levels=[2],
        n_heads=4,
        out_channels=16,
        text_embed_dim=encoder.embed_dim,
        text_token_dim=encoder.token_dim,
    )
    return Separator(model.eval(), encoder)


def load_model(spec: str, device: Optional[str] = None, encoder: Optional[str] = None):
    """The page's separator: ``"random"`` (:func:`demo_separator`) or anything
    :meth:`Separator.from_pretrained` loads, with ``encoder`` (a CLAP folder or hub id, or a
    small-encoder ``.pth``) instead of the one the model names when given."""
    from ..encoders.loading import load_encoder
    from ..separation.separator import Separator

    if spec == "random":
        separator = demo_separator()
    else:
        loaded = load_encoder(encoder) if encoder else None
        separator = Separator.from_pretrained(spec, encoder=loaded)
    if device:
        separator.to(device)
    return separator.eval()
