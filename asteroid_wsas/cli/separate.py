"""``asteroid-wsas separate``: audio files, folders or a WAV stream on stdin, separated with
text (or image) queries into one WAV file per query.

The handler checks what it is given (the queries, the inputs, the output tree) before any
model is loaded, and leaves the work to the library: :mod:`asteroid_wsas.separation.jobs`
plans the output tree, skips what is done and separates file by file;
:meth:`Separator.stream <asteroid_wsas.separation.separator.Separator.stream>` separates a
stream.
"""

import argparse
import os
import sys
from typing import Any, Dict, List

from ..separation.contract import QueryError, check_queries, check_seconds, missing_images
from ..utils import refuse_overwrite

__all__ = ["add_parser", "cmd"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``separate`` sub-command's parser, added to ``sub`` (``args.func`` is :func:`cmd`).

    Examples:
        >>> parser = argparse.ArgumentParser(prog="asteroid-wsas")
        >>> _ = add_parser(parser.add_subparsers(dest="command"))
        >>> argv = ["separate", "in.wav", "-q", "a dog", "-o", "out", "--model", "sep/"]
        >>> args = parser.parse_args(argv)
        >>> args.query, args.subtype, args.overlap_seconds
        (['a dog'], 'input', None)
    """
    p = sub.add_parser(
        "separate", help="separate audio files, folders or a WAV stream with text queries"
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="audio files (any rate, channels), folders of them (their tree is kept below -o), "
        "or - for a WAV stream on stdin (separated as it comes)",
    )
    p.add_argument(
        "-q",
        "--query",
        action="append",
        required=True,
        help="text, or image:PATH with a CLIP-queried model (repeatable; texts and images mix)",
    )
    p.add_argument(
        "-o",
        "--output-dir",
        required=True,
        help="<query>.wav files go here (one input), or in <input's path>/ below it",
    )
    p.add_argument("--model", required=True, help="separator folder, file, URL or hub id")
    p.add_argument(
        "--encoder",
        help="CLAP folder or hub id, or a small-encoder .pth (default: the one bundled with "
        "--model, or named by the conf.yml beside it)",
    )
    p.add_argument("--residual", action="store_true", help="also write what no query took")
    p.add_argument(
        "--negative", action="append", help="text or image:PATH of what to remove (repeatable)"
    )
    p.add_argument(
        "--chunk-seconds",
        type=float,
        help="chunk length (default: 10 s for longer inputs; a stream's latency)",
    )
    p.add_argument(
        "--overlap-seconds",
        type=float,
        help="crossfade between chunks (default: 1 s, or half the chunk if it is shorter than 2 s)",
    )
    p.add_argument(
        "--subtype",
        default="input",
        choices=(
            "input",
            "FLOAT",
            "DOUBLE",
            "PCM_16",
            "PCM_24",
            "PCM_32",
            "PCM_U8",
            "ULAW",
            "ALAW",
        ),
        help="WAV sample format of the outputs: input keeps the input's (16-bit in, 16-bit "
        "out), FLOAT where WAV cannot hold it (MP3, Ogg, ...) (default: %(default)s; integer "
        "formats are clipped to full scale, with a warning)",
    )
    p.add_argument("--device", help="e.g. cuda (default: cpu)")
    p.add_argument(
        "--force", action="store_true", help="redo inputs whose outputs exist, overwriting them"
    )
    p.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop at the first input that fails (default: go on, list the failures at the end)",
    )
    p.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="fail when another asteroid-wsas separate writes to an output folder (default: "
        "wait for it, then skip what it wrote)",
    )
    p.set_defaults(func=cmd)
    return p


PARSERS = {"separate": add_parser}


def _give_freed_memory_back() -> None:
    """Have glibc return freed large buffers to the system at once (a fixed mmap threshold
    of 128 KiB): its default raises the threshold as buffers are freed, and a long file's
    windows then leave the heap a little larger after each, so peak memory crept up with
    the file's length. Elsewhere (macOS, musl, Windows) nothing changes."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    M_MMAP_THRESHOLD = -3  # glibc's malloc.h
    mallopt(M_MMAP_THRESHOLD, 128 * 1024)


def cmd(args: argparse.Namespace) -> None:
    """``asteroid-wsas separate``: the estimates of each input as ``<query>.wav`` files.

    Raises:
        ValueError: A bad query, input or output folder (before any model is loaded), or
            failed inputs (listed at the end unless ``--fail-fast``).
        FileExistsError: A stream's output exists and ``--force`` was not given.
        OutputWriteError: An output that could not be written (a full disk), named; a
            ``ValueError``. The outputs of the inputs done before it stay.
        FolderBusyError: ``--no-wait``, and another process writes to an output folder; a
            ``ValueError``.
    """
    from ..separation import jobs

    _give_freed_memory_back()
    queries = args.query
    _check_queries(queries, args.negative or [])
    names = jobs.output_names(queries, args.residual)
    missing = missing_images(queries + (args.negative or []))
    if missing:
        raise ValueError(f"image query file(s) not found: {', '.join(missing)}")
    # finite and positive before any model is loaded; the model's minimum once it is
    if args.chunk_seconds is not None:
        check_seconds(args.chunk_seconds, "--chunk-seconds")
    if args.overlap_seconds is not None:
        check_seconds(args.overlap_seconds, "--overlap-seconds", positive=False)
    overlap = args.overlap_seconds
    if overlap is None:  # a short --chunk-seconds alone is no error
        overlap = 1.0 if args.chunk_seconds is None else min(1.0, args.chunk_seconds / 2)
    options = dict(
        residual=args.residual,
        negative=args.negative,
        chunk_seconds=args.chunk_seconds,
        overlap_seconds=overlap,
    )
    stdin = "-" in args.inputs
    if stdin and len(args.inputs) > 1:
        raise ValueError("'-' (a WAV stream on stdin) must be the only input")
    # every input's output folder, before any work: a folder keeps its tree below -o
    planned = [] if stdin else jobs.plan_jobs(args.inputs, args.output_dir)
    jobs.check_writable(args.output_dir)
    if stdin:
        _separate_stdin(args, names, options)
        return
    todo, skipped = jobs.pending_jobs(planned, names, args.force)
    if skipped:
        print(f"skipped {skipped} input(s) whose outputs exist (--force to redo them)")
    if todo:
        _separate_files(args, todo, skipped, options)


def _check_queries(queries: List[str], negatives: List[str]) -> None:
    """The one query check (:func:`~asteroid_wsas.separation.contract.check_queries`),
    with an empty query named by its option and number."""
    try:
        check_queries(queries, "-q/--query", find_images=False)
        check_queries(negatives, "--negative", allow_empty=True, find_images=False)
    except QueryError as err:
        if err.reason != "empty":
            raise
        raise ValueError(
            f"{err.argument} number {err.index + 1} is empty: give a text or image:PATH"
        ) from None


def _separator(args: argparse.Namespace, options: Dict[str, Any]):
    """``--model`` as a :class:`~asteroid_wsas.Separator`, with ``--encoder`` when given;
    ``--chunk-seconds`` checked against it (its STFT window), named as the option."""
    from ..encoders.loading import load_encoder
    from ..separation.separator import Separator

    encoder = load_encoder(args.encoder) if args.encoder else None
    separator = Separator.from_pretrained(args.model, encoder=encoder)
    names = ("--chunk-seconds", "--overlap-seconds")
    separator.check_windows(options["chunk_seconds"], options["overlap_seconds"], names)
    if args.device:
        separator.to(args.device)
    return separator


def _separate_stdin(args: argparse.Namespace, names: List[str], options: Dict[str, Any]) -> None:
    """``-`` as the input: a WAV stream on stdin, separated as it comes."""
    import soundfile as sf

    from ..separation.jobs import stream_to_files

    files = [os.path.join(args.output_dir, f"{n}.wav") for n in names]
    refuse_overwrite(*files, force=args.force)
    if sys.stdin is None or sys.stdin.isatty():
        raise ValueError("'-' reads a WAV stream from stdin: pipe one in")
    try:  # by descriptor: libsndfile reads a WAV header from a pipe, soundfile's IO cannot
        reader = sf.SoundFile(sys.stdin.fileno(), closefd=False)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"stdin is not a WAV stream ({err})") from None
    separator = _separator(args, options)
    settings = dict(force=args.force, wait=args.wait, **options)
    stream_to_files(separator, reader, files, args.query, args.subtype, **settings)
    print(f"stdin ({reader.samplerate} Hz, {reader.channels} ch) -> {', '.join(files)}")


