"""Windows of a long input: chunking, crossfades, and streaming at a fixed latency.

:meth:`Separator.separate <asteroid_wsas.separation.separator.Separator.separate>` cuts a
long input into the windows of :func:`crossfade_windows` and adds their estimates
(:func:`overlap_add`); :meth:`Separator.stream
<asteroid_wsas.separation.separator.Separator.stream>` cuts a stream into the same windows
(:class:`Stream`), resampling block by block (:class:`StreamResampler`) through queues that
hold about a chunk (:class:`Fifo`). The model runs through a callable, so this module knows
nothing of queries or encoders.
"""

import math
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
import torchaudio

from .audio_io import ARRAY_FIX, float_samples, integer_scale_peak, warn_integer_scale
from .contract import check_seconds

__all__ = [
    "DEFAULT_CHUNK",
    "chunk_sizes",
    "fade_weights",
    "crossfade_windows",
    "overlap_add_blocks",
    "overlap_add",
    "Fifo",
    "sinc_width",
    "StreamResampler",
    "resampled_length",
    "Stream",
    "stream_latency",
    "stream_blocks",
    "FileWindows",
    "ResampledReader",
]

DEFAULT_CHUNK = 10.0  # seconds: about the training clips' length, and flat memory
# run(window (C, L), size) -> estimates (K, C, L): one window through the model
WindowRun = Callable[[torch.Tensor, int], torch.Tensor]


