"""A local web page for separation: ``asteroid-wsas serve`` (Gradio).

Upload or record audio, type one or several queries (and optionally a negative query and
the residual), and get for each query a player, a download, its spectrogram next to the
input's, and its presence score; "make a zip" gives all files at once. The page works with every
model :class:`~asteroid_wsas.Separator` loads, and with ``random`` (random weights, to try
the page without a trained model).

The separation logic (:func:`separate_upload`) does not depend on Gradio, so it is tested
on its own; :func:`build_app` only lays it out.

Examples:
    >>> from asteroid_wsas.webapp import parse_queries
    >>> parse_queries("a violin\\n\\n a piano ", max_queries=4)
    ['a violin', 'a piano']
"""

import atexit
import errno
import html
import os
import queue
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, List, Optional, Union

import numpy as np
import torch

from .separation.contract import QueryWarning, ScaleWarning
from .signals import STOP_SIGNALS, Terminated, raise_on_stop_signals, restore_handlers
from .utils import atomic_path, query_slug

__all__ = [
    "ModelHints",
    "PageError",
    "PageResult",
    "Terminated",
    "Workspace",
    "build_app",
    "check_address",
    "demo_separator",
    "check_audio_file",
    "draw_pictures",
    "load_model",
    "make_archive",
    "model_hints",
    "page_updates",
    "parse_queries",
    "separate_upload",
    "serve",
]

EXAMPLES_DIR = Path(__file__).parent / "webapp_examples"
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
    from .encoders.tiny import SPECIALS

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


def _markdown_text(text: str) -> str:
    """``text`` shown as written in a Markdown component: ``<unk>`` stays text, a query's
    ``*`` or ``_`` no emphasis."""
    return re.sub(r"([\\`*_\[\]#|])", r"\\\1", html.escape(text, quote=False))


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

    from .separation.audio_io import load_audio

    step = progress or (lambda fraction, message: None)
    examples = model_hints(separator).examples
    queries = parse_queries(queries_text, max_queries, examples[0] if examples else "")
    _check_upload(audio_path, max_mb)
    step(0.02, "reading the audio")
    name = os.path.basename(audio_path)
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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", QueryWarning)
            warnings.simplefilter("always", ScaleWarning)
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
    # page, beside the results
    notes = [str(w.message) for w in caught if issubclass(w.category, (QueryWarning, ScaleWarning))]
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

    from .plots import draw_spectrogram, spectrogram_db

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
    from .encoders.tiny import SPECIALS, TinyBimodalEncoder
    from .models import TextCondUNet
    from .separation.separator import Separator

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
    from .encoders.loading import load_encoder
    from .separation.separator import Separator

    if spec == "random":
        separator = demo_separator()
    else:
        loaded = load_encoder(encoder) if encoder else None
        separator = Separator.from_pretrained(spec, encoder=loaded)
    if device:
        separator.to(device)
    return separator.eval()


def _examples() -> List[List[str]]:
    """The shipped example mixtures and their queries (``webapp_examples/examples.txt``:
    ``file | query; query``)."""
    listing = EXAMPLES_DIR / "examples.txt"
    if not listing.is_file():
        return []
    rows = []
    for line in listing.read_text(encoding="utf-8").splitlines():
        if "|" in line and not line.startswith("#"):
            name, queries = (part.strip() for part in line.split("|", 1))
            if (EXAMPLES_DIR / name).is_file():
                rows.append(
                    [str(EXAMPLES_DIR / name), "\n".join(q.strip() for q in queries.split(";"))]
                )
    return rows


