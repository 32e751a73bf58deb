"""Channel models held to theory: loss rates, burst lengths, bit errors, traces and their errors.

Statistical checks use fixed seeds and a tolerance of 5 standard errors of the estimate (for
Gilbert-Elliott the asymptotic standard error of a Markov-modulated mean), so they never flake.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from semlink.channel import (
    CHANNELS,
    CORRUPTED,
    DELIVERED,
    ERASED,
    BernoulliChannel,
    BinarySymmetricChannel,
    ChannelModel,
    GilbertElliottChannel,
    TraceChannel,
    build_channel,
)
from semlink.channel.bsc import flip_positions
from semlink.channel.gilbert_elliott import state_run

N = 200_000
SIGMAS = 5.0
SIZES = np.full(N, 12_000, dtype=np.int64)


def rng(seed: int = 0) -> np.random.Generator:
    """A fresh generator."""
    return np.random.default_rng(seed)


def binomial_tolerance(prob: float, n: int) -> float:
    """5 standard errors of a proportion of ``n`` independent trials (plus a hair for prob 0 or 1)."""
    return SIGMAS * math.sqrt(prob * (1.0 - prob) / n) + 1e-12


def runs(mask: np.ndarray) -> np.ndarray:
    """[R] lengths of the runs of True in ``mask``, the runs cut by either end left out."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts
    keep = (starts > 0) & (ends < mask.size)
    return lengths[keep]


def ge_loss_tolerance(p: float, r: float, one_h: float, one_k: float, n: int) -> float:
    """5 asymptotic standard errors of the Gilbert-Elliott loss rate over ``n`` packets.

    Var per packet: ``L(1-L) + 2 pi_G pi_B (one_h - one_k)^2 lam / (1 - lam)`` with ``lam = 1 - p - r``.
    """
    bad = p / (p + r)
    loss = (1 - bad) * one_k + bad * one_h
    lam = 1.0 - p - r
    var = loss * (1 - loss) + 2 * (1 - bad) * bad * (one_h - one_k) ** 2 * lam / (1 - lam)
    return SIGMAS * math.sqrt(max(var, 0.0) / n) + 1e-12


def write(tmp_path: Path, text: str, name: str = "trace.txt") -> str:
    """Write ``text`` to a file under ``tmp_path`` and return its path."""
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- registry and build_channel -----------------------------------------------------------------


