"""BLER tables: block error rate against SNR per MCS and code-block size, and their lookup.

semlink ships tables it computed itself with its link-level chain on AWGN
(``semlink/channel/phy/tables/bler-awgn.json``, made by ``semlink channel tables``; the command,
seed and date are in the file), in 0.25 dB steps across each waterfall. Sionna SYS's shipped tables
step 1.6-1.8 dB and stop at 2000-bit blocks, so the waterfall of a large block falls between two of
their points; they serve only as the fallback for an MCS semlink has no table of.

Lookup interpolates ``log10(BLER)`` linearly in SNR (dB) on each tabulated block size, then linearly
in ``log(block size)`` between the two nearest sizes (clamped at the ends). Below a table's first
SNR the BLER is 1 where the table starts at the top of its waterfall (BLER >= 0.9, as semlink's
do) and the first value otherwise; above its last SNR, the last value (0 stays 0).
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semlink.channel.phy.mcs import MCS_INDICES

SHIPPED = Path(__file__).with_name("tables") / "bler-awgn.json"
"""The tables semlink ships."""
FLOOR = 1e-6
"""BLER values below this are treated as this in the log interpolation (and 0 comes back as 0)."""


@dataclass(frozen=True)
class Curve:
    """One waterfall: BLER at increasing SNRs for one MCS and block size.

    :param snr_db: [P] ascending SNRs (Es/N0, dB).
    :param bler: [P] block error rates.
    :param blocks: [P] blocks simulated per point (0 where unknown).
    """

    snr_db: np.ndarray
    bler: np.ndarray
    blocks: np.ndarray

    def at(self, snr_db: np.ndarray) -> np.ndarray:
        """BLER at each SNR (log-linear interpolation, clamped to the ends)."""
        log_bler = np.log10(np.maximum(self.bler, FLOOR))
        out = 10.0 ** np.interp(snr_db, self.snr_db, log_bler)
        if self.bler[0] >= 0.9:  # the table starts at the top of the waterfall: below it, nothing decodes
            out = np.where(np.asarray(snr_db) < self.snr_db[0], 1.0, out)
        return np.where(out <= FLOOR * 1.0000001, 0.0, out)

    def snr_at(self, target: float) -> float:
        """The SNR (dB) where the BLER falls to ``target`` (interpolated; NaN if never)."""
        log_bler = np.log10(np.maximum(self.bler, FLOOR))
        goal = np.log10(target)
        above = np.flatnonzero(log_bler >= goal)
        below = np.flatnonzero(log_bler < goal)
        if not above.size or not below.size:
            return float("nan")
        j = int(below[0])
        if j == 0:
            return float(self.snr_db[0])
        x0, x1, y0, y1 = self.snr_db[j - 1], self.snr_db[j], log_bler[j - 1], log_bler[j]
        return float(x0 + (goal - y0) * (x1 - x0) / (y1 - y0))


@dataclass(frozen=True)
class BlerTable:
    """Waterfalls by MCS index and block size.

    :param curves: ``{mcs: {block_bits: Curve}}``.
    :param source: where the curves come from (``semlink`` or ``sionna-sys``), for records.
    """

    curves: dict[int, dict[int, Curve]]
    source: str

    def has(self, mcs_index: int) -> bool:
        """Whether this table covers ``mcs_index``."""
        return mcs_index in self.curves

    def bler(self, mcs_index: int, snr_db: np.ndarray, block_bits: np.ndarray) -> np.ndarray:
        """Block error rate of blocks of ``block_bits`` at ``snr_db``, for one MCS.

        :param mcs_index: a covered MCS.
        :param snr_db: [N] effective SNRs in dB.
        :param block_bits: [N] block sizes (scalar broadcasts).
        :return: [N] BLER in [0, 1].
        """
        by_size = self.curves[mcs_index]
        sizes = np.array(sorted(by_size), dtype=np.float64)
        snr = np.asarray(snr_db, dtype=np.float64)
        bits = np.broadcast_to(np.asarray(block_bits, dtype=np.float64), snr.shape)
        rows = np.stack([by_size[int(s)].at(snr) for s in sizes])  # [S, N]
        if sizes.size == 1:
            return rows[0]
        low, high, frac = size_neighbours(bits, sizes)
        columns = np.arange(snr.size)
        log_low = np.log10(np.maximum(rows[low, columns], FLOOR))
        log_high = np.log10(np.maximum(rows[high, columns], FLOOR))
        out = 10.0 ** ((1.0 - frac) * log_low + frac * log_high)
        return np.where(out <= FLOOR * 1.0000001, 0.0, out)


def size_neighbours(bits: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two tabulated block sizes around each block and the weight of the upper one.

    Linear in ``log`` size, clamped to the tabulated range.

    :param bits: [N] block sizes. :param sizes: [S] tabulated sizes, ascending.
    :return: lower [N] and upper [N] indices into ``sizes``, and [N] weights of the upper in [0, 1].
    """
    position = np.interp(np.log(bits), np.log(sizes), np.arange(sizes.size))
    lower = np.clip(np.floor(position).astype(np.int64), 0, max(sizes.size - 2, 0))
    upper = np.minimum(lower + 1, sizes.size - 1)
    return lower, upper, position - lower