def build_app(
    separator=None,
    *,
    model_name: str = "",
    load_error: Optional[str] = None,
    max_mb: float = DEFAULT_MAX_MB,
    max_queries: int = DEFAULT_MAX_QUERIES,
    workspace: Optional[Workspace] = None,
):
    """The page as a ``gradio.Blocks``: serve it with :func:`serve`, or with
    ``app.launch(**app.launch_options)`` (the page's CSS and script).

    Args:
        separator: The loaded :class:`~asteroid_wsas.Separator` (None with ``load_error``).
        model_name: Shown at the top of the page.
        load_error: Why the model did not load: shown on the page, and as the answer to
            every request.
        max_mb: Largest accepted upload.
        max_queries: Output slots (queries per request).
        workspace: Where request files go (default: a new :class:`Workspace`).

    Raises:
        ImportError: Gradio is not installed (``pip install asteroid-wsas[app]``).
    """
    try:
        import gradio as gr
    except ImportError:
        raise ImportError(
            "the web page needs Gradio: pip install 'asteroid-wsas[app]' (or gradio)"
        ) from None

    # matplotlib's first import takes about a second: paid at start, not by the first request
    import matplotlib.figure  # noqa: F401

    workspace = workspace or Workspace()
    hints = model_hints(separator)
    n_slots = max_queries + 1  # + the residual
    run = _page_handler(separator, load_error, workspace, max_mb, max_queries, n_slots)
    with gr.Blocks(
        title="asteroid-wsas: separate audio with text", delete_cache=(1800, 3600)
    ) as app:
        about = [
            "# Separate audio with text queries",
            # no code span: a path's "_" would show its escape there
            f"Model: **{_markdown_text(model_name or 'given in Python')}** · one query per line; "
            "all are answered in one pass.",
        ]
        about += [note for note in (hints.rate_note, hints.vocabulary_note) if note]
        about.append(PRESENCE_NOTE)
        gr.Markdown("\n\n".join(about), elem_id="wsas-about")
        if load_error:
            gr.Markdown(
                f"**The model could not be loaded:** {_markdown_text(load_error)}",
                elem_id="wsas-model-error",
            )
        with gr.Row(elem_id="wsas-columns"):
            with gr.Column(scale=1, min_width=300):
                inputs, button, progress, note = _input_column(max_mb, hints)
            with gr.Column(scale=2, min_width=300):
                outputs = _output_column(n_slots)
        inputs[0].change(check_audio_file, inputs[0], note, show_progress="hidden")
        # every output, the button and the progress line are set on every path (page_updates)
        shown = gr.State(None)  # the result on the page: what the zip button packs
        run_event = button.click(
            run,
            inputs,
            [outputs[0], progress] + outputs[1:] + [button, shown],
            concurrency_limit=1,
            show_progress="hidden",  # the page's own progress line says how far it is
        )
        outputs[-2].click(_zip_handler, shown, [outputs[-1], outputs[-2]])
        # on a phone the results are below the inputs: bring them into view
        run_event.then(None, None, None, js=SHOW_RESULTS_JS)
    app.workspace = workspace
    app.hints = hints
    # Gradio 6 takes a page's CSS and head in launch(), not in Blocks()
    app.launch_options = {"css": PAGE_CSS, "head": PAGE_HEAD}
    return app


PRESENCE_NOTE = (
    "Presence: the cosine similarity, from -1 to +1, between an estimate's sound and its "
    "query under the model's encoder; +0.3 means the estimate sounds more like its query "
    "than an estimate scoring +0.1 (compare queries with each other, not with a fixed "
    "threshold). Level: the estimate's level relative to the input."
)

# narrow screens: long words wrap, tables scroll inside their own box
PAGE_CSS = """
#wsas-progress progress { width: 100%; height: 1.1em; }
#wsas-progress { font-variant-numeric: tabular-nums; }
#wsas-about { overflow-wrap: anywhere; }
#wsas-examples table { table-layout: fixed; width: 100%; }
#wsas-examples th, #wsas-examples td, #wsas-examples td div {
    white-space: normal !important; overflow-wrap: anywhere;
}
"""

