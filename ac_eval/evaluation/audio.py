"""Decode an item's audio: soundfile to decode, first-channel-averaged mono, soxr to resample.

Every failure is an `AudioError` that names the file, so a run can count it per item and go on.
"""

from __future__ import annotations

import functools
import io
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np
import soundfile as sf
import soxr

from ac_eval.evaluation.records import AudioRef


class AudioError(Exception):
    """The audio of one item cannot be used (missing, corrupt, empty)."""


# A read that takes longer than this (a stalled network mount, say) becomes the item's audio error.
READ_TIMEOUT_S = float(os.environ.get("AC_EVAL_AUDIO_TIMEOUT", "60"))
# Longer clips are refused before they are decoded (from the header's length) or as soon as decoding passes the
# limit: a 4 MB FLAC of 24 h of silence would otherwise take 7 GB. Benchmarks' clips are seconds to minutes.
MAX_AUDIO_SECONDS = float(os.environ.get("AC_EVAL_MAX_AUDIO_SECONDS", "600"))
UNKNOWN_LENGTH = 2**62  # libsndfile reports SF_COUNT_MAX frames for a stream that does not declare its length
BLOCK_FRAMES = 1 << 16
_readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ac-eval-audio")


def load_audio(ref: AudioRef, sample_rate: int) -> np.ndarray:
    """Return the clip as float32 mono at `sample_rate`. Raises AudioError naming the file on any problem."""
    source = _open_source(ref)
    future = _readers.submit(decode, source, ref.describe())
    try:
        data, sr = future.result(timeout=READ_TIMEOUT_S)
    except FutureTimeout as e:
        raise AudioError(f"reading audio {ref.describe()} took more than {READ_TIMEOUT_S:g} s "
                         "(AC_EVAL_AUDIO_TIMEOUT sets the limit)") from e
    if data.shape[0] == 0:
        raise AudioError(f"audio {ref.describe()} is empty (0 samples)")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"audio {ref.describe()} contains NaN or infinite samples")
    if sr != sample_rate:
        mono = soxr.resample(mono, sr, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def decode(source, what: str, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """(frames x channels float32, sample rate), at most `max_seconds` (default MAX_AUDIO_SECONDS) long: a header
    that declares more is refused before decoding, and a stream that declares no length (a streamed FLAC) is decoded
    block by block and refused once it passes the limit. AudioError naming `what` on any problem."""
    max_seconds = MAX_AUDIO_SECONDS if max_seconds is None else max_seconds
    try:
        with sf.SoundFile(source) as f:
            limit = int(max_seconds * f.samplerate)
            declared = f.frames if f.frames < UNKNOWN_LENGTH else None
            if declared is not None and declared > limit:
                raise AudioError(_too_long(what, f"is {declared / f.samplerate:,.0f} s long (its header says)", max_seconds))
            # Read straight through: soundfile updates its position by seeking after each read, which a stream that
            # declares no length refuses at its end (losing the last block).
            f.seekable = lambda: False
            blocks, n, want = [], 0, declared if declared is not None else BLOCK_FRAMES
            while n <= limit:
                block = f.read(frames=min(want, limit + 1 - n), dtype="float32", always_2d=True)
                if not len(block):
                    break
                blocks.append(block)
                n, want = n + len(block), BLOCK_FRAMES
            if n > limit:
                raise AudioError(_too_long(what, f"runs past {max_seconds:g} s (decoding stopped there)", max_seconds))
            data = blocks[0] if len(blocks) == 1 else np.concatenate(blocks) if blocks else np.zeros((0, f.channels), np.float32)
            return data, f.samplerate
    except AudioError:
        raise
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / TypeError for bad files
        # libsndfile says "File does not exist" of files it cannot parse (an MP3 that is only an ID3 tag, say)
        reason = str(e).replace("File does not exist or is not a regular file (possibly a pipe?).",
                                "no audio libsndfile can read in it")
        raise AudioError(f"cannot decode audio {what}: {reason}") from e


def _too_long(what: str, how: str, max_seconds: float) -> str:
    return (f"audio {what} {how}; clips are limited to {max_seconds:g} s "
            "(AC_EVAL_MAX_AUDIO_SECONDS raises the limit)")


def audio_num_samples(ref: AudioRef, sample_rate: int) -> int:
    """Length of the clip at `sample_rate`, from the header (used by `silent-matched`); a stream that declares no
    length is decoded (within the limit) to count it. Never more than MAX_AUDIO_SECONDS."""
    source = _open_source(ref)
    try:
        info = sf.info(source)
    except Exception as e:
        raise AudioError(f"cannot read audio header of {ref.describe()}: {e}") from e
    frames, rate = info.frames, info.samplerate
    if frames >= UNKNOWN_LENGTH:
        frames, rate = len(decode(_open_source(ref), ref.describe())[0]), info.samplerate
    elif frames > MAX_AUDIO_SECONDS * rate:
        raise AudioError(_too_long(ref.describe(), f"is {frames / rate:,.0f} s long (its header says)", MAX_AUDIO_SECONDS))
    if frames == 0:
        raise AudioError(f"audio {ref.describe()} is empty (0 samples)")
    return int(round(frames * sample_rate / rate))


def _open_source(ref: AudioRef):
    if ref.outside_root:
        raise AudioError(f"audio path {ref.path} is outside the data root {ref.outside_root}: refused "
                         "(--allow-audio-outside-root reads it)")
    if ref.row is None:
        if not os.path.exists(ref.path):
            raise AudioError(f"audio file not found: {ref.path}")
        if not stat.S_ISREG(os.stat(ref.path).st_mode):  # a FIFO or device would block the read forever
            raise AudioError(f"audio path {ref.path} is not a regular file")
        if not os.access(ref.path, os.R_OK):
            raise AudioError(f"audio file {ref.path} cannot be read (permission denied): fix its permissions")
        return ref.path
    return io.BytesIO(_parquet_audio_bytes(ref))


def _parquet_audio_bytes(ref: AudioRef) -> bytes:
    table = _parquet_table(ref.path)
    try:
        cell = table[ref.row][ref.column]
    except (IndexError, KeyError) as e:
        raise AudioError(f"no audio at {ref.describe()}: {e}") from e
    data = cell.get("bytes") if isinstance(cell, dict) else None
    if not data:
        raise AudioError(f"no embedded audio bytes at {ref.describe()}")
    return data


@functools.lru_cache(maxsize=8)
def _parquet_table(path: str):
    """The parquet file as a memory-mapped `datasets.Dataset`, audio left undecoded (no torchcodec/FFmpeg)."""
    import datasets

    ds = datasets.load_dataset("parquet", data_files=path, split="train")
    if "audio" in ds.features:
        ds = ds.cast_column("audio", datasets.Audio(decode=False))
    return ds
