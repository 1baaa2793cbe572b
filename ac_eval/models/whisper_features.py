"""Whisper-style log-mel features (Qwen2-Audio's input), as transformers' WhisperFeatureExtractor computes them
with `padding="max_length"`, but without transforming the padding.

Every clip is padded with zeros to 30 s before the STFT. A frame whose window lies wholly in those zeros has zero
power, so its log-mel value is the floor (log10 1e-10 = -10, before normalisation): only the frames that touch the
clip need a transform. For a 10 s clip that is a third of the work; the result is the same array (a test compares
it with the feature extractor's, clip lengths from a few samples to over 30 s).
"""

from __future__ import annotations

import numpy as np
import torch


class WhisperFeatures:
    def __init__(self, feature_extractor):
        fe = feature_extractor
        self.n_fft, self.hop, self.n_samples = fe.n_fft, fe.hop_length, fe.n_samples
        self.frames = fe.nb_max_frames  # 3000 for 30 s at hop 160
        self.mel = torch.from_numpy(np.asarray(fe.mel_filters)).float()  # (n_freq, n_mels)
        self.window = torch.hann_window(self.n_fft)

    def __call__(self, arrays: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (B, n_mels, frames), frame mask (B, frames)) for a batch of float32 mono clips."""
        feats = torch.empty(len(arrays), self.mel.shape[1], self.frames)
        mask = torch.zeros(len(arrays), self.frames, dtype=torch.int32)
        for i, array in enumerate(arrays):
            x = torch.from_numpy(np.ascontiguousarray(array[: self.n_samples], dtype=np.float32))
            n = len(x)
            # Frames up to the clip's end plus one window of zeros: every later frame is all padding.
            span = min(self.n_samples, n + self.n_fft)
            padded = torch.zeros(span)
            padded[:n] = x
            stft = torch.stft(padded, self.n_fft, self.hop, window=self.window, return_complex=True)[:, : self.frames]
            power = stft.real.square() + stft.imag.square()  # |X|^2 without the complex abs's square root: 3x faster
            computed = power.shape[-1]
            log_spec = torch.clamp(self.mel.T @ power, min=1e-10).log10()
            # At least the floor (log10 of the clamp), the value of every all-padding frame after the clip.
            low = (log_spec.max() - 8.0).item()
            feats[i, :, :computed] = (torch.clamp(log_spec, min=low) + 4.0) / 4.0
            feats[i, :, computed:] = (max(-10.0, low) + 4.0) / 4.0
            mask[i, : (n + self.hop - 1) // self.hop] = 1  # frame t holds the clip where t * hop < n
        return feats, mask