# Gradio's download links hold only an icon button: name each after its file, so that a
# screen reader says which file it downloads
PAGE_HEAD = """<script>
new MutationObserver(() => {
    for (const link of document.querySelectorAll('a[download]:not([aria-label])')) {
        const file = decodeURIComponent(link.href.split('/').pop() || 'file');
        link.setAttribute('aria-label', 'Download ' + file);
        link.setAttribute('title', 'Download ' + file);
    }
}).observe(document.documentElement, {childList: true, subtree: true});
</script>"""

SHOW_RESULTS_JS = """() => {
    const status = document.getElementById('wsas-status');
    if (!status) return;
    const box = status.getBoundingClientRect();
    if (box.top > window.innerHeight * 0.6 || box.bottom < 0) {
        status.scrollIntoView({block: 'start'});
    }
}"""


def _page_handler(
    separator,
    load_error: Optional[str],
    workspace: Workspace,
    max_mb: float,
    max_queries: int,
    n_slots: int,
) -> Callable:
    """The Separate button's handler: the page's inputs in, :func:`page_updates` out, first
    with the progress line while it runs (a generator), then the results or the error; the
    results come in two steps, players and scores, then their pictures."""

    def run(audio_path, queries_text, negative_text, residual):
        # the separation runs in its own thread; its progress comes back through a queue
        steps: "queue.Queue" = queue.Queue()
        answer: dict = {}

        def work():
            try:
                if load_error:
                    raise PageError(f"The model could not be loaded: {load_error}")
                answer["result"] = separate_upload(
                    separator,
                    audio_path,
                    queries_text,
                    negative_text,
                    bool(residual),
                    workspace.new_request(),
                    max_mb,
                    max_queries,
                    lambda fraction, message: steps.put((fraction, message)),
                    pictures=False,
                )
            except PageError as err:
                answer["error"] = str(err)
            except Exception as err:  # anything else: one line on the page, not a traceback
                answer["error"] = f"the separation failed ({type(err).__name__}: {err})"
            finally:
                steps.put(None)

        yield page_updates(n_slots, progress=(0.0, "starting"))
        threading.Thread(target=work, daemon=True).start()
        while True:
            step = steps.get()
            if step is None:
                break
            while not steps.empty():  # only the latest step is worth drawing
                later = steps.get()
                if later is None:
                    steps.put(None)
                    break
                step = later
            yield page_updates(n_slots, progress=step)
        if "error" in answer:
            yield page_updates(n_slots, error=answer["error"])
            return
        # players and scores first; the pictures follow (a second or so on a long file)
        result = answer["result"]
        yield page_updates(n_slots, result=result, drawing=True)
        try:
            draw_pictures(result)
        except Exception as err:  # the separation stands without its pictures
            result.warnings.append(
                f"the spectrograms could not be drawn ({type(err).__name__}: {err})"
            )
        yield page_updates(n_slots, result=result)

    return run


def _zip_handler(result: Optional[PageResult]) -> list:
    """The zip button: builds the zip of the shown result and offers it for download."""
    import gradio as gr

    if result is None:  # nothing shown (a reload): nothing to zip
        return [gr.update(value=None, visible=False), gr.update(visible=False)]
    return [gr.update(value=make_archive(result), visible=True), gr.update(visible=False)]


