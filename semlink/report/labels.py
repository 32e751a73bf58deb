"""The words of a report: one function (:func:`describe`) says a row's settings the same way in
every legend, panel title, caption and contact sheet (``sqgan, map ×2, target 0.05 bpp``,
``SNR 5 dB, 30 km/h``); axis and table titles are here too."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from semlink.results.rows import REFERENCE_CODEC, Row, number

SETTING_WORDS: dict[str, tuple[str, str]] = {
    "target_bpp": ("target", " bpp"),
    "quality": ("quality", ""),
    "tokens": ("tokens", ""),
    "map_scale": ("map ×", ""),
    "factor": ("low-res ×", ""),
    "snr_db": ("SNR", " dB"),
    "loss": ("loss", " %"),
    "speed_kmh": ("", " km/h"),
    "delay_ms": ("delay", " ms"),
    "jitter_ms": ("jitter", " ms"),
    "delay_spread_ns": ("delay spread", " ns"),
    "rate_bps": ("rate", " bit/s"),
    "ber": ("BER", ""),
    "carrier_ghz": ("carrier", " GHz"),
    "bandwidth_mhz": ("bandwidth", " MHz"),
    "scs_khz": ("subcarrier spacing", " kHz"),
    "target_bler": ("target BLER", ""),
    "harq_max_tx": ("HARQ up to", " transmissions"),
    "harq_rtt_ms": ("HARQ round trip", " ms"),
    "mcs": ("MCS", ""),
    "link.mtu": ("MTU", ""),
    "link.fps": ("", " frames/s"),
    "link.deadline_ms": ("deadline", " ms"),
    "link.window": ("window", ""),
    "link.conceal": ("conceal", ""),
    "data.size": ("size", ""),
    "segmenter": ("segmenter", ""),
    "run": ("run", ""),
    "vehicles.count": ("", " vehicles"),
    "prbs": ("", " resource blocks"),
}
"""How a setting is said: ``target_bpp=0.1`` reads ``target 0.1 bpp``, ``map_scale=2`` ``map ×2``,
``loss=0.05`` ``loss 5 %``; a column not listed reads ``name value`` (``block 8``)."""
PERCENT_COLUMNS = frozenset({"loss"})
"""Fractions said as percentages."""
AXIS_TITLES = {
    "bpp": "bits per pixel (bpp)",
    "bpp_wire": "bits per pixel on the wire",
    "loss": "packet loss (%)",
    "snr_db": "SNR = Es/N0 (dB)",
    "speed_kmh": "speed (km/h)",
    "link.mtu": "MTU",
    "link.fps": "frame rate (frames/s)",
    "link.deadline_ms": "deadline (ms)",
    "target_bpp": "target bpp",
    "vehicles.count": "vehicles sharing the cell",
}
METRIC_TITLES = {
    "miou": "mIoU",
    "miou_mean": "mean vehicle's mIoU",
    "miou_p5": "5th-percentile vehicle's mIoU",
    "jain": "Jain's fairness index",
    "psnr": "PSNR (dB)",
    "ms_ssim": "MS-SSIM",
    "pixel_accuracy": "pixel accuracy",
    "map_consistency": "map consistency",
    "latency_ms_p50": "latency p50 (ms)",
    "latency_ms_p95": "latency p95 (ms)",
    "frames_complete": "frames complete",
    "frames_concealed": "frames concealed",
}
COLUMN_TITLES = {
    **METRIC_TITLES,
    "codec": "codec",
    "target_bpp": "target bpp",
    "map_scale": "map scale",
    "snr_db": "SNR (dB)",
    "loss": "loss (%)",
    "speed_kmh": "speed (km/h)",
    "link.mtu": "MTU",
    "link.fps": "frames/s",
    "link.deadline_ms": "deadline (ms)",
    "data.size": "frame size",
    "repeats": "repeats",
    "bpp": "bpp",
    "bpp_wire": "bpp on the wire",
    "packets": "packets lost / sent",
    "mcs": "MCS",
    "harq_tx_mean": "transmissions per packet",
    "airtime_ms": "airtime per frame (ms)",
    "deadline_misses": "late packets",
}
"""Table headings: ``bpp_wire`` reads ``bpp on the wire``; other columns have their ``_`` as spaces."""


def value_text(column: str, value: str) -> str:
    """A cell as a report says it: numbers as ``%g`` (fractions of ``loss`` as percent, whole
    numbers whole: ``6000000``, not ``6e+06``), text as it is."""
    amount = number(value)
    if amount is None:
        return value
    if column in PERCENT_COLUMNS:
        return f"{amount * 100:.4g}"
    return str(int(amount)) if amount.is_integer() and abs(amount) < 1e15 else f"{amount:.6g}"


def setting_text(column: str, value: str) -> str:
    """``target 0.1 bpp``, ``map ×2``, ``SNR 5 dB``, ``loss 5 %``, ``30 km/h``, ``MTU ip``; else ``name value``."""
    before, after = SETTING_WORDS.get(column, (column.split(".")[-1].replace("_", " "), ""))
    space = "" if not before or before.endswith("×") else " "
    return f"{before}{space}{value_text(column, value)}{after}".strip()


def range_text(column: str, values: Sequence[str]) -> str:
    """A setting over several values: ``target 0.1–0.4 bpp``, ``map ×2–4``; one value as :func:`setting_text`."""
    if len(values) < 2:
        return setting_text(column, values[0]) if values else ""
    spanned = f"{value_text(column, values[0])}–{value_text(column, values[-1])}"
    before, after = SETTING_WORDS.get(column, (column.split(".")[-1].replace("_", " "), ""))
    space = "" if not before or before.endswith("×") else " "
    return f"{before}{space}{spanned}{after}".strip()


def describe(row: Row, columns: Iterable[str]) -> str:
    """The one label of a row's settings, used by every figure: ``sqgan, map ×2, target 0.05 bpp,
    30 km/h``: the codec's name (``codec``), then each other column that is set, in words."""
    parts = []
    for column in columns:
        value = row.get(column) or ""
        if column == "codec":
            parts.append(codec_name(value))
        elif value:
            parts.append(setting_text(column, value))
    return ", ".join(parts)


def codec_name(codec: str) -> str:
    """A codec as legends name it (the reference codec says what it is)."""
    return "clean image (identity)" if codec == REFERENCE_CODEC else codec


def axis_title(column: str) -> str:
    """An axis label: ``bits per pixel (bpp)``, ``SNR = Es/N0 (dB)``; else the column in words."""
    return AXIS_TITLES.get(column) or METRIC_TITLES.get(column) or column.replace("_", " ")


def metric_title(metric: str) -> str:
    """A metric's name in words: ``mIoU``, ``PSNR (dB)``."""
    return METRIC_TITLES.get(metric, metric.replace("_", " "))


def column_title(column: str) -> str:
    """A table heading in words: ``bpp on the wire``, ``SNR (dB)``; else the column with spaces."""
    return COLUMN_TITLES.get(column, column.replace("_", " "))
