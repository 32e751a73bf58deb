"""The radio channel base: MCS choice, code blocks, airtime, HARQ and fading shared by the PHY models.

For each frame's packets, in order:

1. **MCS**: fixed (one index, or one per stream: ``{ssm: 4, vq: 11, default: 9}`` for unequal
   protection) or ``auto``: link adaptation picks the highest MCS of semlink's BLER tables whose
   predicted packet error rate stays at or under ``target_bler``, from the channel as it was
   ``csi_delay_ms`` before the packet was sent (outdated CSI, as feedback is).
2. **Code blocks and airtime** (:mod:`~semlink.channel.phy.mcs`, :mod:`~semlink.channel.phy.numerology`).
3. **Attempts**: the first transmission starts when the radio is free (first in, first out);
   attempt ``j`` sees the channel ``j * max(harq_rtt_ms, airtime)`` later. The channel each packet
   sees is sampled as if the packets before it in the frame took one transmission each: their
   retransmissions delay it on the radio (step 4), not in the fading it meets. A packet that fails is sent again, up
   to ``harq_max_tx`` transmissions in all, and the receiver combines what it got: ``harq: ir``
   (the default, as 5G does) sends the next redundancy version each time, ``harq: chase`` the same
   codeword again (see the subclasses for how each fidelity level combines them).
   *How* an attempt is decoded is the subclass's: the link-level chain or the BLER tables.
4. **Timing**: a packet holds the radio for all its transmissions in its turn (retransmissions are
   not interleaved with other packets: the queue behind it waits for all its airtime), and it
   arrives when its last transmission, ``(transmissions - 1) * harq_rtt_ms`` after its first,
   ends. A packet that never decodes is erased, or with ``deliver_corrupt`` delivered with the
   bits its decoder got wrong.

``snr_db`` is the mean **Es/N0 per QAM symbol** (the SNR per resource element), the same for every
MCS, so the curves of different MCSs share one axis. The fading process is drawn at the first
frame of a point and runs on across its frames.
"""

from __future__ import annotations

import functools
from abc import abstractmethod

import numpy as np

from semlink.channel.base import (
    CORRUPTED,
    DELIVERED,
    ERASED,
    FATE_DTYPE,
    ChannelModel,
    PacketBatch,
    Transmission,
    check_flag,
    check_number,
    check_probability,
)
from semlink.channel.impairments import fifo_departures
from semlink.channel.phy.attempts import MAX_TIME_SAMPLES, Attempts, Outcome, SnrSamples, sampled_symbols
from semlink.channel.phy.eesm import beta_array, effective_snr
from semlink.channel.phy.fading import FadingProcess, TapProfile, doppler_hz
from semlink.channel.phy.mcs import Blocks, code_blocks, mcs
from semlink.channel.phy.numerology import Numerology
from semlink.channel.phy.tables import BlerModel

AUTO = "auto"
HARQ_MODES = ("ir", "chase")
CSI_SUBCARRIERS = 16
"""Subcarriers sampled for link adaptation and for the abstraction's effective SNR."""
SAMPLE_CHUNK = 262_144
"""Channel samples (times) computed together."""


def parse_mcs(spec: object) -> dict[str, int | None]:
    """A scenario's ``mcs`` as stream -> index (None: link adaptation); key ``default`` (9 unless
    given) for the streams not named.

    :raises ValueError: one line naming what is wrong and the allowed forms.
    """
    forms = "give an MCS index, 'auto', or {stream: index|auto, default: index|auto}"
    raw = spec if isinstance(spec, dict) else {"default": spec}
    out: dict[str, int | None] = {}
    for stream, value in raw.items():
        if not isinstance(stream, str):
            raise ValueError(f"radio: mcs key {stream!r} is not a stream name; {forms}")
        if value == AUTO:
            out[str(stream)] = None
        elif isinstance(value, int) and not isinstance(value, bool):
            out[str(stream)] = mcs(value).index
        else:
            raise ValueError(f"radio: mcs {stream}={value!r} is not valid; {forms}")
    out.setdefault("default", 9)
    return out


def check_count(model: str, param: str, value: object, low: int, high: int) -> int:
    """A whole number in ``[low, high]``, or a one-line ``ValueError``."""
    number = check_number(model, param, value, low, high)
    if not number.is_integer():
        raise ValueError(f"{model}: {param}={value!r} must be a whole number in [{low}, {high}]")
    return int(number)


