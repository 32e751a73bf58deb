"""The radio: MCS table, numerology, fading, closed-form BER, coded BLER, abstraction, HARQ, adaptation.

Statistical checks use fixed seeds and tolerances of several standard errors, so they never flake.
The slow agreement test over three MCSs is ``test_phy_agreement.py`` (``-m slow``).
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import j0

from semlink.channel import CORRUPTED, DELIVERED, ERASED, PacketBatch, build_channel
from semlink.channel.phy.chain import LinkChain, Received, uncoded_bit_errors
from semlink.channel.phy.eesm import effective_snr
from semlink.channel.phy.fading import FLAT, FadingProcess, doppler_hz, tdl_profile
from semlink.channel.phy.mcs import MCS_INDICES, Mcs, code_blocks, coverage_bits, mcs
from semlink.channel.phy.numerology import Numerology
from semlink.channel.phy.tables import BlerModel, load_table
from semlink.channel.phy.theory import ber_theory


def test_mcs_table_matches_sionna() -> None:
    from sionna.phy.nr.utils import decode_mcs_index

    for index in MCS_INDICES:
        bits, rate = decode_mcs_index(index, table_index=2, is_pusch=False)
        assert (int(bits), float(rate)) == (mcs(index).bits_per_symbol, pytest.approx(mcs(index).code_rate))


@pytest.mark.parametrize("bad", [0, 1, 28, -3, 2.5, "9", True])
def test_unknown_mcs_is_one_line(bad: object) -> None:
    with pytest.raises(ValueError, match=r"is not an MCS index; allowed: 2\.\.27"):
        mcs(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "count", "bits"), [(1000, 1, 1024), (3800, 1, 3824), (3801, 2, 1920), (9840, 3, 3296)]
)
def test_code_blocks_cover_packet_and_crc(size: int, count: int, bits: int) -> None:
    blocks = code_blocks(np.array([size]))
    assert (int(blocks.count[0]), int(blocks.bits[0])) == (count, bits)
    assert blocks.count[0] * blocks.bits[0] >= size + 24 and blocks.bits[0] % 16 == 0


def test_numerology_of_a_20_mhz_carrier() -> None:
    grid = Numerology(20.0, 30)
    assert (grid.resource_blocks, grid.subcarriers, grid.slot_us) == (51, 612, 500.0)
    # 612 * 12 symbols of data per 500 us slot
    assert grid.airtime_us(np.array([612 * 12]))[0] == pytest.approx(500.0)
    assert Numerology(10.0, 15).resource_blocks == 52
    with pytest.raises(ValueError, match="scs_khz=25"):
        Numerology(20.0, 25)


def test_doppler_at_vehicle_speeds() -> None:
    assert doppler_hz(120, 5.9) == pytest.approx(656.0, abs=0.5)
    assert doppler_hz(140, 5.9) == pytest.approx(765.3, abs=0.5)


def test_fading_autocorrelation_follows_clarke() -> None:
    doppler = 656.0
    lags = np.linspace(0.0, 2.0e-3, 21)
    draws = 2000
    acf = np.zeros(lags.size, dtype=np.complex128)
    seeds = np.random.SeedSequence(3).spawn(draws)
    for seed in seeds:
        process = FadingProcess(FLAT, doppler, np.random.default_rng(seed))
        start = np.random.default_rng(seed).uniform(0, 1.0)
        g = process.taps(start + lags)[:, 0]
        acf += g[0] * np.conj(g)
    acf /= draws
    # the estimate's standard error is about 1/sqrt(draws) = 0.022
    np.testing.assert_allclose(acf.real, j0(2 * math.pi * doppler * lags), atol=0.08)
    assert np.abs(acf.imag).max() < 0.08


@pytest.mark.parametrize("profile", ["flat", "D"])
def test_tabulated_fading_matches_the_exact_sum(profile: str) -> None:
    taps = FLAT if profile == "flat" else tdl_profile(profile, 100.0)
    process = FadingProcess(taps, 765.0, np.random.default_rng(4))
    # sparse instants far apart, a dense run, and instants on group boundaries
    step = 1.0 / (32 * 765.0)
    times = np.concatenate(
        [np.random.default_rng(5).uniform(0.0, 30.0, 50), 2.0 + np.arange(3000) * 7e-6, np.arange(5) * 64 * step]
    )
    got = process.taps(times)
    exact = process.exact(times) * np.sqrt(taps.powers)
    if taps.los:  # the LoS tap turns at the Doppler shift; compare the faded ones
        got, exact = got[:, 1:], exact[:, 1:]
    error = np.abs(got - exact) / np.sqrt(taps.powers[-got.shape[1] :])
    assert error.max() < 0.02  # linear interpolation on 32 points a Doppler period


def test_sampled_snrs_weigh_repeated_symbols_as_many() -> None:
    # Transmissions of 3 and 40 OFDM symbols in one call: the weighted samples give the EESM of
    # the 16 evenly spaced symbols, computed here directly from the fading process.
    channel = build_channel("phy", fading="tdl", profile="A", snr_db=10.0, mcs=9, speed_kmh=100)
    channel.reset()
    channel.transmit(batch(1), np.random.default_rng(0))  # draws the fading
    subcarriers = channel.numerology.subcarriers
    starts = np.array([100.0, 5000.0, 9000.0])
    symbols = np.array([3, 40, 3]) * subcarriers
    samples = channel.snr_samples(starts, symbols)
    np.testing.assert_allclose(samples.weights.sum(axis=1), 1.0)
    got = channel.effective_snr_db(samples, np.full(3, 9))
    positions = (np.arange(16) + 0.5) / 16
    k = np.linspace(0, subcarriers - 1, 16).round()
    offsets = channel.numerology.offsets_hz(k)
    for row, (start, span) in enumerate(zip(starts, [3, 40, 3], strict=True)):
        times = start + np.floor(positions * span) * channel.numerology.data_symbol_us
        t = np.repeat(times, 16) * 1e-6
        gains = channel._process.response(t, np.tile(offsets, 16))
        snr = 10.0 * np.abs(gains) ** 2
        want = 10 * np.log10(effective_snr(snr[None, :], np.array([channel_beta(9)]))[0])
        assert got[row] == pytest.approx(want, abs=1e-5)  # the grid is kept in single precision


def channel_beta(index: int) -> float:
    """EESM beta of an MCS."""
    from semlink.channel.phy.eesm import betas

    return betas()[index]


def test_tdl_profile_is_normalised_and_has_los_where_3gpp_says() -> None:
    a, d = tdl_profile("A", 100.0), tdl_profile("D", 100.0)
    assert a.powers.sum() == pytest.approx(1.0) and not a.los and d.los
    assert a.delays_s.max() > 5e-7  # TDL-A's last tap is at 9.66 delay spreads
    with pytest.raises(ValueError, match="TDL profile"):
        tdl_profile("Z", 100.0)


@pytest.mark.parametrize("bits_per_symbol", [2, 4])
@pytest.mark.parametrize("fading", ["awgn", "rayleigh"])
def test_uncoded_ber_matches_closed_form(bits_per_symbol: int, fading: str) -> None:
    rng = np.random.default_rng(11)
    snrs = [4.0, 8.0] if fading == "awgn" else [10.0, 20.0]
    if bits_per_symbol == 4:
        snrs = [s + 6.0 for s in snrs]
    for snr_db in snrs:
        theory = float(ber_theory(bits_per_symbol, np.array([snr_db]), fading)[0])
        symbols = int(min(4_000_000, 4000 / theory / bits_per_symbol))  # ~4000 errors: 1.6 % standard error
        gains = None
        if fading == "rayleigh":
            gains = (rng.standard_normal(symbols) + 1j * rng.standard_normal(symbols)) / math.sqrt(2)
        else:
            gains = np.ones(symbols, np.complex128)
        measured = uncoded_bit_errors(bits_per_symbol, 10 ** (snr_db / 10), gains, rng)
        assert measured == pytest.approx(theory, rel=0.1), (snr_db, theory)
        assert theory >= 1e-4


def test_rate_half_qpsk_ldpc_waterfall_where_sionna_puts_it() -> None:
    # Sionna's 5G LDPC tutorial (k = 1024, n = 2048, QPSK, 20 BP iterations) crosses BLER 10 %
    # at about Eb/N0 = 1.3 dB; ours must cross it within 1 dB of that.
    chain = LinkChain(Mcs(0, 2, 0.5), 1024)
    rng = np.random.default_rng(2)

    def bler(ebno_db: float) -> float:
        snr = 10 ** ((ebno_db + 10 * math.log10(2 * 0.5)) / 10)
        bits, symbols = chain.send(200, rng)
        wrong = chain.decode(Received(bits, chain.receive(symbols, np.full(200, snr), None, rng)))
        return float(wrong.any(axis=1).mean())

    assert bler(0.3) > 0.1 > bler(2.3)


def test_shipped_tables_are_fine_and_monotone() -> None:
    table = load_table()
    assert len(table.curves) >= 8
    for by_size in table.curves.values():
        for curve in by_size.values():
            steps = np.diff(curve.snr_db)
            assert steps.max() <= 0.25 + 1e-9
            assert curve.bler[0] >= 0.9 and curve.bler[-1] <= 0.02
    model = BlerModel()
    snr = np.linspace(-5, 30, 200)
    for index in model.own_mcs:
        values = model.bler(np.full(snr.size, index), snr, np.full(snr.size, 2000))
        assert np.all(np.diff(values) <= 0.05)  # falls with SNR (up to simulation noise)


def test_eesm_of_equal_snrs_is_that_snr() -> None:
    snr = np.full((3, 8), 5.0)
    np.testing.assert_allclose(effective_snr(snr, np.array([1.6, 6.0, 60.0])), 5.0)
    mixed = effective_snr(np.array([[1.0, 100.0]]), np.array([2.0]))
    assert 1.0 < mixed[0] < 50.5  # below the mean: deep fades dominate


def test_abstraction_needs_no_sionna_import() -> None:
    code = (
        "import sys, numpy as np\n"
        "from semlink.channel import build_channel\n"
        "m = build_channel('phy', fading='rayleigh', snr_db=5.0, mcs='auto', speed_kmh=120)\n"
        "m.reset(); m.fates(np.full(1000, 9600), np.random.default_rng(0))\n"
        "assert 'sionna' not in sys.modules and 'torch' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def batch(n: int, streams: tuple[str, ...] = ("image",), spacing_us: int = 2000, size: int = 4000) -> PacketBatch:
    """``n`` packets of ``size`` bits, ``spacing_us`` apart, streams taken in turn."""
    return PacketBatch(
        np.full(n, size, dtype=np.int64),
        np.arange(n, dtype=np.int64) * spacing_us,
        tuple(streams[i % len(streams)] for i in range(n)),
    )


@pytest.mark.parametrize("model", ["phy", "awgn"])
def test_harq_never_exceeds_its_maximum_and_helps(model: str) -> None:
    n = 20_000 if model == "phy" else 40
    results = {}
    for max_tx in (1, 3):
        channel = build_channel(model, snr_db=1.75, mcs=4, harq_max_tx=max_tx)
        channel.reset()
        fates = channel.transmit(batch(n, size=1000), np.random.default_rng(4)).fates
        stats = channel.stats()
        assert stats["transmissions"] <= max_tx * stats["packets"]
        assert stats["packets"] == n
        results[max_tx] = (fates != DELIVERED).mean()
    assert results[3] < results[1]


def test_retransmissions_take_airtime_and_round_trips() -> None:
    one = build_channel("phy", snr_db=-10.0, mcs=4, harq_max_tx=1, harq_rtt_ms=2.0)
    four = build_channel("phy", snr_db=-10.0, mcs=4, harq_max_tx=4, harq_rtt_ms=2.0)
    for channel in (one, four):
        channel.reset()
    a = one.transmit(batch(1), np.random.default_rng(0))
    b = four.transmit(batch(1), np.random.default_rng(0))
    assert four.stats()["transmissions"] == 4 and four.stats()["airtime_us"] == pytest.approx(
        4 * one.stats()["airtime_us"]
    )
    assert b.done_us is not None and a.done_us is not None
    assert b.done_us[0] - a.done_us[0] == pytest.approx(3 * 2000, abs=2)  # three round trips later


def test_packets_queue_for_the_radio() -> None:
    channel = build_channel("phy", snr_db=30.0, mcs=4, bandwidth_mhz=5, scs_khz=15)
    channel.reset()
    sent = channel.transmit(batch(5, spacing_us=0, size=9600), np.random.default_rng(0))
    assert sent.done_us is not None
    gaps = np.diff(sent.done_us)
    assert np.all(gaps > 0) and np.ptp(gaps) <= 1  # back to back, one airtime apart


@pytest.mark.parametrize("model", ["phy", "rayleigh"])
def test_unequal_protection_gives_the_map_a_lower_loss(model: str) -> None:
    n = 20_000 if model == "phy" else 60
    channel = build_channel(model, snr_db=8.0, mcs={"ssm": 2, "default": 11}, speed_kmh=120)
    channel.reset()
    sent = batch(n, ("ssm", "vq"), spacing_us=3000, size=1000)
    fates = channel.transmit(sent, np.random.default_rng(5)).fates
    streams = np.array(sent.streams)
    loss = {s: float((fates[streams == s] != DELIVERED).mean()) for s in ("ssm", "vq")}
    assert loss["ssm"] < loss["vq"] and loss["vq"] > 0.2


def test_link_adaptation_follows_the_snr() -> None:
    chosen = []
    for snr_db in (0.0, 8.0, 16.0, 28.0):
        channel = build_channel("phy", snr_db=snr_db, mcs="auto", target_bler=0.1)
        channel.reset()
        channel.transmit(batch(100), np.random.default_rng(0))
        chosen.append(channel.stats()["mcs_sum"] / 100)
    assert chosen == sorted(chosen) and chosen[0] <= 4 and chosen[-1] >= 20


def test_link_adaptation_keeps_the_loss_near_its_target_on_awgn() -> None:
    channel = build_channel("phy", snr_db=12.0, mcs="auto", target_bler=0.1)
    channel.reset()
    fates = channel.transmit(batch(20_000), np.random.default_rng(1)).fates
    assert (fates != DELIVERED).mean() <= 0.1 + 5 * math.sqrt(0.1 * 0.9 / 20_000)


def test_state_resets_at_each_point() -> None:
    channel = build_channel("phy", fading="rayleigh", snr_db=10.0, mcs=9, speed_kmh=30)
    outcomes = []
    for _ in range(2):
        channel.reset()
        outcomes.append(channel.transmit(batch(500), np.random.default_rng(9)).fates.tolist())
    assert outcomes[0] == outcomes[1]


def test_link_level_delivers_corrupt_packets_with_the_decoders_errors() -> None:
    channel = build_channel("awgn", snr_db=-3.0, mcs=4, deliver_corrupt=True)
    channel.reset()
    sent = channel.transmit(batch(6, size=2000), np.random.default_rng(0))
    assert np.all(sent.fates == CORRUPTED)
    assert set(sent.flips) == set(range(6)) and all(f.size > 0 and f.max() < 2000 for f in sent.flips.values())
    erased = build_channel("awgn", snr_db=-3.0, mcs=4)
    erased.reset()
    assert np.all(erased.transmit(batch(6, size=2000), np.random.default_rng(0)).fates == ERASED)


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        ("phy", {"fading": "nakagami"}, "fading='nakagami'"),
        ("phy", {"deliver_corrupt": True}, "deliver_corrupt"),
        ("awgn", {"mcs": "fast"}, "mcs default='fast'"),
        ("rayleigh", {"harq_max_tx": 0}, "harq_max_tx"),
        ("tdl", {"profile": "F"}, "TDL profile"),
        ("awgn", {"snr_db": "high"}, "snr_db"),
        ("phy", {"ber": 0.1}, "has no setting 'ber'"),
        ("awgn", {"speed_kmh": 30.0}, "has no setting 'speed_kmh'; its settings: device, snr_db"),
        ("tdl", {"delay_spread_ns": "x"}, "delay_spread_ns='x'"),
        ("awgn", {"device": 0}, "device=0"),
        ("phy", {"mcs": {5: 4}}, "mcs key 5 is not a stream name"),
    ],
)
def test_bad_radio_parameters_are_one_line(model: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        build_channel(model, **params)
    assert "\n" not in str(error.value)


def test_tdl_link_level_decodes_at_high_snr_and_fails_at_low() -> None:
    good = build_channel("tdl", profile="C", snr_db=25.0, mcs=4, speed_kmh=120)
    bad = build_channel("tdl", profile="C", snr_db=-5.0, mcs=4, speed_kmh=120)
    for channel in (good, bad):
        channel.reset()
    assert np.all(good.transmit(batch(4, size=2000), np.random.default_rng(0)).fates == DELIVERED)
    assert np.all(bad.transmit(batch(4, size=2000), np.random.default_rng(0)).fates == ERASED)


def test_redundancy_versions_cover_more_of_the_buffer() -> None:
    scheme = mcs(9)
    n = scheme.coded_bits(1024)
    covered = [coverage_bits(1024, n, scheme.code_rate, v) for v in (1, 2, 3, 4)]
    assert covered[0] == n and covered == sorted(covered) and covered[1] == 2 * n
    assert covered[3] <= 50 * 104  # base graph 2, lifting size 104: the whole buffer at most


@pytest.mark.parametrize("model", ["phy", "awgn"])
def test_incremental_redundancy_beats_chase(model: str) -> None:
    n = 20_000 if model == "phy" else 60
    loss = {}
    for harq in ("chase", "ir"):
        channel = build_channel(model, snr_db=-2.0, mcs=4, harq_max_tx=2, harq=harq)
        channel.reset()
        loss[harq] = float((channel.fates(np.full(n, 1000), np.random.default_rng(3)) != DELIVERED).mean())
    assert loss["ir"] < loss["chase"] and loss["chase"] > 0.9