def chunk_sizes(
    chunk_seconds: Optional[float],
    overlap_seconds: float,
    sample_rate: int,
    min_samples: int = 1,
    names: Tuple[str, str] = ("chunk_seconds", "overlap_seconds"),
) -> Tuple[int, int]:
    """Chunk and crossfade in samples at ``sample_rate`` (the crossfade at most half a
    chunk): the one check of window settings, made before any audio is read.

    Args:
        chunk_seconds: Window length (None: :data:`DEFAULT_CHUNK`).
        overlap_seconds: Crossfade between windows.
        sample_rate: The model's rate.
        min_samples: The shortest window the model takes (its STFT window, ``n_fft``).
        names: The two settings' names in messages (the command line's options).

    Returns:
        tuple: ``(chunk, overlap)`` in samples.

    Raises:
        ValueError: A setting that is not a finite number, a chunk not longer than twice
            the crossfade, or shorter than ``min_samples``; naming the setting.

    Examples:
        >>> chunk_sizes(0.25, 0.0625, 8000)
        (2000, 500)
        >>> chunk_sizes(0.01, 0.0, 8000, min_samples=126)
        Traceback (most recent call last):
            ...
        ValueError: chunk_seconds=0.01 is 80 samples at the model's 8000 Hz, shorter than its STFT window (126 samples): give at least 0.016
    """
    chunk_name, overlap_name = names
    seconds = DEFAULT_CHUNK if chunk_seconds is None else check_seconds(chunk_seconds, chunk_name)
    overlap_seconds = check_seconds(overlap_seconds, overlap_name, positive=False)
    if overlap_seconds * 2 > seconds:
        raise ValueError(
            f"{chunk_name} must be at least twice {overlap_name}, got {seconds:g} and "
            f"{overlap_seconds:g}"
        )
    if not math.isfinite(seconds * sample_rate):  # 1e308 s: finite, but not in samples
        raise ValueError(f"{chunk_name}={seconds:g} is too long to count in samples")
    chunk = int(round(seconds * sample_rate))
    if chunk < max(1, min_samples):
        shortest = math.ceil(max(1, min_samples) / sample_rate * 1000) / 1000
        window = f"its STFT window ({min_samples} samples)" if min_samples > 1 else "a sample"
        raise ValueError(
            f"{chunk_name}={chunk_seconds} is {chunk} sample{'s' * (chunk != 1)} at the "
            f"model's {sample_rate} Hz, "
            f"shorter than {window}: give at least {shortest:g}"
        )
    return chunk, min(int(round(overlap_seconds * sample_rate)), chunk // 2)


def fade_weights(size: int, overlap: int, first: bool, last: bool) -> Optional[torch.Tensor]:
    """Weights of one window of ``size`` samples: a linear fade-in over its first ``overlap``
    samples (unless ``first``) and a fade-out over its last (unless ``last``); None for a
    window with no neighbour. A fade-out and the next window's fade-in sum to one."""
    if first and last:
        return None
    weight = torch.ones(size)
    if overlap and not first:
        weight[:overlap] = torch.linspace(0, 1, overlap + 2)[1:-1]
    if overlap and not last:
        weight[size - overlap :] = torch.linspace(1, 0, overlap + 2)[1:-1]
    return weight


def crossfade_windows(
    length: int, chunk: int, overlap: int
) -> List[Tuple[int, int, Optional[torch.Tensor]]]:
    """(start, stop, weights) of the windows that cover ``length`` samples.

    One window every ``chunk - overlap`` samples; the last one ends at ``length`` and is
    shorter than a chunk unless the length falls on a window's end (it is separated
    zero-padded to the chunk). Where a window starts depends only on the ones before it, so
    a stream (:class:`Stream`) is cut into the same windows as the whole input.
    """
    if length <= chunk:
        return [(0, length, None)]
    hop = chunk - overlap
    out, start = [], 0
    while True:
        stop = min(start + chunk, length)
        last = stop == length
        out.append((start, stop, fade_weights(stop - start, overlap, start == 0, last)))
        if last:
            return out
        start += hop


def overlap_add_blocks(
    window: Callable[[int, int], torch.Tensor],
    length: int,
    chunk: int,
    overlap: int,
    run: WindowRun,
    progress: Union[bool, Callable[[int, int], Any]] = False,
) -> Iterator[torch.Tensor]:
    """Estimates of an input of ``length`` samples, window by window, crossfaded, given out
    as soon as no later window adds to them.

    The one windowing of :meth:`Separator.separate
    <asteroid_wsas.separation.separator.Separator.separate>`: :func:`overlap_add`
    concatenates the blocks, and a file separated block by block writes them as they come,
    so both give the same samples. Only the last window's crossfade (``overlap`` samples) is
    held between windows.

    Args:
        window: ``window(start, stop)`` gives the input :math:`(C, stop - start)`; it is
            asked for the windows of :func:`crossfade_windows` in order (starts and stops
            increase), so a file can be read forward.
        length: The input's length in samples.
        chunk: Window length in samples (``chunk >= length``: one pass).
        overlap: Crossfade in samples.
        run: One window through the model (:data:`WindowRun`); a window after the first is
            separated padded to ``chunk``, the first is whole or a chunk.
        progress: A bar over the windows (when there are several), or a callable called as
            ``progress(windows_done, windows_total)`` after each window.

    Yields:
        torch.Tensor: :math:`(K, C, t)` blocks that cover the input in order (one per
        window: from its start to the next window's).

    Examples:
        >>> x = torch.ones(1, 10)
        >>> blocks = overlap_add_blocks(lambda a, b: x[:, a:b], 10, 4, 2,
        ...                             lambda w, size: w[None])
        >>> [b.shape[-1] for b in blocks]  # a block every hop, then the last window
        [2, 2, 2, 4]
    """
    windows = crossfade_windows(length, chunk, overlap)
    iterator = windows
    if progress is True and len(windows) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(windows, desc="separating", unit="chunk")
    held = None  # (K, C, n): the sums from the current window's start on
    for done, (start, stop, weight) in enumerate(iterator, 1):
        # contiguous, whatever the source: a view of a tensor and a block read from a file
        # reach the model alike
        est = run(window(start, stop).contiguous(), chunk if start else stop - start)
        if weight is not None:
            est = est * weight.to(est.device)
        if held is None:
            held = torch.zeros(*est.shape[:2], 0, device=est.device)
        # zeros first, as a sum that starts from nothing: the same additions in every path
        grow = stop - start - held.shape[-1]
        held = torch.cat([held, torch.zeros(*est.shape[:2], grow, device=est.device)], -1)
        held += est
        end = stop - start if done == len(windows) else chunk - overlap
        if callable(progress):
            progress(done, len(windows))
        yield held[..., :end]
        held = held[..., end:].clone()


def overlap_add(
    x: torch.Tensor,
    chunk: int,
    overlap: int,
    run: WindowRun,
    progress: Union[bool, Callable[[int, int], Any]] = False,
) -> torch.Tensor:
    """Estimates of a whole input, window by window, crossfaded
    (:func:`overlap_add_blocks`' blocks, concatenated).

    Args:
        x: The input :math:`(C, T)` at the model's rate.
        chunk: Window length in samples (``chunk >= T``: one pass).
        overlap: Crossfade in samples.
        run: One window through the model (:data:`WindowRun`); a window after the first is
            separated padded to ``chunk``, the first is whole or a chunk.
        progress: A bar over the windows (when there are several), or a callable called as
            ``progress(windows_done, windows_total)`` after each window.

    Returns:
        torch.Tensor: :math:`(K, C, T)` on ``x``'s device.
    """
    out, at = None, 0
    for block in overlap_add_blocks(
        lambda a, b: x[:, a:b], x.shape[-1], chunk, overlap, run, progress
    ):
        if out is None:  # one allocation: the blocks are copied in, not concatenated
            out = torch.empty(*block.shape[:2], x.shape[-1], device=block.device)
        out[..., at : at + block.shape[-1]] = block
        at += block.shape[-1]
    return out


class Fifo:
    """Samples :math:`(R, T)` appended at the end and dropped from the front. The buffer is
    compacted in place before it grows, so its size follows the largest backlog, not the
    number of samples that went through."""

    def __init__(self, rows: int, device: torch.device):
        self.data = torch.zeros(rows, 0, device=device)
        self.start = self.stop = 0

    def __len__(self) -> int:
        return self.stop - self.start

    def append(self, x: torch.Tensor) -> None:
        n = x.shape[-1]
        if self.stop + n > self.data.shape[-1]:
            held = self.data[:, self.start : self.stop].clone()
            if len(self) + n > self.data.shape[-1]:  # doubling: amortised O(1) per sample
                size = max(2 * self.data.shape[-1], len(self) + n)
                self.data = torch.zeros(self.data.shape[0], size, device=self.data.device)
            self.data[:, : held.shape[-1]] = held
            self.start, self.stop = 0, held.shape[-1]
        self.data[:, self.stop : self.stop + n] = x
        self.stop += n

    def view(self, n: Optional[int] = None) -> torch.Tensor:
        return self.data[:, self.start : self.stop if n is None else self.start + n]

    def drop(self, n: int) -> None:
        self.start = min(self.start + n, self.stop)


def sinc_width(orig: int, new: int) -> int:
    """Half-length (in ``orig`` samples) of torchaudio's default sinc resampling kernel
    (``lowpass_filter_width=6``, ``rolloff=0.99``), for the latency without the kernel."""
    g = math.gcd(orig, new)
    base = min(orig // g, new // g) * 0.99
    return math.ceil(6 * (orig // g) / base)


class StreamResampler:
    """``torchaudio.functional.resample`` (same kernel, same zero padding at both ends) block
    by block: the concatenated output equals resampling the whole signal, to rounding.

    The signal goes in frames of ``orig / gcd`` samples, each giving ``new / gcd`` samples;
    a frame needs ``width`` samples of look-ahead, so an output lags the input by at most
    ``width + orig / gcd`` input samples.
    """

    def __init__(self, orig: int, new: int, device: torch.device):
        transform = torchaudio.transforms.Resample(orig, new, dtype=torch.float32)
        self.kernel = transform.kernel.to(device)  # (new / g, 1, 2 width + orig / g)
        self.width = transform.width
        g = math.gcd(orig, new)
        self.orig, self.new = orig // g, new // g
        self.device = device
        self.fifo: Optional[Fifo] = None  # padded input from the next frame's first sample
        self.received = 0
        self.frames = 0

    def push(self, x: torch.Tensor) -> None:
        """Take :math:`(R, t)`; :meth:`pull` gives what is complete."""
        if self.fifo is None:
            self.fifo = Fifo(x.shape[0], self.device)
            self.fifo.append(torch.zeros(x.shape[0], self.width, device=self.device))
        self.fifo.append(x.to(self.device))
        self.received += x.shape[-1]

    def ready(self) -> int:
        """How many output samples :meth:`pull` would give now."""
        frames = max(0, (self.received - self.width - self.orig) // self.orig + 1)
        return (frames - self.frames) * self.new

    def pull(self) -> torch.Tensor:
        """The :math:`(R, t')` output samples complete now (a convolution per call: call it
        when enough is ready, not for every small block)."""
        return self._frames(self.ready() // self.new)

    def finish(self, rows: int) -> torch.Tensor:
        """The rest, with torchaudio's zero padding, cut to its output length."""
        if self.fifo is None:
            return torch.zeros(rows, 0, device=self.device)
        self.fifo.append(torch.zeros(rows, self.width + self.orig, device=self.device))
        done = self.frames * self.new
        rest = self._frames(self.received // self.orig + 1 - self.frames)
        # torchaudio's own expression (a float32 ceil), so the lengths agree exactly
        total = int(torch.ceil(torch.as_tensor(self.new * self.received / self.orig)))
        return rest[:, : max(0, total - done)]

    def _frames(self, count: int) -> torch.Tensor:
        rows = self.fifo.data.shape[0]
        if count <= 0:
            return torch.zeros(rows, 0, device=self.device)
        size = (count - 1) * self.orig + self.kernel.shape[-1]
        out = torch.nn.functional.conv1d(
            self.fifo.view(size)[:, None], self.kernel, stride=self.orig
        )  # (R, new, count): frame by frame, as torchaudio interleaves them
        self.fifo.drop(count * self.orig)
        self.frames += count
        return out.transpose(1, 2).reshape(rows, -1)


def resampled_length(length: int, orig: int, new: int) -> int:
    """How many samples ``torchaudio.functional.resample`` gives for ``length`` at ``orig``
    resampled to ``new`` (its own float32 expression, so the lengths agree exactly).

    Examples:
        >>> resampled_length(44100, 44100, 8000), resampled_length(5, 3, 3)
        (8000, 5)
    """
    if orig == new:
        return length
    g = math.gcd(orig, new)
    return int(torch.ceil(torch.as_tensor((new // g) * length / (orig // g))))


class Stream:
    """State of one :meth:`Separator.stream
    <asteroid_wsas.separation.separator.Separator.stream>`: resampler to the model's rate,
    the current window, the previous window's end awaiting its fade-out, the resampler
    back, and what is ready but not yet given out. Every buffer holds at most about a chunk
    (a piece of a block is at most a hop; the input is resampled only when a window can
    run).

    Args:
        run: ``run(window (C, L), size) -> (K, C, L)`` at the model's rate.
        outputs: K, the estimates per window.
        channels: C.
        chunk: Window length (model samples).
        overlap: Crossfade (model samples).
        rate: The stream's rate.
        model_rate: The model's rate.
        device: Where the model runs.
        residual: Also give the input minus the sum of the estimates (a last row).
    """

    def __init__(self, run, outputs, channels, chunk, overlap, rate, model_rate, device, residual):
        self.run = run
        self.outputs, self.channels = outputs, channels
        self.chunk, self.overlap, self.hop = chunk, overlap, chunk - overlap
        self.device = device
        cpu = torch.device("cpu")
        # separate() resamples the input on the CPU and the estimates on the device: so here
        self.to_model = None if rate == model_rate else StreamResampler(rate, model_rate, cpu)
        self.to_input = None if rate == model_rate else StreamResampler(model_rate, rate, device)
        self.window = Fifo(channels, device)  # model-rate input from the next window's start
        self.index = 0  # the next window's number
        self.tail: Optional[torch.Tensor] = None  # (K, C, overlap) end of the last window
        self.tail_weight: Optional[torch.Tensor] = None
        self.pending = Fifo(outputs * channels, cpu)  # ready, not given out (input rate)
        self.inputs = Fifo(channels, cpu) if residual else None  # for the residual
        self.received = self.given = 0  # input samples

    def held(self) -> Dict[str, int]:
        """Samples each buffer holds now (memory stays flat: none grows with the stream)."""
        held = {"window": len(self.window), "pending": len(self.pending)}
        if self.tail is not None:
            held["tail"] = self.tail.shape[-1]
        if self.inputs is not None:
            held["inputs"] = len(self.inputs)
        for name, resampler in (("to_model", self.to_model), ("to_input", self.to_input)):
            if resampler is not None and resampler.fifo is not None:
                held[name] = len(resampler.fifo)
        return held

    def push(self, block: torch.Tensor) -> Optional[torch.Tensor]:
        """A block :math:`(C, t)` at the stream's rate in; what is ready out (or None)."""
        self.received += block.shape[-1]
        if self.inputs is not None:
            self.inputs.append(block)
        if self.to_model is None:
            x = block
        else:  # resampled when a window can run: a few big convolutions, not one per block
            self.to_model.push(block)
            if self.to_model.ready() >= self.chunk - len(self.window):
                x = self.to_model.pull()
            else:
                x = torch.zeros(self.channels, 0)
        return self._give(self._separate(x.to(self.device), final=False), final=False)

    def finish(self) -> Optional[torch.Tensor]:
        """The end of the stream: the last windows, and everything still held."""
        if self.to_model is None:
            x = torch.zeros(self.channels, 0)
        else:
            x = self.to_model.finish(self.channels)  # all frames still to come
        return self._give(self._separate(x.to(self.device), final=True), final=True)

    def _separate(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        """Model-rate estimates :math:`(K, C, t)` that no later window changes."""
        self.window.append(x)
        done = []
        while len(self.window) >= self.chunk:  # a full window: all but its end is final
            est = self.run(self.window.view(self.chunk), self.chunk)
            # whether this window is the last is unknown; its end waits for the next one
            weight = fade_weights(self.chunk, self.overlap, self.index == 0, False)
            weight = weight.to(self.device)
            head = est[..., : self.hop] * weight[: self.hop]
            if self.index:  # the previous window's faded end first, as separate() adds it
                head[..., : self.overlap] = self._faded_tail() + head[..., : self.overlap]
            done.append(head)
            self.tail, self.tail_weight = est[..., self.hop :], weight[self.hop :]
            self.window.drop(self.hop)
            self.index += 1
        if final:
            rest = len(self.window)
            if self.index == 0 and rest:  # shorter than a chunk: one pass, no crossfade
                done.append(self.run(self.window.view(rest), rest))
            elif self.index and rest > self.overlap:  # a shorter trailing window
                est = self.run(self.window.view(rest), self.chunk)
                est = est * fade_weights(rest, self.overlap, False, True).to(self.device)
                est[..., : self.overlap] = self._faded_tail() + est[..., : self.overlap]
                done.append(est)
            elif self.index:  # the last full window ended the stream: no fade-out
                done.append(self.tail)
            self.window.drop(rest)
            self.tail = None
        if not done:
            return torch.zeros(self.outputs, self.channels, 0, device=self.device)
        return torch.cat(done, -1)

    def _faded_tail(self) -> torch.Tensor:
        return self.tail * self.tail_weight

    def _give(self, y: torch.Tensor, final: bool) -> Optional[torch.Tensor]:
        """Model-rate estimates to the input's rate; out what the input has reached."""
        rows = self.outputs * self.channels
        z = y.reshape(rows, -1)
        if self.to_input is not None:
            self.to_input.push(z)
            z = self.to_input.pull()
            if final:
                z = torch.cat([z, self.to_input.finish(rows)], -1)
        self.pending.append(z.cpu())
        # the output is as long as the input (separate() cuts or pads the resampled end)
        n = self.received - self.given
        if not final:
            n = min(n, len(self.pending))
        if n <= 0:
            return None
        out = self.pending.view(n).clone()  # the buffer's memory is reused
        if out.shape[-1] < n:
            out = torch.nn.functional.pad(out, (0, n - out.shape[-1]))
        out = out.reshape(self.outputs, self.channels, n)
        self.pending.drop(n)
        self.given += n
        if self.inputs is not None:
            res = self.inputs.view(n) - out.sum(0)
            self.inputs.drop(n)
            out = torch.cat([out, res[None]])
        return out


def stream_latency(rate: int, model_rate: int, chunk: int) -> int:
    """The most input samples a :class:`Stream`'s output lags behind its input: the chunk
    at the model's rate, plus the two resamplers' look-ahead at another rate (the formula:
    :meth:`Separator.stream_latency
    <asteroid_wsas.separation.separator.Separator.stream_latency>`).

    Args:
        rate: The stream's rate.
        model_rate: The model's rate.
        chunk: The window in model samples.

    Returns:
        int: the latency in samples at ``rate``.

    Examples:
        >>> stream_latency(8000, 8000, 80000)
        80000
    """
    if rate == model_rate:
        return chunk
    g = math.gcd(rate, model_rate)
    look_in = sinc_width(rate, model_rate) + rate // g
    look_out = sinc_width(model_rate, rate) + model_rate // g
    return math.ceil(look_in + (chunk + look_out) * rate / model_rate)


def stream_blocks(
    chunks: Iterable, start: Callable[[int], Stream], piece: int, check_scale: bool = True
) -> Iterator[Union[np.ndarray, torch.Tensor]]:
    """Blocks in, estimates out: each block checked, then pushed ``piece`` samples at a
    time (a big block makes no buffer bigger than that) into the :class:`Stream` that
    ``start(channels)`` makes on the first block.

    Args:
        chunks: Blocks :math:`(T,)` or :math:`(C, T)`, numpy or torch (empty ones skipped).
        start: Makes the stream for the first block's channel count.
        piece: Most samples pushed at once.
        check_scale: Warn once about float blocks of integer scale (False: the caller
            checks its source itself).

    Yields:
        Estimates :math:`(K, C, t)` (:math:`(K, t)` for 1-D blocks), numpy for numpy blocks.

    Raises:
        ValueError: A block that is no array, of a bad shape, channel count or sample type
            (:func:`~.audio_io.float_samples`), or holding NaN; a stream without audio.
    """
    state, kind, one_d, warned = None, None, False, not check_scale
    for index, block in enumerate(chunks):
        if not isinstance(block, (np.ndarray, torch.Tensor)):
            raise ValueError(f"block {index} is a {type(block).__name__}, not an array")
        # integer PCM to [-1, 1], as separate(); floats of integer scale said once per stream
        wav = float_samples(block, f"block {index}", check_scale=False)
        peak = None if warned else integer_scale_peak(wav)
        if peak is not None:
            warned = True
            warn_integer_scale(
                f"block {index}", peak, ARRAY_FIX + " (said of a stream's first such block only)"
            )
        if wav.dim() == 1:
            wav = wav[None]
        if wav.dim() != 2 or (wav.shape[0] > 16 and wav.shape[1] <= 16):
            raise ValueError(
                f"block {index} has shape {tuple(block.shape)}; blocks are (time,) or "
                "(channels, time), channels first"
            )
        if wav.shape[-1] == 0:
            continue
        if not torch.isfinite(wav).all():
            raise ValueError(f"block {index} holds NaN or infinite values")
        if state is None:
            kind = "numpy" if isinstance(block, np.ndarray) else "torch"
            one_d = block.ndim == 1
            state = start(wav.shape[0])
        elif wav.shape[0] != state.channels:
            raise ValueError(
                f"block {index} has {wav.shape[0]} channels, the stream {state.channels}"
            )
        for part in wav.split(piece, dim=-1):
            out = state.push(part)
            if out is not None:
                yield _as_output(out, kind, one_d)
    if state is None:
        raise ValueError("the stream held no audio")
    out = state.finish()
    if out is not None:
        yield _as_output(out, kind, one_d)


def _as_output(out: torch.Tensor, kind: str, one_d: bool) -> Union[np.ndarray, torch.Tensor]:
    """A stream's block as its input came: 1-D blocks give :math:`(K, t)`, numpy gives numpy."""
    if one_d:
        out = out[:, 0]
    return out.numpy() if kind == "numpy" else out


class FileWindows:
    """An open sound file read forward, as the windows of a separation ask for it: only the
    samples from the first one still wanted to the last one read are held (about a chunk),
    never the whole file.

    Args:
        reader: A ``soundfile.SoundFile`` open for reading, at its start.
        length: How many frames it has (``reader.frames``).
        name: The file's name, for errors.

    Examples:
        >>> import soundfile as sf  # doctest: +SKIP
        >>> with sf.SoundFile("long.wav") as f:  # doctest: +SKIP
        ...     windows = FileWindows(f, f.frames, "long.wav")
        ...     first = windows(0, 80000)  # (channels, 80000)
        ...     windows.release(72000)  # nothing before sample 72000 is asked for again
    """

    def __init__(self, reader: Any, length: int, name: str):
        self.reader, self.length, self.name = reader, int(length), name
        self.data = torch.zeros(reader.channels, 0)
        self.start = 0  # the file's sample that data[:, 0] holds
        self.largest_read = 0  # the most frames read at once (memory stays flat)

    def __call__(self, start: int, stop: int) -> torch.Tensor:
        """The samples :math:`[start, stop)`, :math:`(C, stop - start)` (a view: copy it to
        keep it); ``start`` is at or after the last :meth:`release`."""
        if start < self.start:
            raise ValueError(f"samples from {start} on were released (now from {self.start})")
        need = stop - self.start - self.data.shape[-1]
        if need > 0:
            block = self.reader.read(need, dtype="float32", always_2d=True)
            self.largest_read = max(self.largest_read, need)
            if len(block) < need:  # the header promised more
                got = self.start + self.data.shape[-1] + len(block)
                raise ValueError(
                    f"audio file {self.name} ended after {got} of its {self.length} samples"
                )
            self.data = torch.cat([self.data, torch.from_numpy(np.ascontiguousarray(block.T))], -1)
        return self.data[:, start - self.start : stop - self.start]

    def release(self, until: int) -> None:
        """Forget the samples before ``until``."""
        drop = min(until - self.start, self.data.shape[-1])
        if drop > 0:
            self.data = self.data[:, drop:]
            self.start += drop


class ResampledReader:
    """An open sound file read forward at another rate: ``read`` as a ``soundfile.SoundFile``
    reads, through :class:`~asteroid_wsas.separation.windows.StreamResampler`
    (``torchaudio.functional.resample``'s kernel, block by block), keeping what was read at
    the file's own rate until :meth:`take` gives it out (the residual and levels need it).

    Args:
        reader: A ``soundfile.SoundFile`` open for reading, at its start.
        length: Its frames.
        rate: The rate to read at.
        name: The file's name, for errors.
    """

    def __init__(self, reader: Any, length: int, rate: int, name: str):

        self.reader, self.name, self.channels = reader, name, reader.channels
        self.length, self.left = int(length), int(length)
        cpu = torch.device("cpu")
        self.resampler = StreamResampler(reader.samplerate, int(rate), cpu)
        self.ready = Fifo(self.channels, cpu)  # resampled, not read yet
        self.inputs = Fifo(self.channels, cpu)  # at the file's rate, not taken yet
        self.step = max(4096, reader.samplerate // 10)
        self.ended = False

    def read(self, frames: int, dtype: str = "float32", always_2d: bool = True) -> np.ndarray:
        """Up to ``frames`` resampled frames :math:`(t, C)` (fewer only at the end)."""
        while len(self.ready) < frames and not self.ended:
            if self.left == 0:  # torchaudio's zero padding at the end
                self.ready.append(self.resampler.finish(self.channels))
                self.ended = True
                continue
            block = self.reader.read(min(self.step, self.left), dtype="float32", always_2d=True)
            if not len(block):
                raise ValueError(
                    f"audio file {self.name} ended after {self.length - self.left} of its "
                    f"{self.length} samples"
                )
            self.left -= len(block)
            x = torch.from_numpy(np.ascontiguousarray(block.T))
            self.inputs.append(x)
            self.resampler.push(x)
            self.ready.append(self.resampler.pull())
        n = min(frames, len(self.ready))
        out = self.ready.view(n).T.numpy().copy()
        self.ready.drop(n)
        return out

    def take(self, n: int) -> torch.Tensor:
        """The next ``n`` samples :math:`(C, n)` at the file's rate (read already)."""
        out = self.inputs.view(n).clone()
        self.inputs.drop(n)
        return out