class RadioChannel(ChannelModel):
    """Base of the PHY models (``awgn``, ``rayleigh``, ``tdl`` link-level; ``phy`` abstraction).

    Subclasses set :attr:`profile` (None: no fading) and implement :meth:`_attempt_outcomes`.

    :param snr_db: mean Es/N0 per resource element, dB.
    :param mcs: MCS index, ``auto``, or per stream (see the module docstring).
    :param target_bler: link adaptation's ceiling on the predicted packet error rate.
    :param harq_max_tx: transmissions per packet at most (1: no HARQ).
    :param harq: ``ir`` (incremental redundancy) or ``chase`` (chase combining).
    :param harq_rtt_ms: time from one transmission of a packet to the next.
    :param csi_delay_ms: age of the channel state link adaptation sees.
    :param bandwidth_mhz: carrier bandwidth. :param scs_khz: subcarrier spacing.
    :param prbs: resource blocks (None: from the bandwidth).
    :param carrier_ghz: carrier frequency (for the Doppler shift).
    :param speed_kmh: relative speed (Doppler ``v f_c / c``).
    :param deliver_corrupt: hand on packets that failed to decode, with their damage.
    """

    profile: TapProfile | None = None

    def __init__(
        self,
        snr_db: float = 10.0,
        mcs: object = 9,
        target_bler: float = 0.1,
        harq_max_tx: int = 1,
        harq_rtt_ms: float = 1.0,
        csi_delay_ms: float = 1.0,
        bandwidth_mhz: float = 20.0,
        scs_khz: int = 30,
        prbs: int | None = None,
        carrier_ghz: float = 5.9,
        speed_kmh: float = 0.0,
        deliver_corrupt: bool = False,
        harq: str = "ir",
    ) -> None:
        if harq not in HARQ_MODES:
            raise ValueError(f"{self.name}: harq={harq!r} must be one of {', '.join(HARQ_MODES)}")
        self.harq = harq
        self.snr_db = check_number(self.name, "snr_db", snr_db, -30.0, 60.0)
        self.mcs_by_stream = parse_mcs(mcs)
        self.target_bler = check_probability(self.name, "target_bler", target_bler)
        self.harq_max_tx = check_count(self.name, "harq_max_tx", harq_max_tx, 1, 16)
        self.harq_rtt_us = check_number(self.name, "harq_rtt_ms", harq_rtt_ms, 0.0) * 1e3
        self.csi_delay_us = check_number(self.name, "csi_delay_ms", csi_delay_ms, 0.0) * 1e3
        self.numerology = Numerology(bandwidth_mhz, scs_khz, prbs)
        self.carrier_ghz = check_number(self.name, "carrier_ghz", carrier_ghz, 0.0, 100.0, low_open=True)
        self.speed_kmh = check_number(self.name, "speed_kmh", speed_kmh, 0.0, 1000.0)
        self.deliver_corrupt = check_flag(self.name, "deliver_corrupt", deliver_corrupt)
        self.tables = BlerModel()
        self._process: FadingProcess | None = None
        self._busy_us = 0.0
        self._totals: dict[str, float] = {}

    @property
    def doppler_hz(self) -> float:
        """Maximum Doppler shift of the fading."""
        return doppler_hz(self.speed_kmh, self.carrier_ghz)

    def reset(self) -> None:
        """A new point: a new fading draw, an idle radio, zero totals."""
        self._process = None
        self._busy_us = 0.0
        self._totals = {}

    def stats(self) -> dict[str, float]:
        """``packets``, ``transmissions``, ``airtime_us``, ``mcs_sum`` and ``failed`` since the reset."""
        return dict(self._totals)

    def transmit(self, batch: PacketBatch, rng: np.random.Generator) -> Transmission:
        """Fates and departure times of a frame's packets (see the module docstring)."""
        sizes = np.asarray(batch.sizes_bits, dtype=np.int64)
        send = np.asarray(batch.send_us, dtype=np.float64)
        if sizes.size == 0:
            return Transmission(np.zeros(0, FATE_DTYPE), np.zeros(0, np.int64))
        if self.profile is not None and self._process is None:
            self._process = FadingProcess(self.profile, self.doppler_hz, rng)
        schemes = self._choose_mcs(batch.streams, send, sizes)
        blocks = code_blocks(sizes)
        block_symbols = self._block_symbols(schemes, blocks.bits)
        air = self.numerology.airtime_us(block_symbols * blocks.count)
        start = fifo_departures(send, air, self._busy_us) - air
        spacing = np.maximum(self.harq_rtt_us, air)
        outcome = self._attempt_outcomes(Attempts(schemes, blocks, block_symbols, start, sizes, spacing), rng)
        end = fifo_departures(send, outcome.transmissions * air, self._busy_us)
        self._busy_us = float(end[-1])
        waits = (outcome.transmissions - 1) * (spacing - air)
        done = np.rint(end + waits).astype(np.int64)
        failed = ERASED if not self.deliver_corrupt else CORRUPTED
        fates = np.where(outcome.ok, DELIVERED, failed).astype(FATE_DTYPE)
        self._count(schemes, outcome, air)
        return Transmission(fates, done, outcome.flips if self.deliver_corrupt else {})

    def _fates(self, sizes_bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Fates of packets known only by size (all sent at once, one stream)."""
        return self.transmit(PacketBatch.of_sizes(sizes_bits), rng).fates

    def _count(self, schemes: np.ndarray, outcome: Outcome, air: np.ndarray) -> None:
        counts = {
            "packets": schemes.size,
            "transmissions": outcome.transmissions.sum(),
            "airtime_us": (outcome.transmissions * air).sum(),
            "mcs_sum": schemes.sum(),
            "failed": (~outcome.ok).sum(),
        }
        for key, value in counts.items():
            self._totals[key] = self._totals.get(key, 0.0) + float(value)

    @staticmethod
    def _block_symbols(schemes: np.ndarray, block_bits: np.ndarray) -> np.ndarray:
        """[N] QAM symbols per code block of each packet."""
        out = np.empty(schemes.size, dtype=np.int64)
        for index in np.unique(schemes).tolist():
            where = schemes == index
            out[where] = mcs(index).symbols(block_bits[where])
        return out

    # --- the channel as the receiver sees it ---------------------------------------------------

    def re_gains(self, start_us: np.ndarray, first_re: np.ndarray, count: int) -> np.ndarray | None:
        """Complex gains of ``count`` consecutive resource elements of each transmission.

        :param start_us: [B] start of the transmission each row belongs to.
        :param first_re: [B] index of the row's first resource element within its transmission.
        :param count: resource elements per row.
        :return: [B, count] complex128, or None without fading.
        """
        if self._process is None:
            return None
        subcarriers = self.numerology.subcarriers
        re = np.asarray(first_re, dtype=np.int64)[:, None] + np.arange(count)[None, :]
        symbol = re // subcarriers
        times = np.asarray(start_us, dtype=np.float64)[:, None] + symbol * self.numerology.data_symbol_us
        if self._is_flat():
            unique, inverse = np.unique(times, return_inverse=True)
            return self._process.taps(unique * 1e-6)[:, 0][inverse.reshape(times.shape)]
        offsets = self.numerology.offsets_hz(re % subcarriers)
        return self._process.response(times.ravel() * 1e-6, offsets.ravel()).reshape(times.shape)

    def _is_flat(self) -> bool:
        profile = self.profile
        return profile is not None and profile.powers.size == 1 and not profile.los

    def snr_samples(self, times_us: np.ndarray, symbols: np.ndarray) -> SnrSamples:
        """Linear SNRs sampled over each transmission's resource elements (for effective SNRs).

        16 evenly spaced OFDM symbols of each transmission (repeating them when it has fewer, so
        every symbol carries about the same weight), and 16 subcarriers with frequency-selective
        fading. A repeated symbol is computed once and weighs as many.

        :param times_us: [N] start times.
        :param symbols: [N] QAM symbols of each transmission (sets how many OFDM symbols it spans).
        :return: [N, R] samples (R = 1 without fading).
        """
        mean = 10.0 ** (self.snr_db / 10.0)
        n = np.asarray(times_us).size
        if self._process is None:
            return SnrSamples(np.full((n, 1), mean), np.ones((1, 1)))
        spans = np.maximum(1, -(-np.asarray(symbols, dtype=np.int64) // self.numerology.subcarriers))
        starts = np.asarray(times_us, dtype=np.float64)
        lengths = np.unique(spans)
        if lengths.size == 1:
            return self._span_snr(starts, int(lengths[0]), mean)
        parts = {span: self._span_snr(starts[spans == span], span, mean) for span in lengths.tolist()}
        width = max(part.values.shape[1] for part in parts.values())
        values, weights = np.empty((n, width)), np.zeros((n, width))
        for span, part in parts.items():
            rows, used = np.flatnonzero(spans == span), part.values.shape[1]
            values[rows, :used] = part.values
            values[rows, used:] = part.values[:, :1]  # weight 0: any value, one that keeps the max honest
            weights[rows, :used] = part.weights
        return SnrSamples(values, weights)

    def _span_snr(self, starts_us: np.ndarray, span: int, mean: float) -> SnrSamples:
        """The samples of transmissions ``span`` OFDM symbols long (see :meth:`snr_samples`)."""
        symbol, counts = sampled_symbols(span)
        times = starts_us[:, None] + symbol * self.numerology.data_symbol_us
        snr = self._power_gains(times)  # [n, S, K]
        snr *= mean
        subcarriers = snr.shape[2]
        weights = np.repeat(counts / (MAX_TIME_SAMPLES * subcarriers), subcarriers)[None, :]
        return SnrSamples(snr.reshape(starts_us.size, -1), weights)

    def _power_gains(self, times_us: np.ndarray) -> np.ndarray:
        """[n, S, K] channel power gains ``|H|^2`` at times [n, S] and the CSI subcarriers (K = 1 when flat).

        Computed in chunks, so a million packets on a many-tap profile need not hold all their taps at once.
        """
        flat = times_us.ravel()
        parts = [self._power_at(flat[i : i + SAMPLE_CHUNK]) for i in range(0, flat.size, SAMPLE_CHUNK)]
        power = np.concatenate(parts) if len(parts) != 1 else parts[0]
        return power.reshape(*times_us.shape, -1)

    def _power_at(self, times_us: np.ndarray) -> np.ndarray:
        """[T, K] as :meth:`_power_gains` for times [T]."""
        assert self._process is not None
        taps = self._process.taps(times_us * 1e-6)  # [T, L]
        # H(f, t) = sum_l g_l(t) exp(-j 2 pi f tau_l): one matrix product over the taps
        gains = taps[:, :1] if self._is_flat() else taps @ self._csi_phases
        parts = gains.view(np.float64).reshape(*gains.shape, 2)
        return np.einsum("tki,tki->tk", parts, parts)

    @functools.cached_property
    def _csi_phases(self) -> np.ndarray:
        """[L, K] each tap's phase turn at the K subcarriers sampled for effective SNRs."""
        assert self.profile is not None
        k = np.linspace(0, self.numerology.subcarriers - 1, CSI_SUBCARRIERS).round()
        offsets = self.numerology.offsets_hz(k)
        return np.exp(-2j * np.pi * self.profile.delays_s[:, None] * offsets[None, :])

    def effective_snr_db(self, samples: SnrSamples, schemes: np.ndarray) -> np.ndarray:
        """[N] EESM effective SNR in dB of sampled linear SNRs at each packet's MCS."""
        snr = samples.values
        if snr.shape[1] == 1:
            return 10.0 * np.log10(np.maximum(snr[:, 0], 1e-30))
        beta = beta_array()[np.asarray(schemes, dtype=np.int64)]
        return 10.0 * np.log10(np.maximum(effective_snr(snr, beta, samples.weights), 1e-30))

    def packet_success(self, schemes: np.ndarray, blocks: Blocks, snr_db: np.ndarray) -> np.ndarray:
        """[N] probability that every code block of a packet decodes at its effective SNR."""
        bler = self.tables.bler(schemes, snr_db, blocks.bits)
        return (1.0 - bler) ** blocks.count

    # --- link adaptation -------------------------------------------------------------------------

    def _choose_mcs(self, streams: tuple[str, ...], send_us: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """[N] MCS index of each packet: the stream's fixed one, or link adaptation's choice."""
        default = self.mcs_by_stream["default"]
        chosen = {s: self.mcs_by_stream.get(s, default) for s in set(streams)}
        by_stream = {s: -1 if m is None else m for s, m in chosen.items()}
        if len(by_stream) == 1:  # one stream: no loop over a large batch
            schemes = np.full(len(streams), next(iter(by_stream.values())), dtype=np.int64)
        else:
            schemes = np.fromiter((by_stream[s] for s in streams), dtype=np.int64, count=len(streams))
        adapt = np.flatnonzero(schemes < 0)
        if adapt.size:
            schemes[adapt] = self._adapt(send_us[adapt] - self.csi_delay_us, sizes[adapt])
        return schemes

    def _adapt(self, csi_us: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Highest tabulated MCS whose predicted packet error rate is <= ``target_bler`` (else the lowest)."""
        candidates = self.tables.own_mcs
        samples = self.snr_samples(csi_us, np.ones(sizes.size, dtype=np.int64))
        # Packets with the same channel state and size get the same choice: decide each once.
        # (all sampled at one instant: one weight pattern for every row)
        values = samples.values
        if values.shape[1] == 1 and np.all(values == values[0, 0]):  # no fading: only sizes differ
            sizes, inverse = np.unique(sizes, return_inverse=True)
            values = np.broadcast_to(values[:1], (sizes.size, 1))
        else:
            keys, inverse = np.unique(np.column_stack([values, sizes]), axis=0, return_inverse=True)
            values, sizes = keys[:, :-1], keys[:, -1].astype(np.int64)
        samples = SnrSamples(values, samples.weights[:1])
        blocks = code_blocks(sizes)
        choice = np.full(sizes.size, candidates[0], dtype=np.int64)
        for index in candidates:
            schemes = np.full(sizes.size, index, dtype=np.int64)
            error = 1.0 - self.packet_success(schemes, blocks, self.effective_snr_db(samples, schemes))
            choice = np.where(error <= self.target_bler, index, choice)
        return choice[inverse.ravel()]

    @abstractmethod
    def _attempt_outcomes(self, attempts: Attempts, rng: np.random.Generator) -> Outcome:
        """Transmit, retransmit and decode a batch (the fidelity level's own work)."""
