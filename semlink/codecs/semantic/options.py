"""The settings every semantic codec takes, checked in one place (the same for all four codecs, so a
scenario's options mean the same whichever codec reads them)."""

from __future__ import annotations

from dataclasses import dataclass

from semlink.codecs.base import check_number, check_positive
from semlink.codecs.semantic.lowres import DIVISORS

MAP_SCALES = (1, 2, 4)
"""Map resolutions a codec may send, finest first."""
ONLY_KNOBS = ("tokens", "quality")
"""Knobs that mean nothing to a codec that does not own them (``map_scale`` is an option of all)."""


@dataclass(frozen=True)
class SemanticOptions:
    """A semantic codec's checked settings (see :class:`~semlink.codecs.semantic.codec.SemanticCodec`).

    :param knob: the codec's own rate knob: the stream part that owns it searches it with ``target_bpp``.
    """

    codec: str
    knob: str | None
    target_bpp: float | None
    tokens: float
    quality: float
    map_scale: int
    strip_rows: int
    band_rows: int
    lowres_divisor: int
    map_backup: int
    token_order: str
    group_tokens: int
    positions: str
    caption: bool

    def searches(self, knob: str) -> bool:
        """True if ``knob`` is the codec's own and is searched for ``target_bpp``."""
        return self.knob == knob and self.target_bpp is not None


def check_knobs(codec: str, knob: str | None, given: dict[str, float | None], target_bpp: float | None) -> None:
    """Refuse a knob this codec has no use for, and its knob given together with ``target_bpp``.

    :raises ValueError: naming the codec's own knobs.
    """
    own = f"{knob} or target_bpp"
    for key, value in given.items():
        if value is not None and key != knob and key in ONLY_KNOBS:
            raise ValueError(f"{codec} has no {key}; its knob is {own}")
    if target_bpp is not None and given.get(knob or "") is not None:
        raise ValueError(f"{codec}: give {own}, not both")


def check_map_options(map_scale: int | None, strip_rows: int, map_backup: int, lowest: int) -> None:
    """Refuse a map scale, strip height or backup scale that do not fit together (``lowest``: the
    coarsest scale the map may be sent at).

    :raises ValueError: in one line, with the values that are allowed.
    """
    if map_scale not in (None, *MAP_SCALES) or strip_rows % lowest:
        raise ValueError(f"map_scale {map_scale} must be 1, 2 or 4 and divide strip_rows {strip_rows}")
    if map_backup not in (0, 2, 4, 8) or (map_backup and (map_backup <= lowest or strip_rows % map_backup)):
        raise ValueError(
            f"map_backup {map_backup} must be 0, or 2, 4 or 8, coarser than the map ({lowest}) and dividing strip_rows"
        )


def check_positions(codec: str, positions: str, token_order: str, sends_map: bool) -> None:
    """Refuse a ``positions`` setting the codec cannot honour.

    :raises ValueError: in one line, with what to write instead.
    """
    if positions not in ("sent", "derived"):
        raise ValueError(f"{codec}: positions {positions!r} must be sent or derived")
    if positions == "derived" and not sends_map:
        raise ValueError(f"{codec} sends no map to derive token positions from; use positions: sent")
    if positions == "derived" and token_order != "spatial":
        raise ValueError(f"{codec}: positions: derived needs token_order: spatial")


def check_caption(codec: str, caption: object, sends_map: bool) -> bool:
    """``caption`` as a bool, refused where it is not one or the codec sends no map to apply it to.

    :raises ValueError: in one line, with what to write instead.
    """
    if not isinstance(caption, bool):
        raise ValueError(f"{codec}: caption {caption!r} must be true or false")
    if caption and not sends_map:
        raise ValueError(f"{codec} sends no map for a caption to describe; use caption: false")
    return caption


def checked_options(
    codec: str,
    knob: str | None,
    sends_map: bool,
    *,
    target_bpp: float | None,
    tokens: float | None,
    quality: float | None,
    map_scale: int | None,
    strip_rows: int,
    band_rows: int,
    lowres_divisor: int,
    map_backup: int,
    token_order: str,
    group_tokens: int,
    positions: str,
    caption: object,
) -> SemanticOptions:
    """Every setting checked, in a fixed order, each refusal one line naming the setting.

    :raises ValueError: for the first setting that is out of range or does not fit the others.
    """
    check_knobs(codec, knob, {"tokens": tokens, "quality": quality, "map_scale": map_scale}, target_bpp)
    target = None if target_bpp is None else check_positive(codec, "target_bpp", target_bpp)
    fraction = check_number(codec, "tokens", 0.1 if tokens is None else tokens, 0.0, 1.0)
    webp_quality = check_number(codec, "quality", 50 if quality is None else quality, 0, 100)
    scale = 1 if map_scale is None else int(map_scale)
    if token_order not in ("spatial", "importance") or group_tokens < 1:
        raise ValueError(f"token_order {token_order!r} must be spatial or importance, group_tokens ≥ 1")
    searched = knob == "map_scale" and target is not None
    check_map_options(map_scale, strip_rows, map_backup, max(MAP_SCALES) if searched else scale)
    if lowres_divisor not in DIVISORS:
        raise ValueError(f"lowres_divisor {lowres_divisor} must be one of {DIVISORS}")
    check_positions(codec, positions, token_order, sends_map)
    return SemanticOptions(
        codec=codec,
        knob=knob,
        target_bpp=target,
        tokens=fraction,
        quality=webp_quality,
        map_scale=scale,
        strip_rows=strip_rows,
        band_rows=band_rows,
        lowres_divisor=lowres_divisor,
        map_backup=map_backup,
        token_order=token_order,
        group_tokens=group_tokens,
        positions=positions,
        caption=check_caption(codec, caption, sends_map),
    )
