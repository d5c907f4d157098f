"""Batches of audio files for a separator: where each input's estimates go, which inputs are
done already, and which failed.

Everything that can be refused is refused before any model is loaded: the output tree is
planned whole (:func:`plan_jobs`: a folder keeps its tree, files named together get a
folder each, two inputs never share one), the output folder is tried for writing
(:func:`check_writable`), and inputs whose outputs all exist are skipped
(:func:`pending_jobs`). :func:`run_jobs` then separates input by input, writing each one's
files block by block as the windows complete where libsndfile reads the input (flat
memory), whole or not at all (:class:`~asteroid_wsas.separation.audio_io.OutputFiles`), and
goes on past an input that fails unless told to stop.

One process writes to a folder at a time (:func:`~.audio_io.folder_lock`): what a job
writes is decided under the lock and written before it is let go, so two processes that
share an output folder never leave one input's estimates beside another's. A disk that
fails stops the batch with an error naming the output file
(:class:`~.audio_io.OutputWriteError`), not the input.

Examples:
    >>> output_names(["a dog barks", "image:cello.png"], residual=True)
    ['a_dog_barks', 'image_cello', 'residual']
"""

import contextlib
import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..utils import query_slug, refuse_overwrite
from .audio_io import (
    FILE_FIX,
    FolderBusyError,
    OutputFiles,
    OutputWriteError,
    audio_files,
    folder_lock,
    missing_folders,
    output_subtype,
    sf_path,
    warn_integer_scale,
    whole_peak,
)

if TYPE_CHECKING:  # the class imports the model; the plan needs none of it
    from .separator import Separator

__all__ = [
    "Job",
    "Outcome",
    "output_names",
    "plan_jobs",
    "check_writable",
    "pending_jobs",
    "run_jobs",
    "stream_to_files",
]


@dataclass
class Job:
    """One input and the WAV files of its estimates.

    Attributes:
        source: The input file.
        folder: Where its outputs go.
        files: One ``<name>.wav`` per output name, in the queries' order (then the residual);
            None until :func:`pending_jobs` names them.
        existing: Those of ``files`` that existed when :func:`pending_jobs` looked (kept
            unless ``force``); one that appears later is another process's.
    """

    source: str
    folder: str
    files: Optional[List[str]] = None
    existing: Optional[List[str]] = None


@dataclass
class Outcome:
    """What :func:`run_jobs` did with one job.

    Attributes:
        job: The job.
        result: Its :class:`~asteroid_wsas.separation.separator.Separation` (None when it
            failed); its ``estimates`` and ``residual`` are None where the input was
            separated block by block (they went to the files as they came).
        error: Why it failed, naming the input (None when it did not).
        skipped: Its outputs all appeared after :func:`pending_jobs` looked: another
            process wrote them (``result`` is None).
    """

    job: Job
    result: Any = None
    error: Optional[str] = None
    skipped: bool = False


def output_names(queries: Sequence[str], residual: bool) -> List[str]:
    """The output files' names (without ``.wav``): one per query, then ``residual``.

    Raises:
        ValueError: Two queries that give one file name.
    """
    names = [query_slug(q) for q in queries] + (["residual"] if residual else [])
    if len(set(names)) != len(names):
        raise ValueError(f"queries give the same file name: {names}")
    return names


def plan_jobs(inputs: Sequence[str], output_dir: str) -> List[Job]:
    """Every input file and its output folder, before any work.

    A folder's audio files (:func:`~asteroid_wsas.separation.audio_io.audio_files`, without
    ``output_dir`` when it is inside) keep their tree below ``output_dir``; a file named with
    others gets ``<output_dir>/<stem>/``; a file alone writes into ``output_dir``.

    Args:
        inputs: Files and folders.
        output_dir: The output folder.

    Returns:
        list[Job]: the jobs, in the inputs' order (a folder's files sorted).

    Raises:
        ValueError: An input that does not exist, no audio file at all, or two inputs that
            would be written to one folder.
    """
    missing = [p for p in inputs if not os.path.exists(p)]
    if missing:
        raise ValueError(f"input(s) not found: {', '.join(missing)}")
    jobs = []
    for arg in inputs:
        if os.path.isdir(arg):
            for path in audio_files(arg, exclude=output_dir):
                relative = os.path.splitext(os.path.relpath(path, arg))[0]
                jobs.append(Job(path, os.path.join(output_dir, relative)))
        elif len(inputs) > 1:  # files named with others: <stem>/ each
            stem = os.path.splitext(os.path.basename(arg))[0]
            jobs.append(Job(arg, os.path.join(output_dir, stem)))
        else:
            jobs.append(Job(arg, output_dir))
    if not jobs:
        raise ValueError(f"no audio files in {', '.join(inputs)}")
    taken = {}
    for job in jobs:
        key = os.path.normcase(os.path.abspath(job.folder))
        if key in taken:
            raise ValueError(
                f"{taken[key]} and {job.source} would both be written to {job.folder}; rename "
                "one or separate them apart"
            )
        taken[key] = job.source
    return jobs


