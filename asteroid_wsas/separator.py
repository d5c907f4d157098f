"""Where the separator's names were before :mod:`asteroid_wsas.separation` held them.

Kept so that ``from asteroid_wsas.separator import Separator, separate_batch, ...`` (code,
notebooks and docs written against earlier versions) goes on working; new code imports from
the package: ``contract`` (queries' check, errors, warnings), ``core`` (the separation
path), ``queries``, ``windows``, ``audio_io``, ``jobs`` and ``separator``.
"""

from .separation.audio_io import (
    AUDIO_EXTENSIONS,
    WAV_SUBTYPES,
    AudioLike,
    OutputFiles,
    audio_files,
    load_audio,
    output_subtype,
)
from .separation.contract import (
    IMAGE_PREFIX,
    ClippingWarning,
    MissingEncoderError,
    QueryWarning,
)
from .separation.core import SELECTIONS, assign_outputs, pick_outputs, separate_batch
from .separation.queries import QueryLike, query_warnings, resolve_queries
from .separation.separator import (
    BUNDLED_ENCODER,
    FORMAT_VERSION,
    SEPARATOR_FILE,
    PixelSeparation,
    Separation,
    Separator,
)
from .separation.separator import _fetch, _sha256  # noqa: F401 (imported by earlier code)
from .separation.windows import DEFAULT_CHUNK
from .separation.windows import Stream as _Stream  # noqa: F401 (earlier private names)
from .separation.windows import crossfade_windows as _crossfade_windows  # noqa: F401
from .separation.windows import sinc_width as _sinc_width  # noqa: F401

__all__ = [
    "Separator",
    "Separation",
    "PixelSeparation",
    "separate_batch",
    "pick_outputs",
    "assign_outputs",
    "load_audio",
    "resolve_queries",
    "SEPARATOR_FILE",
    "AUDIO_EXTENSIONS",
    "WAV_SUBTYPES",
    "audio_files",
    "OutputFiles",
    "QueryWarning",
    "query_warnings",
    "ClippingWarning",
    "MissingEncoderError",
    "IMAGE_PREFIX",
    "output_subtype",
    "AudioLike",
    "QueryLike",
    "SELECTIONS",
    "DEFAULT_CHUNK",
    "BUNDLED_ENCODER",
    "FORMAT_VERSION",
]
