"""One registry per kind of component (frame sources, segmenters, codecs, channels, metrics).

A registry maps a short name to a factory, so scenarios and the CLI refer to components by
name. A component from outside the package is named in one of three ways:

- registered in code with a decorator (``@CODECS.register("mycodec")`` on the class);
- by import path, ``package.module:Attribute`` (imported on first use, then checked like a
  registered one);
- by an installed distribution's entry point in the registry's group (``semlink.codecs``,
  ``semlink.channels``, ``semlink.metrics``, ``semlink.segmenters``), loaded by name on first use.

An import path is looked up in the installed packages first, then, as ``python -m`` would, in the
folders of the scenario files loaded so far and the working folder (:func:`plugin_folders`). The
scenario folders travel to the child processes of a run in ``$SEMLINK_PLUGIN_PATH``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from semlink.errors import did_you_mean

PLUGIN_PATH_ENV = "SEMLINK_PLUGIN_PATH"
"""Folders (``os.pathsep``-separated) searched for ``module:Attribute`` names after the installed
packages; :func:`add_plugin_folder` adds each loaded scenario's folder, and child processes inherit it."""

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])


class UnknownComponentError(KeyError):
    """A name that no registry entry carries; the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0])


class PluginError(ValueError):
    """A component named by import path or entry point that cannot be loaded or is not one."""


def add_plugin_folder(folder: Path) -> None:
    """Make ``folder`` importable for ``module:Attribute`` names, in this process and in the
    processes it starts (through :data:`PLUGIN_PATH_ENV`)."""
    resolved = str(folder.resolve())
    listed = [entry for entry in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep) if entry]
    if resolved not in listed:
        os.environ[PLUGIN_PATH_ENV] = os.pathsep.join([*listed, resolved])


def plugin_folders() -> list[str]:
    """The folders searched for ``module:Attribute`` names: :data:`PLUGIN_PATH_ENV`'s, then the
    working folder."""
    listed = [entry for entry in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep) if entry]
    return list(dict.fromkeys([*listed, os.getcwd()]))


def import_plugin_module(module_name: str) -> Any:
    """Import ``module_name`` from the installed packages or, failing that, from :func:`plugin_folders`.

    The folders go to the end of ``sys.path``: a file beside a scenario never shadows an installed
    module of the same name.
    """
    for folder in plugin_folders():
        if folder not in sys.path:
            sys.path.append(folder)
    return importlib.import_module(module_name)


def import_failure(what: str, module_name: str, error: Exception) -> str:
    """One line saying why importing a plugin's module failed, where, and what to do.

    :param what: the component, for the message (``codec 'mine:Codec'``).
    :param module_name: the module imported. :param error: what the import raised.
    """
    if isinstance(error, ImportError):
        return f"cannot import {what}: {error}"
    first = (str(error).strip().splitlines() or [""])[0]
    if isinstance(error, SyntaxError):
        where = f" ({error.filename}, line {error.lineno})" if error.filename else ""
    else:  # the line of the module being imported (the first frame past the import machinery)
        frames = traceback.extract_tb(error.__traceback__)
        machinery = [i for i, frame in enumerate(frames) if frame.filename.startswith("<frozen importlib")]
        frame = frames[min(machinery[-1] + 1, len(frames) - 1)] if machinery else frames[-1] if frames else None
        where = f" ({frame.filename}, line {frame.lineno})" if frame is not None else ""
    return (
        f"cannot import {what}: importing {module_name} raised {type(error).__name__}: {first}{where}; "
        "fix that module (or name another)"
    )


class Registry(Generic[T]):
    """Name -> factory for one kind of component.

    :param kind: what is registered (``"frame source"``), used in error messages.
    :param check: called with ``(name, factory)`` at registration; raises ``TypeError`` if the
        factory does not declare what its kind needs (e.g. a codec's capabilities).
    :param group: the entry-point group installed packages register this kind under.
    """

    def __init__(
        self, kind: str, check: Callable[[str, Callable[..., object]], None] | None = None, group: str | None = None
    ) -> None:
        self.kind = kind
        self.group = group
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
        """The registered names and the installed entry points' names, sorted."""
        return sorted({*self._factories, *(ep.name for ep in self._entry_points())})

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``, imported from ``module:Attribute``, or loaded
        from the entry point of that name.

        :raises UnknownComponentError: if nothing is registered under ``name``.
        :raises PluginError: if an import path or entry point cannot be loaded or is not a valid
            component of this kind (one line, naming it).
        """
        if name in self._factories:
            return self._factories[name]
        if ":" in name:
            return self._add_loaded(name, self._imported(name), f"import path {name!r}")
        for entry in self._entry_points():
            if entry.name == name:
                origin = f"entry point {name!r} ({entry.value}) of group {self.group}"
                return self._add_loaded(name, self._loaded(entry, origin), origin)
        known = ", ".join(self.names())
        hint = did_you_mean(name, self.names())
        raise UnknownComponentError(f"unknown {self.kind} {name!r}{hint}; choose one of: {known} (or module:Attribute)")

    def _entry_points(self) -> list[importlib.metadata.EntryPoint]:
        if self.group is None:
            return []
        return list(importlib.metadata.entry_points(group=self.group))

    def _imported(self, path: str) -> Any:
        module_name, _, attribute = path.partition(":")
        if not module_name or not attribute:
            raise PluginError(f"{self.kind} {path!r} must look like package.module:Attribute")
        try:
            target: Any = import_plugin_module(module_name)
        except Exception as error:  # a plugin may raise anything while it is imported
            raise PluginError(import_failure(f"{self.kind} {path!r}", module_name, error)) from None
        for part in attribute.split("."):
            if not hasattr(target, part):
                raise PluginError(f"cannot import {self.kind} {path!r}: {module_name} has no {attribute}")
            target = getattr(target, part)
        return target

    def _loaded(self, entry: importlib.metadata.EntryPoint, origin: str) -> Any:
        try:
            return entry.load()
        except Exception as error:  # a broken plugin: say which, in one line
            raise PluginError(f"cannot load {self.kind} {origin}: {type(error).__name__}: {error}") from None

    def _add_loaded(self, name: str, factory: Any, origin: str) -> Callable[..., T]:
        if not callable(factory):
            raise PluginError(f"{self.kind} {origin} is {type(factory).__name__}, not a class or factory")
        if self._check is not None:
            try:
                self._check(name, factory)
            except TypeError as error:
                raise PluginError(f"{self.kind} {origin}: {error}") from None
        self._factories[name] = factory
        return factory

    def create(self, name: str, **kwargs: object) -> T:
        """Build the component registered under ``name`` with keyword arguments."""
        return self.get(name)(**kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._factories
