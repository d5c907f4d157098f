"""Separation with a trained model, one concept per module (Demucs's seams).

============== ==============================================================================
module         what it holds
============== ==============================================================================
``contract``   torch-free: the image-query prefix, the one check of queries
               (:func:`~.contract.check_queries`), the user-facing errors and warnings
``queries``    user queries as the encoder reads them (texts, image tensors), and warnings
               of queries the encoder cannot read or tell apart
``core``       :func:`~.core.separate_batch`, the one separation path: queries encoded once
               (:class:`~.core.EncodedQueries`), masks to waveforms, the output selections
``windows``    chunking, crossfades, the FIFO, the stream resampler and streaming
``audio_io``   reading audio, finding audio files, writing WAV files whole, one writer
               per output folder (:func:`~.audio_io.folder_lock`)
``jobs``       batches of files: the output tree, collisions, skip-existing, failures
``separator``  :class:`~.separator.Separator`: loading, saving, ``separate``, ``stream``
============== ==============================================================================

This file imports nothing, so that the command line reads :mod:`.contract` without torch;
``from asteroid_wsas import Separator`` is the short way to the class.
"""