def curves_from_json(data: dict[str, object]) -> dict[int, dict[int, Curve]]:
    """``{"tables": {mcs: {block_bits: {snr_db, bler, blocks}}}}`` as curves."""
    tables = data["tables"]
    assert isinstance(tables, dict)
    out: dict[int, dict[int, Curve]] = {}
    for mcs_key, by_size in tables.items():
        out[int(mcs_key)] = {
            int(size): Curve(
                np.asarray(c["snr_db"], dtype=np.float64),
                np.asarray(c["bler"], dtype=np.float64),
                np.asarray(c.get("blocks", [0] * len(c["snr_db"])), dtype=np.int64),
            )
            for size, c in by_size.items()
        }
    return out


@functools.lru_cache(maxsize=4)
def load_table(path: Path = SHIPPED) -> BlerTable:
    """The BLER tables in ``path`` (default: the shipped ones).

    :raises FileNotFoundError: one line naming the file and the command that makes it.
    """
    if not path.exists():
        raise FileNotFoundError(f"BLER tables {path} not found; make them with: semlink channel tables --out {path}")
    return BlerTable(curves_from_json(json.loads(path.read_text())), "semlink")


def sionna_tables_path() -> Path | None:
    """Sionna SYS's PDSCH MCS-table-2 BLER file, found without importing Sionna (None if absent)."""
    spec = importlib.util.find_spec("sionna")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "sys" / "bler_tables" / "PDSCH_table2.json"
    return path if path.exists() else None


@functools.lru_cache(maxsize=1)
def sionna_table() -> BlerTable | None:
    """Sionna SYS's coarse tables for MCS table 2 (category 1 = PDSCH), or None without Sionna."""
    path = sionna_tables_path()
    if path is None:
        return None
    raw = json.loads(path.read_text())["category"]["1"]["index"]["2"]["MCS"]
    curves: dict[int, dict[int, Curve]] = {}
    for mcs_key, entry in raw.items():
        if int(mcs_key) not in MCS_INDICES:
            continue
        snr = np.asarray(entry["SNR_db"], dtype=np.float64)
        curves[int(mcs_key)] = {
            int(size): Curve(snr, np.asarray(c["BLER"], dtype=np.float64), np.zeros(snr.size, np.int64))
            for size, c in entry["CBS"].items()
        }
    return BlerTable(curves, "sionna-sys")


