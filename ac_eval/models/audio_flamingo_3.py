"""Audio Flamingo 3 on Qwen2-Audio's fast paths.

AF3's audio side is Qwen2-Audio's: a Whisper-style encoder (two convolutions, fixed positions over 30 s, attention
that masks the padding, an average pool) and a projector into a Qwen2 decoder, with one `<sound>` token per pooled
frame (the same count). So the Whisper features are computed off the model's path over each clip's own frames, the
encoder runs over the clip's own frames (`clip_embeddings`), silence is encoded once and the prompt prefix up to the
end of the audio is cached once per run, as for Qwen2-Audio; choice mode scores every option from one prefill.

What differs: the prompt marks the audio with `<sound>` alone (no closing token), so a shared prefix ends after the
last audio token; the model takes `input_features_mask`; and AF3 hears clips longer than 30 s as several 30 s
windows (up to 10 minutes), which its own processor builds: a batch holding such a clip goes through the processor
and the model's own forward (`ProcessorBackend`'s path).
"""

from __future__ import annotations

import torch

from ac_eval.evaluation.records import AudioInput
from ac_eval.models.qwen2_audio import Qwen2AudioBackend


class AudioFlamingo3Backend(Qwen2AudioBackend):
    arch = "audio-flamingo-3"
    clip_frames = False  # training is not offered for AF3 (no recipe has used it); evaluation only
    feature_mask_key = "input_features_mask"

    def _load_model(self, pretrained: str, revision: str | None, dtype: torch.dtype):
        from transformers import AudioFlamingo3ForConditionalGeneration

        return AudioFlamingo3ForConditionalGeneration.from_pretrained(pretrained, revision=revision, dtype=dtype)

    @property
    def window_samples(self) -> int:
        return int(self.feature_extractor.n_samples)  # 30 s: what one encoder pass hears

    def _windowed(self, audios: list[AudioInput | None]) -> bool:
        return any(a is not None and len(a.array) > self.window_samples for a in audios)

    def encode(self, prompts: list[str], audios: list[AudioInput | None]) -> dict[str, torch.Tensor]:
        if not self._windowed(audios):
            return super().encode(prompts, audios)
        # A clip over 30 s: AF3's processor cuts it into windows and counts its <sound> tokens.
        texts = [p if a is not None else self._strip_audio(p) for p, a in zip(prompts, audios)]
        arrays = [a.array for a in audios if a is not None]
        inputs = self.processor(text=texts, audio=arrays, sampling_rate=self.sample_rate, return_tensors="pt")
        return {k: v.to(self.device, self.model.dtype) if v.is_floating_point() else v.to(self.device)
                for k, v in inputs.items()}

    def inference_inputs(self, prompts: list[str], audios: list[AudioInput | None],
                         right_padded: bool = False) -> dict[str, torch.Tensor]:
        if self._windowed(audios):  # the processor's inputs, left-padded
            return self.encode(prompts, audios)
        return super().inference_inputs(prompts, audios, right_padded)

    def _shared_prefix(self, prompts: list[str], audios: list[AudioInput | None]):
        return None if self._windowed(audios) else super()._shared_prefix(prompts, audios)

    def _prefix_end(self, ids: list[int]) -> int | None:
        """AF3's audio segment has no closing token: the prefix every item shares ends after the last `<sound>`."""
        audio_id = self.model.config.audio_token_id
        return len(ids) - ids[::-1].index(audio_id) if audio_id in ids else None
