"""One registry per kind of component (frame sources, segmenters, codecs, channels).

A registry maps a short name to a factory, so scenarios and the CLI refer to components by
name and users add their own with a decorator::

    @DATASETS.register("mysource")
    class MySource(FrameSource): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])


class UnknownComponentError(KeyError):
    """A name that no registry entry carries; the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Generic[T]):
    """Name -> factory for one kind of component.

    :param kind: what is registered (``"frame source"``), used in error messages.
    :param check: called with ``(name, factory)`` at registration; raises if the factory does not
        declare what its kind needs (e.g. a codec's capabilities).
    """

    def __init__(self, kind: str, check: Callable[[str, Callable[..., object]], None] | None = None) -> None:
        self.kind = kind
        self._check = check
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator adding a class or factory under ``name``."""

        def add(factory: F) -> F:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            if self._check is not None:
                self._check(name, factory)
            self._factories[name] = factory  # type: ignore[assignment]
            return factory

        return add

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``.

        :raises UnknownComponentError: if nothing is registered under ``name``.
        """
        try:
            return self._factories[name]
        except KeyError:
            known = ", ".join(self.names())
            raise UnknownComponentError(f"unknown {self.kind} {name!r}; choose one of: {known}") from None

    def create(self, name: str, **kwargs: object) -> T:
        """Build the component registered under ``name`` with keyword arguments."""
        return self.get(name)(**kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._factories
