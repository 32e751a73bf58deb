"""The names of the built-in components, readable without importing them.

A scenario's names are checked against this catalog (and the installed entry points) before
torch, Sionna or a codec is loaded, so a misspelt name is refused in a fraction of a second.
Only the standard library is imported here; ``tests/test_catalog.py`` checks every list
against its registry, so the two cannot drift apart.
"""

from __future__ import annotations

import importlib.metadata

from semlink.errors import did_you_mean

BUILTIN: dict[str, tuple[str, ...]] = {
    "codec": ("avif", "controlnet", "gan", "hevc", "identity", "jpeg", "jpeg2000", "resize", "spic", "sqgan", "ssm",
              "webp"),
    "channel model": ("awgn", "bernoulli", "bsc", "cell", "gilbert_elliott", "ideal", "phy", "rayleigh", "tdl",
                      "trace"),
    "metric": ("delivery", "fid", "latency", "lpips", "map_consistency", "miou", "ms_ssim", "pixel_accuracy", "psnr"),
    "frame source": ("camvid", "cityscapes", "folder", "synthetic"),
    "segmenter": ("callable", "checkpoint", "exported", "shipped", "torchscript"),
}  # fmt: skip
"""Kind (as the registries name it) -> its built-in names."""

KNOBS: dict[str, str] = {
    "avif": "quality", "hevc": "quality", "jpeg": "quality", "jpeg2000": "quality", "webp": "quality",
    "gan": "tokens", "sqgan": "tokens", "spic": "quality", "ssm": "map_scale", "resize": "factor",
    "controlnet": "map_scale",
}  # fmt: skip
"""Built-in codec -> its own rate knob (the class's ``knob``; ``tests/test_catalog.py`` checks
them). A codec entry gives either ``target_bpp`` or its knob, not both."""

FILES: dict[str, dict[str, tuple[str, ...]]] = {
    "channel model": {"trace": ("path",)},
    "metric": {"fid": ("weights",), "lpips": ("weights",)},
}
"""Kind -> built-in name -> its settings that name a file (the classes' ``files``;
``tests/test_catalog.py`` checks them), so the precheck finds a missing file before torch loads."""

DEFAULT_METRICS: tuple[str, ...] = ("miou", "pixel_accuracy", "psnr", "ms_ssim", "latency", "delivery")
"""The metrics of a scenario that names none."""

GROUPS = {
    "codec": "semlink.codecs",
    "channel model": "semlink.channels",
    "metric": "semlink.metrics",
    "segmenter": "semlink.segmenters",
}
"""Kind -> the entry-point group installed packages register it under."""


def known_names(kind: str) -> list[str]:
    """The built-in names of ``kind`` and those of the installed entry points, sorted."""
    group = GROUPS.get(kind)
    installed = {ep.name for ep in importlib.metadata.entry_points(group=group)} if group else set()
    return sorted({*BUILTIN[kind], *installed})


def name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` names no ``kind`` (None when it does, or when it is an import path, which
    is checked where it is imported).
    """
    if ":" in name:
        module, _, attribute = name.partition(":")
        return None if module and attribute else f"{kind} {name!r} must look like package.module:Attribute"
    if name in known_names(kind):
        return None
    known = known_names(kind)
    return (
        f"unknown {kind} {name!r}{did_you_mean(name, known)}; choose one of: {', '.join(known)} (or module:Attribute)"
    )
