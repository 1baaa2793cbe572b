"""ac-eval: how much does the audio contribute to an audio language model's benchmark score?"""

__version__ = "0.1.0"
