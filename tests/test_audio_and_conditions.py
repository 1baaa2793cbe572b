import numpy as np
import pytest
import soundfile as sf

from ac_eval.evaluation.audio import AudioError, load_audio
from ac_eval.evaluation.conditions import CONDITIONS, SilentCondition, get_condition
from ac_eval.evaluation.records import AudioRef


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(AudioError, match="not found: .*nope.wav"):
        load_audio(AudioRef(str(tmp_path / "nope.wav")), 16000)


def test_corrupt_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(AudioError, match="cannot decode audio .*bad.wav"):
        load_audio(AudioRef(str(bad)), 16000)


def test_zero_length_clip(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="empty"):
        load_audio(AudioRef(str(empty)), 16000)
    with pytest.raises(AudioError, match="empty"):
        get_condition("silent-matched").audio_for(AudioRef(str(empty)), 16000)


def test_48k_stereo_becomes_16k_mono(tmp_path):
    path = tmp_path / "stereo.wav"
    t = np.arange(48000) / 48000
    left, right = np.sin(2 * np.pi * 440 * t), np.zeros_like(t)
    sf.write(path, np.stack([left, right], axis=1).astype(np.float32), 48000)
    clip = load_audio(AudioRef(str(path)), 16000)
    assert clip.dtype == np.float32 and clip.shape == (16000,)
    # mono = mean of channels: a 440 Hz tone at half amplitude survives resampling
    assert 0.45 < np.abs(clip[1000:-1000]).max() < 0.55
    spectrum = np.abs(np.fft.rfft(clip))
    assert abs(np.argmax(spectrum) - 440) <= 1


def test_silent_is_30s_of_zeros_at_model_rate_and_shared(tmp_path):
    ref = AudioRef(str(tmp_path / "does-not-need-to-exist.wav"))
    a = SilentCondition().audio_for(ref, 16000)
    b = SilentCondition().audio_for(AudioRef("other.wav"), 16000)
    assert a.array.shape == (480000,) and not a.array.any()
    assert a.cache_key == b.cache_key  # same for every item -> features computed once


def test_silent_matched_follows_clip_length(tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, np.ones(22050 * 2, dtype=np.float32) * 0.1, 22050)
    a = get_condition("silent-matched").audio_for(AudioRef(str(path)), 16000)
    assert a.array.shape == (32000,) and not a.array.any()


def test_conditions_registry_names():
    assert set(CONDITIONS) == {"original", "silent", "silent-matched", "silent-rotated", "silent-no-question", "noise", "shuffled", "none"}
    with pytest.raises(KeyError, match="unknown condition"):
        get_condition("noise-typo")
