import numpy as np
import pytest

from ac_eval.analysis.stats import (
    guess_rate,
    mcnemar_exact,
    paired_bootstrap_ci,
    paired_delta,
    vote_chance_rate,
    weak_by_chance,
)


def test_mcnemar_exact_known_values():
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 2**10)
    assert mcnemar_exact(3, 12) == pytest.approx(2 * (1 + 15 + 105 + 455) / 2**15)
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(12, 3) == mcnemar_exact(3, 12)  # two-sided


def test_bootstrap_degenerate_cases():
    ones, zeros = np.ones(50, bool), np.zeros(50, bool)
    assert paired_bootstrap_ci(ones, zeros) == (1.0, 1.0)
    assert paired_bootstrap_ci(ones, ones) == (0.0, 0.0)


def test_bootstrap_matches_the_normal_approximation():
    rng = np.random.default_rng(1)
    a = rng.random(4000) < 0.6
    s = rng.random(4000) < 0.4
    d = a.astype(float) - s
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
    lo, hi = paired_bootstrap_ci(a, s, n_boot=4000)
    assert lo == pytest.approx(d.mean() - half, abs=0.006) and hi == pytest.approx(d.mean() + half, abs=0.006)


def test_paired_delta_counts_discordant_pairs():
    r = paired_delta([True, True, False, False, True], [False, True, True, False, False])
    assert (r.n, r.audio_only, r.null_only) == (5, 2, 1)
    assert r.delta == pytest.approx(0.2) and r.mcnemar_p == 1.0


def test_analytic_rates_from_the_reference():
    assert weak_by_chance(4) == pytest.approx(0.15625)
    assert weak_by_chance(3) == pytest.approx(0.259, abs=0.001)
    assert weak_by_chance(2) == pytest.approx(0.5)
    assert guess_rate(4, rotations=4) == pytest.approx(0.25**4)


@pytest.mark.parametrize("n_options", [2, 3, 4, 5])
def test_analytic_chance_rate_agrees_with_simulation(n_options):
    rng = np.random.default_rng(n_options)
    items, voters = 200_000, 3
    right = rng.integers(0, n_options, size=(items, voters)) == 0  # option 0 is the answer
    simulated = (right.sum(axis=1) >= 2).mean()
    se = np.sqrt(simulated * (1 - simulated) / items)
    assert abs(simulated - weak_by_chance(n_options)) < 4 * se


def test_rotation_chance_agrees_with_simulation():
    rng = np.random.default_rng(7)
    items, k = 400_000, 3
    right_all = (rng.integers(0, k, size=(items, k)) == 0).all(axis=1)  # a guesser asked k times
    assert right_all.mean() == pytest.approx(guess_rate(k, rotations=k), abs=4 * np.sqrt(1 / 27 / items))
    most = (rng.integers(0, k, size=(items, k)) == 0).sum(axis=1) >= 2
    assert most.mean() == pytest.approx(guess_rate(k, rotations=k, need=2), abs=0.002)
    assert vote_chance_rate(1.0, 3, 2) == 1.0 and vote_chance_rate(0.0, 3, 2) == 0.0


def test_wilson_interval():
    from ac_eval.analysis.stats import wilson_interval

    low, high = wilson_interval(8, 10)
    assert round(low, 3) == 0.490 and round(high, 3) == 0.943  # the textbook value
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0 and wilson_interval(0, 0) is None
