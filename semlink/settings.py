"""Settings that components declare once: each a name, a type, a default, an allowed range and a
one-line doc, checked in one place.

A component (codec, channel model, metric, segmenter) either declares its settings as a
``settings`` tuple of :class:`Setting` or leaves them to its constructor's signature
(:func:`settings_of`); a constructor that takes ``**kwargs`` accepts anything. Everything that
checks a scenario's settings by name (:func:`check_names`) or a number's range
(:func:`check_number`) goes through here, so every message has one form:
``bernoulli: loss=1.5 must be in [0, 1]``, ``codec jpeg has no setting 'qualty' (did you mean
'quality'?); its settings: quality, target_bpp``.

Example::

    LOSS = Setting("loss", float, 0.0, low=0.0, high=1.0, doc="packet erasure probability")
    LOSS.check("bernoulli", 0.1)     # 0.1
    check_names("channel bernoulli", [LOSS], {"los": 0.1})  # ValueError with "did you mean 'loss'?"
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

from semlink.errors import did_you_mean

REQUIRED: Any = inspect.Parameter.empty
"""The default of a setting that has none (the scenario must give it)."""
CONTEXT_PARAMETERS = ("label_set", "device")
"""Constructor parameters the study fills in itself, never a scenario's settings."""


@dataclass(frozen=True)
class Setting:
    """One setting of a component.

    :param name: its key in a scenario. :param kind: the Python type of its values (None: any).
    :param default: its default (:data:`REQUIRED`: none). :param low: smallest value (numbers).
    :param high: largest value (numbers). :param low_open: ``low`` excluded.
    :param high_open: ``high`` excluded. :param doc: what it does, in one line.
    :param knob: it sets the component's rate (a codec's ``target_bpp``, ``quality``, ...).
    :param file: its value names a file the component reads (checked before anything loads).
    """

    name: str
    kind: type | None = None
    default: Any = REQUIRED
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    doc: str = ""
    knob: bool = False
    file: bool = False

    @property
    def required(self) -> bool:
        """Whether a scenario must give it."""
        return self.default is REQUIRED

    def check(self, owner: str, value: object) -> object:
        """``value`` checked against the setting's type and range (a number as a float, or an int
        for an int setting).

        :raises ValueError: in one line naming ``owner``, the setting and what is allowed.
        """
        if value is None and not self.required and self.default is None:
            return None
        if self.kind in (int, float):
            number = check_number(owner, self.name, value, self.low, self.high, low_open=self.low_open,
                                  high_open=self.high_open)  # fmt: skip
            if self.kind is int and number != int(number):
                raise ValueError(f"{owner}: {self.name}={value!r} must be a whole number")
            return int(number) if self.kind is int else number
        if self.kind is bool and not isinstance(value, bool):
            raise ValueError(f"{owner}: {self.name}={value!r} must be true or false")
        if self.kind is str and not isinstance(value, str):
            raise ValueError(f"{owner}: {self.name}={value!r} must be text")
        return value

    def describe(self) -> str:
        """One line for tables and ``semlink list``: ``loss (float in [0, 1], default 0): doc``."""
        kind = self.kind.__name__ if self.kind is not None else "any"
        bounds = f" {interval(self.low, self.high, self.low_open, self.high_open)}" if self.kind in (int, float) else ""
        bounds = "" if bounds.strip() in ("", "> -inf", ">= -inf") else bounds
        default = "required" if self.required else f"default {self.default!r}"
        return f"{self.name} ({kind}{bounds}, {default}){': ' + self.doc if self.doc else ''}"


def interval(low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    """Text for an allowed range: ``in [0, 1)``, ``>= 1``, ``> 0``, ``<= 5``."""
    if math.isinf(high):
        return f"{'>' if low_open else '>='} {low:g}"
    if math.isinf(low):
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_number(
    owner: str,
    name: str,
    value: object,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A real setting as a float, or a one-line ``ValueError`` naming owner, setting and range.

    NaN and infinities are refused (a bool is not a number).

    :param owner: the component, for the message (``bernoulli``, ``jpeg``).
    :param name: the setting's name. :param value: the value given.
    :param low: the smallest value allowed. :param high: the largest value allowed.
    :param low_open: whether ``low`` itself is excluded. :param high_open: whether ``high`` is.
    """
    allowed = interval(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{owner}: {name}={value!r} must be a number {allowed}")
    x = float(value)
    above = low < x if low_open else low <= x
    below = x < high if high_open else x <= high
    if not (above and below and math.isfinite(x)):
        raise ValueError(f"{owner}: {name}={x!r} must be {allowed}")
    return x


def settings_of(factory: Callable[..., object], context: Sequence[str] = CONTEXT_PARAMETERS) -> list[Setting] | None:
    """The settings a component takes: its declared ``settings`` where it has them, else its
    constructor's named parameters (defaults as declared), following ``**kwargs`` passed on to
    base classes; None when it takes any name (a constructor with ``**kwargs`` all the way up).
    Parameters named in the factory's ``refused_parameters`` and in ``context`` (those the caller
    fills in itself, :data:`CONTEXT_PARAMETERS` by default) are left out."""
    declared = getattr(factory, "settings", None)
    if isinstance(declared, tuple | list) and all(isinstance(s, Setting) for s in declared):
        return list(declared)
    chain = (
        [vars(c)["__init__"] for c in factory.__mro__ if "__init__" in vars(c) and c is not object]
        if isinstance(factory, type)
        else [factory]
    )
    named: dict[str, Setting] = {}
    for function in chain:
        parameters = list(inspect.signature(function).parameters.values())
        for p in parameters:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self" and p.name not in named:
                named[p.name] = Setting(p.name, default=p.default)
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    else:
        if chain:
            return None
    refused = {*getattr(factory, "refused_parameters", ()), *context}
    return [s for s in named.values() if s.name not in refused]


def check_names(owner: str, settings: Sequence[Setting] | None, given: Mapping[str, object]) -> None:
    """Refuse a setting ``owner`` does not take and a required one missing, listing the ones it takes.

    :param owner: the component as messages name it (``codec jpeg``, ``bernoulli``).
    :param settings: what it takes (None: anything).
    :raises ValueError: in one line, with a "did you mean" where a name is close.
    """
    if settings is None:
        return
    names = [s.name for s in settings]
    allowed = ", ".join(names) or "none"
    unknown = [key for key in given if key not in names]
    if unknown:
        hint = did_you_mean(unknown[0], names)
        plural = "settings" if len(unknown) > 1 else "setting"
        listed = ", ".join(repr(key) for key in unknown)
        raise ValueError(f"{owner} has no {plural} {listed}{hint}; its settings: {allowed}")
    missing = [s.name for s in settings if s.required and s.name not in given]
    if missing:
        raise ValueError(f"{owner}: missing setting {', '.join(missing)}; its settings: {allowed}")
