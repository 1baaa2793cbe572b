"""Statistics of audio contribution: paired bootstrap interval, exact McNemar test, chance rates of the weak vote,
Wilson intervals of accuracies."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from math import comb

import numpy as np


@dataclass
class PairedDelta:
    n: int  # items scored under both conditions
    delta: float | None  # mean(correct with audio) - mean(correct under the null condition)
    ci_low: float | None
    ci_high: float | None
    audio_only: int  # right with audio, wrong without (AC = +1)
    null_only: int  # wrong with audio, right without (AC = -1)
    mcnemar_p: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def paired_bootstrap_ci(
    with_audio: np.ndarray, without: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of mean(with_audio - without), resampling items (pairs stay together)."""
    diff = np.asarray(with_audio, dtype=float) - np.asarray(without, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(n_boot, len(diff)))
    means = diff[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of b successes in b + c discordant pairs at p = 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_delta(with_audio: list[bool], without: list[bool], seed: int = 0) -> PairedDelta:
    a = np.asarray(with_audio, dtype=bool)
    s = np.asarray(without, dtype=bool)
    b, c = int((a & ~s).sum()), int((~a & s).sum())
    if len(a) == 0:
        return PairedDelta(0, None, None, None, 0, 0, None)
    lo, hi = paired_bootstrap_ci(a, s, seed=seed)
    return PairedDelta(len(a), float(a.mean() - s.mean()), lo, hi, b, c, mcnemar_exact(b, c))


def vote_chance_rate(p_correct: float, n_voters: int = 3, k: int = 2) -> float:
    """Probability that at least k of n independent voters, each right with probability p, are right."""
    return sum(comb(n_voters, j) * p_correct**j * (1 - p_correct) ** (n_voters - j) for j in range(k, n_voters + 1))


def guess_rate(n_options: int, rotations: int = 1, need: int | None = None) -> float:
    """Chance a pure guesser is judged right on an item: 1/n for one ask; with `rotations` asks and `need` of them
    required right (default all, CircularEval), the binomial tail."""
    p = 1 / n_options
    need = rotations if need is None else need
    return vote_chance_rate(p, rotations, need)


def weak_by_chance(n_options: int, n_voters: int = 3, k: int = 2, rotations: int = 1, need: int | None = None) -> float:
    """Probability that the k-of-n weak vote labels an item weak when every voter only guesses."""
    return vote_chance_rate(guess_rate(n_options, rotations, need), n_voters, k)


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """Wilson score interval of a proportion k/n (95% for z=1.96); None when n is 0."""
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