def page_updates(
    n_slots: int,
    *,
    result: Optional[PageResult] = None,
    error: Optional[str] = None,
    progress: Optional[tuple] = None,
    drawing: bool = False,
) -> list:
    """The whole page's state in one place: one update for every output, on every path.

    Running (``progress`` given): the progress line shown, results hidden, Separate
    disabled. Drawing (``result`` and ``drawing``): players and scores shown, the pictures
    not yet, the progress line says so and Separate stays disabled. Done: the results (or
    the error) shown, the progress line hidden, Separate enabled. Every component's
    visibility is set each time, so that no path can leave one hidden for the next request.

    Args:
        n_slots: Output slots of the page.
        result: A finished separation.
        error: Why a request failed (one line).
        progress: ``(fraction, message)`` while a request runs.
        drawing: The result's pictures are being drawn.

    Returns:
        list: Updates for, in order: the status line, the progress line, the input's
        spectrogram, per slot its box, player, spectrogram and score, the zip button, the
        zip, the Separate button, and the shown result (the page's state, for the zip).
    """
    import gradio as gr

    if drawing and result is not None and progress is None:
        progress = (0.95, "drawing spectrograms")
    busy = progress is not None and not drawing
    if busy:
        status = "Separating: the results appear here when it is done."
    elif error is not None:
        status = f"**Error:** {_markdown_text(error)}"
    elif result is not None:
        status = f"Separated {len(result.names)} output(s) from {result.info}." + "".join(
            f"\n\n**Warning:** {_markdown_text(note)}" for note in result.warnings
        )
    else:
        status = ""
    shown = result is not None and not busy
    pictured = shown and result.drawn
    running = busy or drawing
    updates = [
        status,  # always shown; a plain string, so that API clients read it as text
        gr.update(value=_progress_html(*progress) if running else "", visible=running),
        gr.update(
            value=result.mixture_image if pictured else None,
            visible=pictured,
            alt_text="Spectrogram of the input: time left to right, frequency upwards",
        ),
    ]
    for k in range(n_slots):
        filled = shown and k < len(result.names)
        name = result.names[k] if filled else ""
        updates += [
            gr.update(visible=filled),
            gr.update(
                value=result.audio[k] if filled else None,
                label=name or "estimate",
                visible=filled,
            ),
            gr.update(
                value=result.images[k] if filled and pictured else None,
                visible=filled and pictured,
                alt_text=f"Spectrogram of the estimate for {name!r}, on the input's colour scale",
            ),
            gr.update(
                value=f"**{_markdown_text(name)}**: {result.scores[k]}" if filled else "",
                visible=filled,
            ),
        ]
    done = shown and not drawing
    # the zip is built when asked (its button), and offered again once built
    updates.append(gr.update(visible=done and result.archive is None))
    zipped = done and result.archive is not None
    updates.append(gr.update(value=result.archive if zipped else None, visible=zipped))
    updates.append(
        gr.update(value="Separating..." if running else "Separate", interactive=not running)
    )
    updates.append(result if shown else None)
    return updates


def _progress_html(fraction: float, message: str) -> str:
    """A progress bar with its step and percentage, e.g. "chunk 2/7 - 33 %"."""
    percent = 100 * min(max(float(fraction), 0.0), 1.0)
    text = html.escape(f"{message} - {percent:.0f} %")
    return (
        f'<progress value="{percent:.1f}" max="100" aria-label="separation progress">'
        f"{percent:.0f} %</progress><div>{text}</div>"
    )


def _input_column(max_mb: float, hints: ModelHints) -> tuple:
    """The audio, queries, negative query and residual inputs, the Separate button, the
    progress line and the examples. Returns (the handler's inputs, the button, the progress
    line, the upload's note)."""
    import gradio as gr

    audio_in = gr.Audio(
        sources=["upload", "microphone"],
        type="filepath",
        label=f"Audio: upload or record (up to {max_mb:g} MB)",
        elem_id="wsas-input",
    )
    # what the upload is, or why it cannot be separated, as soon as it is there
    note = gr.Markdown(elem_id="wsas-upload-note")
    queries = gr.Textbox(
        label="Queries, one per line",
        lines=3,
        placeholder=hints.placeholder,
        elem_id="wsas-queries",
    )
    negative = gr.Textbox(
        label="Negative query (optional): removed from every estimate",
        elem_id="wsas-negative",
    )
    residual = gr.Checkbox(
        label="Also return the residual (the input minus the estimates)",
        elem_id="wsas-residual",
    )
    button = gr.Button("Separate", variant="primary", elem_id="wsas-run")
    # right under the button, so that it is in view where the click was (phones too)
    progress = gr.HTML(visible=False, elem_id="wsas-progress")
    examples = _examples()
    if examples:
        gr.Examples(
            examples,
            [audio_in, queries],
            label="Example mixtures",
            elem_id="wsas-examples",
        )
    return [audio_in, queries, negative, residual], button, progress, note