class BlerModel:
    """BLER of any supported MCS: semlink's tables where it has them, Sionna SYS's elsewhere.

    :param path: semlink's table file (default: the shipped one).
    """

    def __init__(self, path: Path = SHIPPED) -> None:
        self.own = load_table(path)
        self._fallback: BlerTable | None = None

    def table_for(self, mcs_index: int) -> BlerTable:
        """The table that covers ``mcs_index``.

        :raises ValueError: if neither semlink's nor Sionna's tables cover it.
        """
        if self.own.has(mcs_index):
            return self.own
        if self._fallback is None:
            self._fallback = sionna_table()
        if self._fallback is not None and self._fallback.has(mcs_index):
            return self._fallback
        covered = ", ".join(str(m) for m in sorted(self.own.curves))
        raise ValueError(
            f"phy: no BLER table for mcs={mcs_index}; semlink's tables cover {covered} "
            "(install sionna-no-rt for Sionna SYS's coarse tables of the others)"
        )

    def bler(self, mcs_index: np.ndarray, snr_db: np.ndarray, block_bits: np.ndarray) -> np.ndarray:
        """[N] BLER of blocks with per-packet MCS, SNR (dB) and block size."""
        mcs_arr = np.asarray(mcs_index, dtype=np.int64)
        out = np.empty(mcs_arr.shape, dtype=np.float64)
        snr = np.asarray(snr_db, dtype=np.float64)
        bits = np.broadcast_to(np.asarray(block_bits, dtype=np.int64), mcs_arr.shape)
        for value in np.unique(mcs_arr).tolist():
            where = mcs_arr == value
            out[where] = self.table_for(value).bler(value, snr[where], bits[where])
        return out

    def threshold_db(self, bits_per_symbol: int, rate: np.ndarray, block_bits: np.ndarray) -> np.ndarray:
        """SNR (dB) where blocks of a modulation reach BLER 10 % at a code rate.

        Interpolated in rate over semlink's tabulated MCSs of that modulation, for the two tabulated
        block sizes around each block's (linear in ``log`` size); below the modulation's lowest
        tabulated rate it follows the slope of the Shannon limit from there. It places the waterfall
        of a code of lower rate than any MCS (incremental redundancy).

        :param bits_per_symbol: the modulation. :param rate: [N] code rates. :param block_bits: [N] sizes.
        """
        rates, sizes, at = self._thresholds(bits_per_symbol)
        r = np.asarray(rate, dtype=np.float64)
        low = rates[0]
        below = np.minimum(r, low) * bits_per_symbol
        shannon = 10.0 * np.log10((2.0**below - 1.0) / (2.0 ** (low * bits_per_symbol) - 1.0))
        by_size = np.stack([np.interp(r, rates, row) + shannon for row in at])  # [S, N]
        lower, upper, frac = size_neighbours(np.asarray(block_bits, dtype=np.float64), sizes)
        columns = np.arange(r.size)
        return (1.0 - frac) * by_size[lower, columns] + frac * by_size[upper, columns]

    @functools.lru_cache(maxsize=8)  # noqa: B019  (a few models per process; the cache dies with them)
    def _thresholds(self, bits_per_symbol: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rates [M] (ascending) of the tabulated MCSs of a modulation, block sizes [S], and the SNRs
        [S, M] where their BLER is 10 %.

        :raises ValueError: if semlink's tables have no MCS of that modulation.
        """
        from semlink.channel.phy.mcs import mcs

        indices = sorted((i for i in self.own.curves if mcs(i).bits_per_symbol == bits_per_symbol), key=lambda i: i)
        if not indices:
            raise ValueError(f"phy: semlink's BLER tables hold no MCS with {bits_per_symbol} bits per symbol")
        sizes = sorted(set.intersection(*(set(self.own.curves[i]) for i in indices)))
        at = np.array([[self.own.curves[i][k].snr_at(0.1) for i in indices] for k in sizes])
        rates = np.array([mcs(i).code_rate for i in indices])
        return rates, np.array(sizes, dtype=np.float64), at

    @property
    def own_mcs(self) -> tuple[int, ...]:
        """The MCS indices of semlink's own tables (what link adaptation chooses from)."""
        return tuple(sorted(self.own.curves))