def test_the_five_models_are_registered_under_their_names() -> None:
    assert {"ideal", "bernoulli", "gilbert_elliott", "bsc", "trace"} <= set(CHANNELS.names())
    for name in CHANNELS.names():
        assert CHANNELS.get(name).name == name  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "params", "fragments"),
    [
        ("bernoulli", {"loss": 1.5}, ["bernoulli: loss=1.5 must be in [0, 1]"]),
        ("bernoulli", {"loss": "high"}, ["bernoulli", "loss='high'", "number"]),
        ("bernoulli", {"loss": True}, ["bernoulli", "loss=True"]),
        ("bernoulli", {"loss": float("nan")}, ["bernoulli", "loss=nan"]),
        ("bernoulli", {"los": 0.1}, ["bernoulli has no setting 'los' (did you mean 'loss'?)", "its settings: loss"]),
        ("gilbert_elliott", {"q": 0.1}, ["gilbert_elliott", "q", "p, r, one_h, one_k, loss, burst"]),
        ("gilbert_elliott", {"p": 0.1, "loss": 0.1, "burst": 2}, ["gilbert_elliott", "either p/r or loss/burst"]),
        ("gilbert_elliott", {"loss": 0.8, "burst": 2}, ["gilbert_elliott", "loss=0.8", "burst=2", "<= 0.6667"]),
        ("gilbert_elliott", {"loss": 0.1}, ["gilbert_elliott", "loss needs burst"]),
        ("gilbert_elliott", {"burst": 3}, ["gilbert_elliott", "burst needs loss"]),
        ("gilbert_elliott", {"loss": 1.0, "burst": 3}, ["gilbert_elliott", "loss=1.0", "in [0, 1)"]),
        ("gilbert_elliott", {"loss": 0.1, "burst": 0.5}, ["gilbert_elliott", "burst=0.5", ">= 1"]),
        ("gilbert_elliott", {"loss": 0.1, "burst": 2, "one_h": 0.5}, ["gilbert_elliott", "one_h=0.5", "p and r"]),
        ("gilbert_elliott", {"r": 0.3}, ["gilbert_elliott", "r=0.3 needs p"]),
        ("gilbert_elliott", {"p": 0, "r": 0}, ["gilbert_elliott", "p=0 and r=0"]),
        ("gilbert_elliott", {"p": 0.1, "one_k": -0.1}, ["gilbert_elliott", "one_k=-0.1", "[0, 1]"]),
        ("bsc", {"ber": 2}, ["bsc", "ber=2.0", "[0, 1]"]),
        ("bsc", {"deliver_corrupt": "yes"}, ["bsc", "deliver_corrupt='yes'", "true or false"]),
        ("trace", {}, ["trace: missing setting path"]),
        ("trace", {"path": 3}, ["trace", "path=3"]),
        ("ideal", {"loss": 0.1}, ["ideal has no setting 'loss'", "its settings: none"]),
        ("wormhole", {}, ["unknown channel model 'wormhole'", "bernoulli"]),
    ],
)
def test_build_channel_errors_are_one_line_and_name_the_parameter(
    name: str, params: dict[str, object], fragments: list[str]
) -> None:
    with pytest.raises(ValueError) as caught:
        build_channel(name, **params)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_build_channel_passes_the_parameters() -> None:
    model = build_channel("gilbert_elliott", p=0.1, r=0.4, one_h=0.9, one_k=0.05)
    assert isinstance(model, GilbertElliottChannel)
    assert (model.p, model.r, model.one_h, model.one_k) == (0.1, 0.4, 0.9, 0.05)


# --- common behaviour ---------------------------------------------------------------------------