def check_writable(folder: str) -> None:
    """Write a file in ``folder``: a folder that cannot be written fails now, not after the
    first separation. The folders made for the test are removed again: a command refused
    later (a model that does not load, an input that fails) leaves no empty folder; each
    job's folder is made when its outputs are written.

    Raises:
        ValueError: Naming the folder and why.
    """
    made = missing_folders(folder)
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ValueError(f"output folder {folder} is not writable ({reason})") from None
    finally:
        for path in made:  # deepest first; one another process writes in stays
            try:
                os.rmdir(path)
            except OSError:
                break


def pending_jobs(jobs: Sequence[Job], names: Sequence[str], force: bool) -> Tuple[List[Job], int]:
    """The jobs with their output files named, less those whose outputs all exist.

    Args:
        jobs: From :func:`plan_jobs`.
        names: From :func:`output_names`.
        force: Redo every job.

    Returns:
        tuple: the jobs to do, and how many were skipped.
    """
    todo, skipped = [], 0
    for job in jobs:
        job.files = [os.path.join(job.folder, f"{n}.wav") for n in names]
        job.existing = [f for f in job.files if os.path.exists(f)]
        if not force and len(job.existing) == len(job.files):
            skipped += 1
        else:
            todo.append(job)
    return todo, skipped


def run_jobs(
    separator: "Separator",
    jobs: Sequence[Job],
    queries: Sequence[str],
    *,
    force: bool = False,
    fail_fast: bool = False,
    subtype: str = "input",
    residual: bool = False,
    wait: bool = True,
    **options: Any,
) -> Iterator[Outcome]:
    """Separate job by job and write each one's files.

    A file libsndfile reads with an exact length goes through :meth:`Separator.separate_file
    <asteroid_wsas.separation.separator.Separator.separate_file>`: read forward and
    written block by block as windows complete (flat memory; the samples, presence scores
    and, to 1e-4 dB, levels of :meth:`Separator.separate
    <asteroid_wsas.separation.separator.Separator.separate>`). Others (MP3, what only PyAV
    decodes) and a MixIT separator's jobs are separated whole.

    Outputs of a job that exist already (an earlier, interrupted run) stay as they are
    unless ``force``. Each job holds its folder (:func:`~.audio_io.folder_lock`) from the
    check of its outputs to the last one written: a job whose outputs another process
    wrote meanwhile is skipped (``Outcome.skipped``), and one where it wrote only some
    fails rather than mix two inputs' estimates.

    Args:
        separator: A :class:`~asteroid_wsas.separation.separator.Separator`.
        jobs: From :func:`pending_jobs`.
        queries: Texts or ``image:PATH``.
        force: Rewrite outputs that exist.
        fail_fast: Raise at the first job that fails, instead of going on.
        subtype: The WAV sample format (:func:`~.audio_io.output_subtype`).
        residual: Also write the residual (the last output name).
        wait: Wait for a folder another process writes to (else raise).
        **options: More of :meth:`Separator.separate
            <asteroid_wsas.separation.separator.Separator.separate>`'s options
            (``negative``, ``chunk_seconds``, ``progress``, ...).

    Yields:
        Outcome: one per job, as it ends.

    Raises:
        ValueError: With ``fail_fast``: the first failure, naming the input.
        OutputWriteError: An output that could not be written (a full disk): the next
            inputs would fail alike, so the batch stops; the outputs written stay.
        FolderBusyError: Not ``wait``, and another process writes to a job's folder.
    """
    for job in jobs:
        try:
            with folder_lock(job.folder, wait):
                new, result = _outputs_to_write(job, force), None
                if new:
                    result = _separate_job(separator, job, new, queries, subtype, residual, options)
        except (OutputWriteError, FolderBusyError):
            raise  # the output side: every next input would fail the same way
        except (ValueError, RuntimeError, OSError) as err:
            message = str(err) if job.source in str(err) else f"{job.source}: {err}"
            if fail_fast:
                raise ValueError(message) from None
            yield Outcome(job, error=message)
        else:  # yielded with the folder let go: the caller may take its time
            yield Outcome(job, result=result, skipped=not new)


def _separate_job(
    separator: "Separator",
    job: Job,
    new: List[int],
    queries: Sequence[str],
    subtype: str,
    residual: bool,
    options: Dict[str, Any],
) -> Any:
    """Separate one job and write its files ``new`` (indices into ``job.files``): block by
    block where libsndfile reads the input with an exact length, else whole."""
    files = [job.files[k] for k in new]
    kind = output_subtype(subtype, job.source)
    info = _in_blocks(separator, job.source)
    if info is not None:  # read and written block by block: flat memory
        with OutputFiles(files, info.samplerate, info.channels, kind) as out:
            return separator.separate_file(
                job.source,
                queries,
                lambda block: out.write(block[new]),
                residual=residual,
                **options,
            )
    # decoded whole (PyAV, MP3), or a MixIT separator
    result = separator.separate(job.source, queries, residual=residual, **options)
    waves = list(result.estimates) + ([result.residual] if residual else [])
    with OutputFiles(files, result.sample_rate, waves[0].shape[0], kind) as out:
        out.write(np.stack([waves[k] for k in new]))
    return result


