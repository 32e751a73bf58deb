"""The metric interface: a per-frame value, then a per-point result over weighted frames.

A metric is one class registered by name in :data:`METRICS`::

    @METRICS.register("mymetric")
    class MyMetric(Metric):
        name = "mymetric"
        needs = frozenset({"image"})
        def frame(self, sample: FrameSample) -> float: ...
        def result(self, values: Sequence[Any], weights: np.ndarray) -> dict[str, float]: ...

Per-frame values are small JSON values (kept in ``frames.jsonl``), so a point's result, and
any bootstrap resample of it, is recomputed from them alone: ``result`` sees the values of
the point's frames with one weight per frame (its multiplicity in the sample).
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from semlink.data.labelset import LabelSet
from semlink.registry import Registry
from semlink.settings import Setting, check_names

NEEDS = frozenset({"image", "labels", "map", "timing"})
"""What a metric may need: the original image, the label maps, the sent segmentation map (the
segmenter's labels of the original frame), the link's timing and counters."""


@dataclass(frozen=True)
class FrameSample:
    """One scored frame, everything a metric may read.

    :param index: the frame's index in the point.
    :param image: ``[H, W, 3]`` uint8 original frame.
    :param recon: ``[H, W, 3]`` uint8 reconstruction (or concealment) at the receiver.
    :param labels: ``[H, W]`` uint8 ground-truth classes, the label set's ignore index where unlabelled.
    :param prediction: ``[H, W]`` uint8 the segmenter's labels of ``recon``.
    :param latency_ms: capture-to-decode latency; None when concealed or not timed.
    :param packets_received: packets of the frame that arrived.
    :param complete: every chunk of the frame arrived.
    :param concealed: the receiver concealed the frame (nothing usable arrived in time).
    :param sent_map: ``[H, W]`` uint8 the segmenter's labels of the original ``image``: the map the
        transmitter sends (at full resolution); None unless a metric needs ``map``.
    """

    index: int
    image: np.ndarray
    recon: np.ndarray
    labels: np.ndarray
    prediction: np.ndarray
    latency_ms: float | None
    packets_received: int
    complete: bool
    concealed: bool
    sent_map: np.ndarray | None = None


class Metric(ABC):
    """Base of every metric.

    Subclasses set :attr:`name`, :attr:`needs` and :attr:`defaults` (every setting they
    accept, with its default) and implement :meth:`frame` and :meth:`result`.

    :param label_set: the classes of the frames being scored.
    :param settings: the metric's settings (keys of :attr:`defaults`).
    :raises ValueError: for a setting the metric does not accept.
    """

    name: ClassVar[str]
    """Registry name; also the column name of a one-column metric."""
    needs: ClassVar[frozenset[str]]
    """Subset of :data:`NEEDS`: what :meth:`frame` reads from a :class:`FrameSample`."""
    sums: ClassVar[bool] = False
    """True if the columns are counts summed over frames: a results row gives them per realisation."""
    defaults: ClassVar[Mapping[str, Any]] = {}
    """The settings the metric accepts and their defaults."""
    files: ClassVar[tuple[str, ...]] = ()
    """Settings whose value names a file the metric reads (checked on disk before anything loads)."""
    cache_version: ClassVar[str] = ""
    """Part of the work cache's keys of frame values: bump it when the metric's code changes what
    :meth:`frame` returns (its class, settings and the package version are in the keys too)."""

    def __init__(self, label_set: LabelSet, **settings: Any) -> None:
        check_names(
            f"metric {self.name}", [Setting(key, default=value) for key, value in self.defaults.items()], settings
        )
        self.label_set = label_set
        self.settings: dict[str, Any] = {**self.defaults, **settings}

    def columns(self) -> tuple[str, ...]:
        """The ``results.csv`` columns the metric writes, in order (default: its name)."""
        return (self.name,)

    @abstractmethod
    def frame(self, sample: FrameSample) -> Any:
        """The frame's value: compact and JSON-serialisable (float, int, None, list, dict)."""

    @abstractmethod
    def result(self, values: Sequence[Any], weights: np.ndarray) -> dict[str, float]:
        """The point's result from its frames' values.

        :param values: ``[N]`` values returned by :meth:`frame` (or read back from JSON).
        :param weights: ``[N]`` float >= 0 frame multiplicities (ones for the estimate,
            resample counts in a bootstrap); a frame of weight 0 is left out.
        :return: column -> value, for every column of :meth:`columns` (NaN allowed).
        """

    def describe(self) -> dict[str, Any]:
        """The resolved settings: ``{"name": ..., setting: value, ...}`` (JSON-serialisable)."""
        settings = {key: str(value) if isinstance(value, Path) else value for key, value in self.settings.items()}
        return {"name": self.name, **settings}


def check_metric_class(name: str, factory: Callable[..., object]) -> None:
    """What registration demands of a metric: a concrete :class:`Metric` subclass whose
    ``needs`` are among :data:`NEEDS` (and, registered by name, whose ``name`` is that name).

    :raises TypeError: naming the metric and what it lacks.
    """
    if not (isinstance(factory, type) and issubclass(factory, Metric)):
        raise TypeError(f"metric {name!r}: {factory!r} is not a subclass of semlink.metrics.base.Metric")
    if inspect.isabstract(factory):
        raise TypeError(f"metric {name!r}: {factory.__name__} does not implement frame and result")
    if not isinstance(getattr(factory, "name", None), str) or not set(getattr(factory, "needs", {None})) <= NEEDS:
        raise TypeError(f"metric {name!r}: set name (a str) and needs (a subset of {sorted(NEEDS)}) on the class")
    if ":" not in name and factory.name != name:
        raise TypeError(f"metric {name!r}: its class says name = {factory.name!r}; make them the same")


METRICS: Registry[Metric] = Registry("metric", check=check_metric_class, group="semlink.metrics")


def build_metrics(specs: Sequence[str | Mapping[str, Any]], label_set: LabelSet) -> list[Metric]:
    """Build metrics from scenario entries: ``"psnr"`` or ``{"name": "lpips", "weights": "PATH"}``.

    :raises semlink.registry.UnknownComponentError: for a name nothing is registered under.
    :raises ValueError: for an entry without a name, a bad setting, or two metrics writing one column.
    """
    metrics = [_build_one(spec, label_set) for spec in specs]
    seen: dict[str, str] = {}
    for metric in metrics:
        for column in metric.columns():
            if column in seen:
                raise ValueError(f"metrics {seen[column]} and {metric.name} both write column {column!r}")
            seen[column] = metric.name
    return metrics


def _build_one(spec: str | Mapping[str, Any], label_set: LabelSet) -> Metric:
    if isinstance(spec, str):
        return METRICS.create(spec, label_set=label_set)
    settings = dict(spec)
    name = settings.pop("name", None)
    if not isinstance(name, str):
        raise ValueError(f"metric entry {dict(spec)!r} needs a name, e.g. {{name: lpips, weights: PATH}}")
    return METRICS.create(name, label_set=label_set, **settings)


def check_weights(values: Sequence[Any], weights: np.ndarray) -> np.ndarray:
    """``weights`` as a ``[N]`` float64 array, checked against ``[N]`` values.

    :raises ValueError: if the lengths differ or a weight is negative or not finite.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(values),):
        raise ValueError(f"{len(values)} frame values but weights of shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("frame weights must be finite and >= 0")
    return w


def weighted_mean(values: Sequence[float | None], weights: np.ndarray) -> float:
    """Weighted mean of the values that are not None (NaN if no weight is left).

    With unit weights this is exactly ``np.mean`` of those values.
    """
    w = check_weights(values, weights)
    keep = [i for i, v in enumerate(values) if v is not None and w[i] > 0]
    if not keep:
        return math.nan
    kept = np.array([values[i] for i in keep], dtype=np.float64)
    return float(np.average(kept, weights=w[keep]))