def _output_column(n_slots: int) -> list:
    """The status line, the input's spectrogram, ``n_slots`` hidden output slots (box,
    player, spectrogram, score), the zip button and the zip, in the order the handler
    updates them."""
    import gradio as gr

    status = gr.Markdown(elem_id="wsas-status")
    mixture = gr.Image(
        label="Input",
        show_label=False,  # the picture's own title says "input"
        type="filepath",
        interactive=False,
        visible=False,
        buttons=[],  # a toolbar of unnamed icon buttons, and the player offers the files
        elem_id="wsas-input-spectrogram",
    )
    outputs = []
    for k in range(n_slots):
        with gr.Column(visible=False) as box:
            score = gr.Markdown(elem_id=f"wsas-score-{k}")
            player = gr.Audio(
                type="filepath",
                interactive=False,
                buttons=["download"],
                elem_id=f"wsas-output-{k}",
            )
            picture = gr.Image(
                type="filepath",
                interactive=False,
                show_label=False,
                buttons=[],
                elem_id=f"wsas-spectrogram-{k}",
            )
        outputs += [box, player, picture, score]
    zip_button = gr.Button(
        "Make a zip of every file", visible=False, size="sm", elem_id="wsas-make-zip"
    )
    archive = gr.File(label="Download all (zip)", visible=False, elem_id="wsas-zip")
    return [status, mixture] + outputs + [zip_button, archive]


def check_address(host: str, port: int) -> None:
    """Refuse an address the server cannot listen on, before anything is loaded.

    Binds a socket (then closes it) on each address ``host`` stands for, as the server
    (uvicorn, through asyncio) binds them, and on ``127.0.0.1:port``, which Gradio checks
    first whatever the host.

    Raises:
        ValueError: One line naming ``--host`` or ``--port``: the port is in use, the host
            is not an address of this machine or not a known name, the port is reserved.

    Examples:
        >>> check_address("127.0.0.1", 0)  # any free port: fine
    """
    # Gradio strips the brackets of an IPv6 address given as in a URL
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        found = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        raise ValueError(
            f"--host {host} is neither an address nor a host name this machine knows; pass "
            "--host 127.0.0.1 (this machine only) or 0.0.0.0 (every network)"
        ) from None
    places = [(family, address) for family, _, _, _, address in found]
    for family, address in places + [(socket.AF_INET, ("127.0.0.1", port))]:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio: IPv4 is bound on its own
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as err:
                raise ValueError(_bind_error(host, port, address[0], err)) from None


def _bind_error(host: str, port: int, address: str, err: OSError) -> str:
    """The one line for a failed bind of ``address:port`` (``host`` as the user wrote it)."""
    if err.errno == errno.EADDRINUSE:
        return (
            f"--port {port} on {address} is in use (another server?); pass --port with a free port"
        )
    if err.errno == errno.EADDRNOTAVAIL:
        return (
            f"--host {host} is not an address of this machine; pass --host 127.0.0.1 (this "
            "machine only) or 0.0.0.0 (every network)"
        )
    if err.errno == errno.EACCES and port < 1024:
        return f"--port {port}: ports below 1024 need root here; pass --port 1024 or above"
    return f"cannot listen on --host {host} --port {port}: {err.strerror or err}"


def _raise_on_stop_signals() -> dict:
    """SIGTERM and SIGHUP raise :class:`Terminated` (:mod:`asteroid_wsas.signals`)."""
    return raise_on_stop_signals()


