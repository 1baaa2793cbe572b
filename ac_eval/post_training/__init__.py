"""Audio-contribution-aware post-training: SFT, then GRPO, on labels the harness produced (see trainers/)."""