MODELS: dict[str, Callable[[Path], ChannelModel]] = {
    "ideal": lambda _: build_channel("ideal"),
    "bernoulli": lambda _: BernoulliChannel(loss=0.3),
    "gilbert_elliott": lambda _: GilbertElliottChannel(p=0.1, r=0.3, one_k=0.05),
    "bsc": lambda _: BinarySymmetricChannel(ber=1e-4),
    "trace": lambda tmp: TraceChannel(write(tmp, "0 1 1 0 0")),
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("n", [0, 1, 37])
def test_fates_are_int8_codes_one_per_packet(name: str, n: int, tmp_path: Path) -> None:
    model = MODELS[name](tmp_path)
    fates = model.fates(np.full(n, 800), rng())
    assert fates.shape == (n,) and fates.dtype == np.int8
    assert set(fates.tolist()) <= {DELIVERED, ERASED, CORRUPTED}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_same_seed_after_reset_gives_the_same_fates(name: str, tmp_path: Path) -> None:
    model = MODELS[name](tmp_path)
    first = model.fates(np.full(500, 800), rng(3))
    model.reset()
    assert np.array_equal(model.fates(np.full(500, 800), rng(3)), first)


@pytest.mark.parametrize("sizes", [np.zeros((2, 3), dtype=np.int64), np.array([100, -1])])
def test_bad_sizes_are_refused(sizes: np.ndarray) -> None:
    with pytest.raises(ValueError, match="sizes_bits"):
        BernoulliChannel(0.1).fates(sizes, rng())


def test_ideal_delivers_everything_and_draws_nothing() -> None:
    generator = rng()
    before = generator.bit_generator.state
    assert np.all(build_channel("ideal").fates(SIZES[:1000], generator) == DELIVERED)
    assert generator.bit_generator.state == before


# --- Bernoulli ----------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [0.0, 0.01, 0.1, 0.5, 1.0])
def test_bernoulli_loss_rate_matches(loss: float) -> None:
    fates = BernoulliChannel(loss).fates(SIZES, rng(1))
    assert set(np.unique(fates).tolist()) <= {DELIVERED, ERASED}
    assert abs(np.mean(fates == ERASED) - loss) <= binomial_tolerance(loss, N)


def test_bernoulli_losses_are_nested_across_a_sweep() -> None:
    low = BernoulliChannel(0.1).fates(SIZES, rng(2)) == ERASED
    high = BernoulliChannel(0.3).fates(SIZES, rng(2)) == ERASED
    assert np.all(high[low]) and high.sum() > low.sum()


# --- Gilbert-Elliott ----------------------------------------------------------------------------

GE_SETS = [
    (0.01, 0.1, 1.0, 0.0),
    (0.05, 0.3, 0.8, 0.02),
    (0.2, 0.5, 0.6, 0.1),
    (0.3, 0.7, 1.0, 0.0),  # r = 1 - p: independent losses
    (0.9, 0.8, 0.5, 0.3),  # negative correlation (p + r > 1)
]


@pytest.mark.parametrize(("p", "r", "one_h", "one_k"), GE_SETS)
def test_gilbert_elliott_stationary_loss(p: float, r: float, one_h: float, one_k: float) -> None:
    model = GilbertElliottChannel(p=p, r=r, one_h=one_h, one_k=one_k)
    bad = p / (p + r)
    expected = (1 - bad) * one_k + bad * one_h
    assert model.stationary_loss == pytest.approx(expected)
    measured = np.mean(model.fates(SIZES, rng(4)) == ERASED)
    assert abs(measured - expected) <= ge_loss_tolerance(p, r, one_h, one_k, N)


def test_gilbert_elliott_r_defaults_to_one_minus_p() -> None:
    model = GilbertElliottChannel(p=0.2)
    assert model.r == pytest.approx(0.8) and model.stationary_bad == pytest.approx(0.2)


@pytest.mark.parametrize(("p", "r"), [(0.02, 0.5), (0.01, 0.2), (0.005, 0.1)])
def test_simple_gilbert_bursts_average_one_over_r_and_gaps_one_over_p(p: float, r: float) -> None:
    lost = GilbertElliottChannel(p=p, r=r).fates(SIZES, rng(5)) == ERASED
    for lengths, leave in ((runs(lost), r), (runs(~lost), p)):
        tolerance = SIGMAS * math.sqrt((1 - leave) / leave**2 / lengths.size)
        assert abs(lengths.mean() - 1 / leave) <= tolerance


@pytest.mark.parametrize(("loss", "burst"), [(0.05, 2.0), (0.2, 4.0), (0.1, 1.5), (0.0, 3.0)])
def test_loss_and_burst_give_the_asked_loss_and_burst(loss: float, burst: float) -> None:
    model = GilbertElliottChannel(loss=loss, burst=burst)
    assert model.r == pytest.approx(1 / burst) and model.stationary_loss == pytest.approx(loss)
    lost = model.fates(SIZES, rng(6)) == ERASED
    assert abs(lost.mean() - loss) <= ge_loss_tolerance(model.p, model.r, 1.0, 0.0, N)
    if loss > 0:
        lengths = runs(lost)
        assert abs(lengths.mean() - burst) <= SIGMAS * math.sqrt((1 - model.r) / model.r**2 / lengths.size)


def test_gilbert_elliott_split_calls_give_identical_fates() -> None:
    whole = GilbertElliottChannel(p=0.05, r=0.25, one_h=0.9, one_k=0.01).fates(SIZES[:20_000], rng(7))
    model = GilbertElliottChannel(p=0.05, r=0.25, one_h=0.9, one_k=0.01)
    generator, cuts = rng(7), np.sort(rng(8).integers(0, 20_000, 300))
    parts = [model.fates(SIZES[a:b], generator) for a, b in zip([0, *cuts], [*cuts, 20_000], strict=True)]
    assert np.array_equal(np.concatenate(parts), whole)


def test_gilbert_elliott_state_carries_across_calls_until_reset() -> None:
    model = GilbertElliottChannel(p=0.01, r=0.01)  # long sojourns: one packet predicts the next
    generator, agree, pairs = rng(9), 0, 2000
    for _ in range(pairs):
        model.reset()
        first = model.fates(SIZES[:1], generator)
        agree += int(model.fates(SIZES[:1], generator)[0] == first[0])
    assert agree / pairs > 0.95  # independent draws would agree half the time


def test_gilbert_elliott_starts_in_the_stationary_distribution() -> None:
    model, generator, trials = GilbertElliottChannel(p=0.05, r=0.2), rng(10), 5000
    lost = 0
    for _ in range(trials):
        model.reset()
        lost += int(model.fates(SIZES[:1], generator)[0] == ERASED)
    assert abs(lost / trials - 0.2) <= binomial_tolerance(0.2, trials)


def loop_states(start: int, to_bad: np.ndarray, to_good: np.ndarray) -> list[int]:
    """The chain's states packet by packet, the plain way."""
    states = [start]
    for bad_move, good_move in zip(to_bad.tolist(), to_good.tolist(), strict=True):
        now = states[-1]
        states.append(int(bad_move) if now == 0 else 1 - int(good_move))
    return states


@pytest.mark.parametrize(("p", "r"), [(0.1, 0.3), (0.7, 0.9), (1.0, 1.0), (0.0, 0.5), (1.0, 0.0), (0.5, 0.5)])
@pytest.mark.parametrize("start", [0, 1])
def test_vectorised_state_run_matches_the_loop(p: float, r: float, start: int) -> None:
    move = rng(11).random(3000)
    expected = loop_states(start, move < p, move < r)
    assert state_run(start, move < p, move < r).tolist() == expected


# --- binary symmetric channel -------------------------------------------------------------------


@pytest.mark.parametrize("ber", [1e-5, 1e-4])
def test_bsc_packet_error_rate_matches_per_size(ber: float) -> None:
    options = np.array([8, 1000, 12_000, 40_000])
    sizes = options[np.arange(N) % options.size]
    fates = BinarySymmetricChannel(ber).fates(sizes, rng(12))
    assert set(np.unique(fates).tolist()) <= {DELIVERED, CORRUPTED}
    for bits in options.tolist():
        expected = 1 - (1 - ber) ** bits
        measured = np.mean(fates[sizes == bits] == CORRUPTED)
        assert abs(measured - expected) <= binomial_tolerance(expected, N // options.size)


@pytest.mark.parametrize(("ber", "bits"), [(1e-15, 12_000), (1e-12, 8), (1e-9, 100_000)])
def test_bsc_packet_error_rate_is_accurate_for_tiny_ber(ber: float, bits: int) -> None:
    series = bits * ber - bits * (bits - 1) / 2 * ber**2  # two terms of 1 - (1 - ber)^bits
    assert BinarySymmetricChannel(ber).packet_error_rate(np.array([bits]))[0] == pytest.approx(series, rel=1e-9)


def test_bsc_edges() -> None:
    sizes = np.array([0, 1, 8, 12_000])
    assert np.all(BinarySymmetricChannel(0.0).fates(sizes, rng()) == DELIVERED)
    assert BinarySymmetricChannel(1.0).fates(sizes, rng()).tolist() == [DELIVERED] + [CORRUPTED] * 3
    assert BinarySymmetricChannel(0.5).fates(np.zeros(1000, np.int64), rng()).tolist() == [DELIVERED] * 1000


def flipped_bits(before: bytes, after: bytes) -> np.ndarray:
    """[8 * len] bool: which bits differ."""
    return np.unpackbits(np.frombuffer(before, np.uint8) ^ np.frombuffer(after, np.uint8)).astype(bool)


@pytest.mark.parametrize("ber", [1e-12, 1e-5, 0.3, 1.0])
def test_bsc_corrupt_flips_at_least_one_bit(ber: float) -> None:
    model, generator = BinarySymmetricChannel(ber, deliver_corrupt=True), rng(13)
    payload = bytes(rng(14).integers(0, 256, 1500, dtype=np.uint8))
    for _ in range(200):
        damaged = model.corrupt(payload, generator)
        assert len(damaged) == len(payload) and flipped_bits(payload, damaged).sum() >= 1
    assert model.deliver_corrupt is True


def test_bsc_corrupt_leaves_empty_payloads_alone() -> None:
    assert BinarySymmetricChannel(0.1).corrupt(b"", rng()) == b""
    assert BinarySymmetricChannel(0.0).corrupt(b"abc", rng()) == b"abc"


@pytest.mark.parametrize("ber", [0.001, 0.01, 0.1])
def test_bsc_flip_fraction_matches_ber_on_large_payloads(ber: float) -> None:
    payload = bytes(100_000)
    flips = flipped_bits(payload, BinarySymmetricChannel(ber).corrupt(payload, rng(15)))
    assert abs(flips.mean() - ber) <= SIGMAS * math.sqrt(ber * (1 - ber) / flips.size)


def test_bsc_flip_count_follows_the_conditional_binomial() -> None:
    nbits, trials, generator = 8000, 4000, rng(16)
    ber = 1 / nbits
    positions = [flip_positions(nbits, ber, generator) for _ in range(trials)]
    counts = np.array([p.size for p in positions])
    expected = nbits * ber / -math.expm1(nbits * math.log1p(-ber))  # E[K | K >= 1]
    assert abs(counts.mean() - expected) <= SIGMAS * counts.std() / math.sqrt(trials)
    every = np.concatenate(positions)
    assert all(np.unique(p).size == p.size for p in positions) and every.min() >= 0 and every.max() < nbits
    assert abs(np.mean(every < nbits // 2) - 0.5) <= binomial_tolerance(0.5, every.size)  # no end favoured


# --- trace --------------------------------------------------------------------------------------


def test_trace_repeats_cyclically_with_comments_and_any_whitespace(tmp_path: Path) -> None:
    model = TraceChannel(write(tmp_path, "# a recorded run\n0 1\t1  # two lost\n\n0\n0 0 1\n"))
    expected = [0, 1, 1, 0, 0, 0, 1]
    assert model.fates(np.full(16, 800), rng()).tolist() == (expected * 3)[:16]


def test_trace_position_carries_across_calls_and_reset_rewinds(tmp_path: Path) -> None:
    model = TraceChannel(write(tmp_path, "1 0 0 1 1"))
    assert model.fates(np.full(3, 8), rng()).tolist() == [1, 0, 0]
    assert model.fates(np.full(4, 8), rng()).tolist() == [1, 1, 1, 0]
    assert model.fates(np.full(1, 8), rng()).tolist() == [0]
    model.reset()
    assert model.fates(np.full(2, 8), rng()).tolist() == [1, 0]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0 1\n1 2 0\n", ":2: expected 0 or 1, got '2'"),
        ("0 1\n# fine\n0 lost\n", ":3: expected 0 or 1, got 'lost'"),
        ("01\n", ":1: expected 0 or 1, got '01'"),
        ("# nothing but a comment\n\n", "holds no 0/1 entries"),
        ("", "holds no 0/1 entries"),
    ],
)
def test_malformed_traces_name_the_file_and_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as caught:
        build_channel("trace", path=path)
    assert str(caught.value).startswith(f"trace: {path}") and fragment in str(caught.value)


def test_missing_and_binary_traces_are_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.txt")
    with pytest.raises(ValueError, match=f"trace: cannot read {missing}"):
        TraceChannel(missing)
    binary = tmp_path / "trace.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        TraceChannel(str(binary))