def _separate_files(args: argparse.Namespace, todo: list, skipped: int, options: dict) -> None:
    """The inputs still to do, one after another: one line per input (a bar over them
    when there are several), the failures listed at the end."""
    from tqdm.auto import tqdm

    from ..separation.jobs import run_jobs

    separator = _separator(args, options)
    several = len(todo) > 1
    failed, others = [], 0
    bar = tqdm(total=len(todo), desc="separating", unit="file", disable=not several)
    outcomes = run_jobs(
        separator,
        todo,
        args.query,
        force=args.force,
        fail_fast=args.fail_fast or not several,
        subtype=args.subtype,
        wait=args.wait,
        progress=not several,  # one bar for a batch: the files'
        **options,
    )
    with bar:  # closed on an error too: the error line comes last
        for outcome in outcomes:
            job, result = outcome.job, outcome.result
            if outcome.error is not None:
                failed.append(job.source)
                tqdm.write(f"failed: {outcome.error}", file=sys.stderr)
            elif outcome.skipped:
                others += 1
                tqdm.write(f"skipped {job.source}: another process wrote its outputs meanwhile")
            else:
                scores = [
                    f"{q!r} presence {p:+.2f}, level {lv:+.1f} dB"
                    for q, p, lv in zip(args.query, result.presence, result.level_db)
                ]
                if several:
                    folder = os.path.dirname(job.files[0])
                    tqdm.write(f"{job.source} -> {folder}: {'; '.join(scores)}")
                else:
                    for f, score in zip(job.files, scores):
                        print(f"{f}: {score}")
            bar.update()
    skipped += others
    if several:
        print(
            f"{len(todo) - len(failed) - others} of {len(todo)} inputs separated -> "
            f"{args.output_dir}" + (f" ({skipped} skipped)" if skipped else "")
        )
    if failed:
        raise ValueError(f"{len(failed)} input(s) failed: {', '.join(failed)}")
