"""A local web page for separation: ``asteroid-wsas serve`` (Gradio).

Upload or record audio, type one or several queries (and optionally a negative query and
the residual), and get for each query a player, a download, its spectrogram next to the
input's, and its presence score; "make a zip" gives all files at once. The page works with every
model :class:`~asteroid_wsas.Separator` loads, and with ``random`` (random weights, to try
the page without a trained model).

Three rooms: :mod:`.core` is the work without Gradio (the queries, the upload's checks,
:func:`separate_upload`, pictures, zip, request folders, the model), tested on its own;
:mod:`.page` lays it out (:func:`build_app`); :mod:`.server` serves it (:func:`serve`).

Examples:
    >>> from asteroid_wsas.webapp import parse_queries
    >>> parse_queries("a violin\\n\\n a piano ", max_queries=4)
    ['a violin', 'a piano']
"""

from ..signals import Terminated
from .core import (
    ModelHints,
    PageError,
    PageResult,
    Workspace,
    check_audio_file,
    demo_separator,
    draw_pictures,
    load_model,
    make_archive,
    model_hints,
    parse_queries,
    separate_upload,
)
from .page import build_app, page_updates
from .server import check_address, serve

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