def _outputs_to_write(job: Job, force: bool) -> List[int]:
    """Which of the job's files to write (their indices), looked at under its folder's lock.

    Raises:
        ValueError: Another process wrote some of them since :func:`pending_jobs` looked,
            but not all: the rest, written now, would sit beside another input's.
    """
    if force:
        return list(range(len(job.files)))
    there = [os.path.exists(f) for f in job.files]
    known = job.files if job.existing is None else job.existing
    appeared = [f for f, t in zip(job.files, there) if t and f not in known]
    if appeared and not all(there):
        names = ", ".join(os.path.basename(f) for f in appeared)
        raise ValueError(
            f"{job.source}: another process wrote {names} in {job.folder} meanwhile; this "
            "input's other outputs would sit beside another input's (--force redoes them all)"
        )
    return [k for k, t in enumerate(there) if not t]


def _in_blocks(separator: "Separator", path: str) -> Any:
    """The file's ``soundfile.info`` when :meth:`Separator.separate_file
    <asteroid_wsas.separation.separator.Separator.separate_file>` can take it (libsndfile
    reads it and its length is exact; a text-queried separator), else None."""
    import soundfile as sf

    if separator.learned_queries or not os.path.isfile(path):  # a pipe is read once, whole
        return None
    try:
        info = sf.info(sf_path(path))
    except Exception:  # soundfile raises its own error types; separate() names the file
        return None
    # MP3's length is an estimate in libsndfile: the windows are planned on the length
    return info if info.format != "MPEG" and info.frames > 0 else None


def stream_to_files(
    separator: "Separator",
    reader: Any,
    files: Sequence[str],
    queries: Sequence[str],
    subtype: str,
    *,
    force: bool = False,
    wait: bool = True,
    **options: Any,
) -> None:
    """Separate an open sound file as a stream (:meth:`Separator.stream
    <asteroid_wsas.separation.separator.Separator.stream>`), writing the estimates block by
    block into ``files`` (whole or not at all); the reader is closed at the end.

    The files' folders are held (:func:`~.audio_io.folder_lock`) from the check that the
    files do not exist to the last block written.

    Args:
        separator: A :class:`~asteroid_wsas.separation.separator.Separator`.
        reader: A ``soundfile.SoundFile`` open for reading (a pipe works: it is read in
            blocks, never sought).
        files: One WAV per query (then the residual).
        queries: Texts or ``image:PATH``.
        subtype: The WAV sample format (:func:`~.audio_io.output_subtype`).
        force: Overwrite files that exist.
        wait: Wait for a folder another process writes to (else raise).
        **options: More of ``stream``'s options (``chunk_seconds``, ``residual``, ...).

    Raises:
        FileExistsError: A file exists (another process may have written it meanwhile),
            and not ``force``.
        OutputWriteError: A file could not be written (a full disk); none is left.
        FolderBusyError: Not ``wait``, and another process writes to a folder.
    """

    source = "standard input" if isinstance(reader.name, int) else f"audio file {reader.name}"

    def blocks() -> Iterator[np.ndarray]:
        size = max(1024, reader.samplerate // 10)
        whole = reader.subtype in ("FLOAT", "DOUBLE")  # integer PCM stored as float?
        while True:  # read(frames): blocks() needs a seekable file
            block = reader.read(size, dtype="float32", always_2d=True)
            if not len(block):
                return
            if whole:  # until a sample that is no whole number (float audio), or a warning
                peak = whole_peak(block)
                whole = peak is not None and peak <= 2.0
                if peak is not None and peak > 2.0:  # once, as a file's (not the array's)
                    warn_integer_scale(source, peak, FILE_FIX + " (from its first such block)")
            yield block.T

    kind = output_subtype(subtype, reader)
    with reader, contextlib.ExitStack() as held:
        # each folder once (a second lock would wait on the first), in one order: no deadlock
        folders = {os.path.realpath(os.path.dirname(f) or "."): os.path.dirname(f) for f in files}
        for real in sorted(folders):
            held.enter_context(folder_lock(folders[real] or ".", wait))
        refuse_overwrite(*files, force=force)
        with OutputFiles(files, reader.samplerate, reader.channels, kind) as out:
            # blocks() says the scale as the file's: the stream's own (per block) check off
            options["check_scale"] = False
            stream = separator.stream(blocks(), queries, sample_rate=reader.samplerate, **options)
            for block in stream:
                out.write(block)
