"""The radio's resource grid: bandwidth and numerology -> resource elements per second and airtime.

A 5G NR carrier of ``bandwidth_mhz`` with subcarrier spacing ``scs_khz`` has ``prbs`` resource
blocks of 12 subcarriers (TS 38.101-1 Table 5.3.2-1 where it lists the pair; else 90 % of the
band, rounded down). A slot lasts ``1 ms * 15 / scs_khz`` and has 14 OFDM symbols, of which 12
carry data (2 are taken by reference signals and control). A packet's coded symbols fill the
allocation frequency-first, one OFDM symbol after another; its airtime is the data OFDM symbols
it needs times their mean duration (``slot / 12``), fractions of a symbol included: packets share
OFDM symbols back to back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from semlink.channel.base import check_number

# TS 38.101-1 Table 5.3.2-1: (subcarrier spacing kHz, bandwidth MHz) -> resource blocks.
NR_PRBS: Final[dict[tuple[int, int], int]] = {
    (15, 5): 25,
    (15, 10): 52,
    (15, 15): 79,
    (15, 20): 106,
    (15, 25): 133,
    (15, 30): 160,
    (15, 40): 216,
    (15, 50): 270,
    (30, 5): 11,
    (30, 10): 24,
    (30, 15): 38,
    (30, 20): 51,
    (30, 25): 65,
    (30, 30): 78,
    (30, 40): 106,
    (30, 50): 133,
    (30, 60): 162,
    (30, 80): 217,
    (30, 100): 273,
    (60, 10): 11,
    (60, 20): 24,
    (60, 40): 51,
    (60, 60): 79,
    (60, 100): 135,
}
SYMBOLS_PER_SLOT: Final = 14
DATA_SYMBOLS_PER_SLOT: Final = 12
SUBCARRIERS_PER_PRB: Final = 12


@dataclass(frozen=True)
class Numerology:
    """The resource grid of one carrier.

    :param bandwidth_mhz: channel bandwidth.
    :param scs_khz: subcarrier spacing, 15, 30, 60 or 120.
    :param prbs: resource blocks; None: from the bandwidth (see the module docstring).
    """

    bandwidth_mhz: float = 20.0
    scs_khz: int = 30
    prbs: int | None = None

    def __post_init__(self) -> None:
        """Check the fields (one-line ``ValueError`` naming the parameter)."""
        check_number("radio", "bandwidth_mhz", self.bandwidth_mhz, 0.0, 400.0, low_open=True)
        if self.scs_khz not in (15, 30, 60, 120):
            raise ValueError(f"radio: scs_khz={self.scs_khz!r} must be 15, 30, 60 or 120")
        if self.prbs is not None:
            check_number("radio", "prbs", self.prbs, 1, 275)
            if not float(self.prbs).is_integer():
                raise ValueError(f"radio: prbs={self.prbs!r} must be a whole number of resource blocks")
        if self.resource_blocks < 1:
            raise ValueError(f"radio: {self.bandwidth_mhz} MHz holds no resource block at {self.scs_khz} kHz")

    @property
    def resource_blocks(self) -> int:
        """Resource blocks of the carrier."""
        if self.prbs is not None:
            return int(self.prbs)
        listed = NR_PRBS.get((self.scs_khz, int(self.bandwidth_mhz)))
        if listed is not None and float(self.bandwidth_mhz).is_integer():
            return listed
        return int(0.9 * self.bandwidth_mhz * 1e3 / (SUBCARRIERS_PER_PRB * self.scs_khz))

    @property
    def subcarriers(self) -> int:
        """Subcarriers of the allocation (the whole carrier)."""
        return self.resource_blocks * SUBCARRIERS_PER_PRB

    @property
    def slot_us(self) -> float:
        """Slot duration in microseconds."""
        return 1000.0 * 15.0 / self.scs_khz

    @property
    def data_symbol_us(self) -> float:
        """Mean duration of one data OFDM symbol (a slot over its 12 data symbols)."""
        return self.slot_us / DATA_SYMBOLS_PER_SLOT

    def airtime_us(self, qam_symbols: np.ndarray) -> np.ndarray:
        """Airtime of transmissions of the given numbers of QAM symbols.

        :param qam_symbols: [N] coded symbols per transmission.
        :return: [N] float64 microseconds.
        """
        return np.asarray(qam_symbols, dtype=np.float64) / self.subcarriers * self.data_symbol_us

    def offsets_hz(self, subcarrier: np.ndarray) -> np.ndarray:
        """Frequency offsets from the carrier of subcarrier indices 0 .. subcarriers - 1."""
        return (np.asarray(subcarrier, dtype=np.float64) - self.subcarriers / 2.0) * self.scs_khz * 1e3
