"""The page (Gradio): its columns, the handler that runs a request and the updates it
sends (:func:`page_updates`), the shipped examples, its CSS and script."""

import html
import queue
import re
import threading
from pathlib import Path
from typing import Callable, List, Optional

from .core import (
    DEFAULT_MAX_MB,
    DEFAULT_MAX_QUERIES,
    ModelHints,
    PageError,
    PageResult,
    Workspace,
    check_audio_file,
    draw_pictures,
    make_archive,
    model_hints,
    separate_upload,
)

# the package's shipped example mixtures (scripts/make_webapp_examples.py)
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "webapp_examples"


def _markdown_text(text: str) -> str:
    """``text`` shown as written in a Markdown component: ``<unk>`` stays text, a query's
    ``*`` or ``_`` no emphasis."""
    return re.sub(r"([\\`*_\[\]#|])", r"\\\1", html.escape(text, quote=False))


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
