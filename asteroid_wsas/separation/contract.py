"""What a user may ask a separator, and what it answers when something is wrong, without
torch: the image-query prefix, the one check of queries, and the user-facing exceptions and
warnings.

The command line imports this module to check queries before any model is loaded and to
tell its own errors and warnings apart (``isinstance``) while ``--help`` stays free of
torch; the library raises and warns with the same classes.
"""

import functools
import json
import math
import numbers
import os
import re
from typing import Any, List, Optional, Union

__all__ = [
    "IMAGE_PREFIX",
    "MissingEncoderError",
    "ClippingWarning",
    "ScaleWarning",
    "QueryWarning",
    "QueryError",
    "check_queries",
    "check_sample_rate",
    "check_seconds",
    "image_path",
    "missing_images",
    "read_json",
    "read_yaml",
    "yaml_loader",
]

# a text query that names a picture: "image:frames/cello.jpg"
IMAGE_PREFIX = "image:"


class MissingEncoderError(ValueError):
    """A separator file without its query encoder: a bare ``best_model.pth`` whose run's
    ``conf.yml`` is not beside it, or whose ``conf.yml`` names an encoder file that is no
    longer there (a moved or copied experiment).

    Args:
        path: The separator file.
        conf: The ``conf.yml`` that names the encoder (None: there is none).
        encoder: The encoder path it names that is not there.
    """

    def __init__(self, path: str, conf: Optional[str] = None, encoder: Optional[str] = None):
        self.path, self.conf, self.encoder = path, conf, encoder
        super().__init__(self.message(None))

    what = "holds no encoder and no conf.yml beside it names one"

    def message(self, option: Optional[str], command_line: bool = False) -> str:
        """What is wrong and what to do.

        Args:
            option: The command's option that gives an encoder (``--encoder``); None: the
                library's message (Python's ``encoder=``), or with ``command_line`` a
                command without one.
            command_line: Say nothing of Python's arguments.
        """
        if self.encoder is None:
            if not command_line:
                advice = ", or pass encoder="
            else:
                advice = f"; or pass {option}" if option else ""
            return f"{self.path} {self.what}: put its training run's conf.yml beside it{advice}"
        # the file, where it is named, and what to do (publish's wording)
        if not command_line:
            advice = "pass its new place (--encoder, encoder= in Python)"
        else:
            advice = f"pass its new place ({option} PATH)" if option else "put it back there"
        return f"the encoder file {self.encoder} named in {self.conf} is not there; {advice}"


class ClippingWarning(UserWarning):
    """Samples past full scale were clipped to fit an integer WAV format."""


class ScaleWarning(UserWarning):
    """Float samples far past full scale that are all whole numbers: integer PCM cast to
    float without its scaling (they are separated as they are, at that scale)."""


class QueryWarning(UserWarning):
    """A query the separator cannot tell apart from another, or whose words its encoder does
    not know (the command line prints these as one ``warning:`` line each)."""


class QueryError(ValueError):
    """A query that cannot be asked (raised by :func:`check_queries`).

    Args:
        message: What is wrong, naming the argument.
        argument: The argument's name (``"queries"``, ``"--negative"``, ...).
        index: The query's position in it (0-based; None when the argument holds none).
        reason: ``"none"`` (no query), ``"empty"`` (an empty text), ``"type"`` (neither a
            text nor an image), ``"image"`` (an image where only texts are taken) or
            ``"missing"`` (an image file that is not there).
    """

    def __init__(self, message: str, argument: str, index: Optional[int], reason: str):
        super().__init__(message)
        self.argument, self.index, self.reason = argument, index, reason