def _shutdown(
    app, workspace: Optional[Workspace], handlers: dict, gradio_dir: Optional[str]
) -> None:
    """Stop the server and remove the page's folder (Gradio's cache included), then give
    back the signal handlers and ``GRADIO_TEMP_DIR``."""
    # a second Ctrl+C or SIGTERM would stop the clean-up half-way: it takes seconds at most
    for signum in handlers:
        signal.signal(signum, signal.SIG_IGN)
    try:
        if app is not None:
            app.close(verbose=False)  # waits up to 5 s for the server's thread
        if workspace is not None:
            workspace.close()
    finally:
        if gradio_dir is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = gradio_dir
        restore_handlers(handlers)


def _launch(app, host: str, port: int, max_mb: float) -> None:
    """Start the server in its own thread; a port taken since :func:`check_address` is
    answered as that check answers it, not with Gradio's message about ``launch()``."""
    try:
        app.queue().launch(
            server_name=host,
            server_port=port,
            max_file_size=int(max_mb * 2**20),
            prevent_thread_lock=True,
            quiet=True,
            footer_links=[],
            **getattr(app, "launch_options", {}),
        )
    except OSError:
        check_address(host, port)
        raise ValueError(
            f"the server could not start on --host {host} --port {port}; pass --port with a "
            "free port"
        ) from None


def serve(
    model: str,
    host: str = "127.0.0.1",
    port: int = 7860,
    max_mb: float = DEFAULT_MAX_MB,
    max_queries: int = DEFAULT_MAX_QUERIES,
    device: Optional[str] = None,
    block: bool = True,
    encoder: Optional[str] = None,
):
    """Load ``model`` (with ``encoder`` instead of the one it names, when given: a moved
    experiment's encoder file) and serve the page on ``host:port`` (loopback by default).

    The address is checked first (:func:`check_address`). A model that fails to load does
    not stop the server: the page says why (and so does the terminal). Gradio keeps copies
    of every upload and result: they go into the page's folder (``GRADIO_TEMP_DIR`` is set
    to its ``gradio`` folder while the server runs, and stays so with ``block=False``), so
    that they go with it.

    With ``block=True`` the page is served until Ctrl+C, SIGTERM or SIGHUP; then the server
    stops, the page's folder is removed, and the ``KeyboardInterrupt`` (Ctrl+C) or
    :class:`Terminated` (the others) is raised again. With ``block=False`` the running page
    is returned: stop it with ``app.close()``, then ``app.workspace.close()``.

    Returns:
        The launched ``gradio.Blocks`` (when ``block=False``).

    Raises:
        ValueError: The server cannot listen on ``host:port``.
        KeyboardInterrupt: Ctrl+C, once the page's files are removed.
        Terminated: SIGTERM or SIGHUP, once the page's files are removed.
    """
    check_address(host, port)
    # an IPv6 address as in a URL, as Gradio wants it (it builds its own URLs from it)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    handlers = _raise_on_stop_signals() if block else {}
    gradio_dir = os.environ.get("GRADIO_TEMP_DIR")
    app, workspace = None, None
    try:
        load_error, separator = None, None
        try:
            separator = load_model(model, device, encoder)
        except Exception as err:  # any loading failure is reported on the page
            load_error = str(err) or type(err).__name__
            print(f"error: the model could not be loaded: {load_error}")
        workspace = Workspace()
        # read when the page is built, and by some Gradio modules when first imported
        os.environ["GRADIO_TEMP_DIR"] = str(workspace.cache)
        app = build_app(
            separator,
            model_name=model,
            load_error=load_error,
            max_mb=max_mb,
            max_queries=max_queries,
            workspace=workspace,
        )
        print(f"asteroid-wsas page for {model}: http://{host}:{port} (Ctrl+C stops it)")
        print(f"temporary files: {workspace.root} (removed when the server stops)", flush=True)
        _launch(app, host, port, max_mb)
        while block and app.is_running:
            time.sleep(0.1)
    except BaseException:
        block = True  # stopped or failed: clean up here, whatever the caller asked
        raise
    finally:
        if block:
            _shutdown(app, workspace, handlers, gradio_dir)
    return app