def check_sample_rate(value: Any, argument: str = "sample_rate") -> int:
    """The one check of a sample rate a user gives: a positive whole number of Hz.

    An integral float (``16000.0``, what arithmetic on rates gives) is taken; a fraction
    (``44.1``: kHz, not Hz), zero, a negative, NaN, a bool or a text is refused instead of
    being rounded into another rate.

    Args:
        value: The rate.
        argument: Its name, for the message.

    Returns:
        int: the rate.

    Raises:
        ValueError: ``<argument> must be a positive whole number of Hz, got <value>``.

    Examples:
        >>> check_sample_rate(16000.0)
        16000
        >>> check_sample_rate(44.1)
        Traceback (most recent call last):
            ...
        ValueError: sample_rate must be a positive whole number of Hz (e.g. 44100), got 44.1
    """
    rate = None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        rate = int(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and number == int(number):
            rate = int(number)
    if rate is None or rate <= 0:
        raise ValueError(
            f"{argument} must be a positive whole number of Hz (e.g. 44100), got {value!r}"
        )
    return rate


def check_seconds(value: Any, argument: str, positive: bool = True) -> float:
    """The one check of a duration a user gives: a finite number of seconds, above zero
    (``positive``) or at least zero.

    Args:
        value: The duration.
        argument: Its name, for the message (``chunk_seconds``, ``--chunk-seconds``).
        positive: Zero is refused too.

    Returns:
        float: the duration.

    Raises:
        ValueError: ``<argument> must be a finite number of seconds > 0, got <value>``.

    Examples:
        >>> check_seconds(0.5, "chunk_seconds")
        0.5
        >>> check_seconds(float("nan"), "--chunk-seconds")
        Traceback (most recent call last):
            ...
        ValueError: --chunk-seconds must be a finite number of seconds > 0, got nan
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    seconds = float(value) if ok else math.nan
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{argument} must be a finite number of seconds {bound}, got {value!r}")
    return seconds


def image_path(query: Any) -> Optional[str]:
    """The file an ``"image:PATH"`` query names, else None.

    Examples:
        >>> image_path("image:frames/cello.jpg"), image_path("a cello")
        ('frames/cello.jpg', None)
    """
    if isinstance(query, str) and query.startswith(IMAGE_PREFIX):
        return query[len(IMAGE_PREFIX) :]
    return None


def missing_images(queries: List[Any]) -> List[str]:
    """The files of ``"image:PATH"`` queries that do not exist, in order.

    Examples:
        >>> missing_images(["a dog barks", "image:/no/such.png"])
        ['/no/such.png']
    """
    paths = [image_path(query) for query in queries]
    return [path for path in paths if path is not None and not os.path.isfile(path)]


def check_queries(
    queries: Any,
    argument: str,
    *,
    allow_empty: bool = False,
    texts_only: bool = False,
    find_images: bool = True,
) -> List[Any]:
    """The one check of user queries, made before any file is read or model loaded.

    A query is a text, or a picture: ``"image:PATH"``, an ``os.PathLike``, or a PIL image,
    numpy array or torch tensor (told by their type's module, so that this module imports
    none of them).

    Args:
        queries: One query or a sequence of them (None: none).
        argument: The argument's name, for messages.
        allow_empty: Accept no query at all.
        texts_only: Only texts (an ONNX export bakes text embeddings in).
        find_images: Check that image files exist.

    Returns:
        list: the queries (one query as a list of one).

    Raises:
        QueryError: No query (unless allowed), an empty text, an unknown type, an image
            with ``texts_only``, or an image file that is not there.

    Examples:
        >>> check_queries("a dog barks", "queries")
        ['a dog barks']
        >>> check_queries(["a dog", " "], "queries")
        Traceback (most recent call last):
            ...
        asteroid_wsas.separation.contract.QueryError: queries[1] is an empty text
    """
    if queries is None:
        items = []
    elif isinstance(queries, (str, os.PathLike)) or _is_image_object(queries):
        items = [queries]
    else:
        items = list(queries)
    if not items and not allow_empty:
        raise QueryError(f"{argument} must hold at least one query", argument, None, "none")
    for k, query in enumerate(items):
        where = f"{argument}[{k}]"
        if isinstance(query, str):
            if not query.strip():
                raise QueryError(f"{where} is an empty text", argument, k, "empty")
            path = image_path(query)
            if path is None:
                continue
            if texts_only:
                message = f"{where} is an image query ({query!r}); export takes texts"
                raise QueryError(message, argument, k, "image")
        elif texts_only:
            message = (
                f"{where} must be a text; image queries cannot be exported, got "
                f"{type(query).__name__}"
            )
            raise QueryError(message, argument, k, "image")
        elif isinstance(query, os.PathLike):
            path = os.fspath(query)
        elif _is_image_object(query):
            continue
        else:
            message = (
                f"{where} must be a text or an image (path as 'image:PATH', PIL image, array "
                f"or tensor), got {type(query).__name__}"
            )
            raise QueryError(message, argument, k, "type")
        if find_images and not os.path.isfile(path):
            raise QueryError(f"{where}: image file not found: {path!r}", argument, k, "missing")
    return items


def _is_image_object(value: Any) -> bool:
    """A PIL image, numpy array or torch tensor, told without importing them."""
    return type(value).__module__.split(".")[0] in ("PIL", "numpy", "torch")


def _read_text(path: Union[str, os.PathLike]) -> str:
    """A text file's content; a folder, an unreadable file or one that is not UTF-8 is a
    user error naming it (a missing file stays FileNotFoundError)."""
    name = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except IsADirectoryError:
        raise ValueError(f"{name} is a folder; give the file") from None
    except PermissionError:
        raise ValueError(f"{name} is not readable (permission denied)") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{name} is not a UTF-8 text file (byte {err.start})") from None


def read_json(path: Union[str, os.PathLike]) -> Any:
    """A JSON file's content; a file that is not valid JSON (truncated, say) is a user
    error that names the file and the place.

    Args:
        path: The file.

    Raises:
        ValueError: ``<path>: not valid JSON (<what>: line L column C); ...``, or a folder,
            an unreadable or a non-UTF-8 file, named.
        FileNotFoundError: no such file.
    """
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{os.fspath(path)}: not valid JSON ({err}); rewrite it or write it again"
        ) from None


# YAML 1.2's floats without a dot (1e-4, 3E-3, -2e5): PyYAML reads YAML 1.1, where they are
# strings, so `lr: 1e-4` would be refused as "not a number"
_EXPONENT_FLOAT = r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"


@functools.lru_cache(maxsize=None)
def yaml_loader() -> type:
    """The YAML loader of every config and ``--set`` value: PyYAML's safe loader that refuses
    a key given twice in one block (the last would silently win) and reads ``1e-4`` as the
    float it means (YAML 1.2; PyYAML's YAML 1.1 reads it as a string).

    Returns:
        type: a ``yaml.SafeLoader`` subclass.

    Examples:
        >>> import yaml
        >>> yaml.load("lr: 1e-4", Loader=yaml_loader())
        {'lr': 0.0001}
    """
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        problem=f"key {key!r} appears twice in one block; keep one",
                        problem_mark=key_node.start_mark,
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    # on the subclass only (PyYAML copies the table): yaml.safe_load elsewhere is unchanged
    UniqueKeyLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(_EXPONENT_FLOAT), list("-+0123456789.")
    )
    return UniqueKeyLoader


def read_yaml(path: Union[str, os.PathLike]) -> Any:
    """A YAML file's content (None for an empty file); a syntax error is a user error
    that names the file and the line, not a scanner's traceback. A key given twice in one
    mapping is refused too: YAML readers keep the last one silently.

    Args:
        path: The file.

    Raises:
        ValueError: ``<path>, line L: not valid YAML (<problem>); fix it ...``, a repeated
            key, or a folder, an unreadable or a non-UTF-8 file, named.
        FileNotFoundError: no such file.
    """
    import yaml  # light, but only the commands that read a config need it

    text = _read_text(path)
    try:
        return yaml.load(text, Loader=yaml_loader())  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ValueError(
            f"{os.fspath(path)}{where}: not valid YAML ({problem}); fix the file"
        ) from None
