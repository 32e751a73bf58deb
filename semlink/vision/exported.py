"""Networks the user gives as files: ``torch.export`` programs (``.pt2``) or, deprecated, TorchScript.

A user-given segmenter or ``lpips``/``fid`` network is exported once, outside semlink::

    program = torch.export.export(net.eval(), (torch.rand(2, 3, 256, 512),), dynamic_shapes=...)
    torch.export.save(program, "net.pt2")

and named by its path. A ``.pt2`` file loads with :func:`torch.export.load`; any other suffix as
TorchScript (:func:`torch.jit.load`, which torch 2.10 and later deprecate).
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

EXPORT_SUFFIX = ".pt2"
EXPORT_HOW = "export it with torch.export.export and save it with torch.export.save to a .pt2 file (docs/plugins.md)"
"""The fix named in every message about a network file."""


class NetworkFileError(ValueError):
    """A network file that is missing, does not load, or does not take the shapes it is given."""


class ExportedNetwork(torch.nn.Module):
    """The module of a ``torch.export`` program, usable where a TorchScript module was.

    An exported graph has no train mode (its ``eval()`` raises), so :meth:`train` does nothing; a
    failed shape guard (an input shape the program was not exported for) becomes one line.

    :param program: the program's module (``ExportedProgram.module()``).
    :param path: its file, for messages.
    """

    def __init__(self, program: torch.nn.Module, path: Path) -> None:
        super().__init__()
        self.program = program
        self.path = path

    def train(self, mode: bool = True) -> ExportedNetwork:
        """Nothing to switch: an exported graph is fixed in the mode it was exported in (eval)."""
        return self

    def forward(self, *inputs: torch.Tensor) -> Any:
        """The program on ``inputs``."""
        try:
            return self.program(*inputs)
        except (AssertionError, RuntimeError) as error:
            if "guard" not in str(error).lower():
                raise
            shapes = ", ".join(str(tuple(x.shape)) for x in inputs)
            raise NetworkFileError(
                f"{self.path} was not exported for inputs of shape {shapes} ({first_line(error)}); export it "
                "again with dynamic_shapes for the batch, height and width (torch.export.Dim, see docs/plugins.md)"
            ) from None


def load_network(path: str | Path, what: str, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Load a ``torch.export`` program (``.pt2``) or a TorchScript file, on ``device``.

    :param path: the file. :param what: what it is for messages (``"metric lpips: weights"``).
    :raises NetworkFileError: one line naming the file and the fix, if it is missing or does not load.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise NetworkFileError(f"{what} {file} does not exist; {EXPORT_HOW}")
    if file.suffix == EXPORT_SUFFIX:
        return ExportedNetwork(load_program(file, what), file).to(device)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the docs name the way out: torch.export
            module = torch.jit.load(str(file), map_location=device)
    except Exception as error:  # torch raises RuntimeError, ValueError, pickle errors, ...
        raise NetworkFileError(
            f"{what} {file} does not load as TorchScript ({first_line(error)}); {EXPORT_HOW}"
        ) from None
    return module.eval()


def load_program(file: Path, what: str) -> torch.nn.Module:
    """The module of the ``torch.export`` program in ``file``.

    :raises NetworkFileError: one line, if it is not one.
    """
    try:
        with quiet_export_log():
            return torch.export.load(file).module()
    except Exception as error:  # zipfile, torch and serialisation errors alike
        raise NetworkFileError(
            f"{what} {file} does not load as a torch.export program ({first_line(error)}); {EXPORT_HOW}"
        ) from None


@contextlib.contextmanager
def quiet_export_log() -> Iterator[None]:
    """Silence torch.export's logging of a failed load (a traceback in the log): the error is
    reported in one line instead."""
    logger = logging.getLogger("torch.export")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def first_line(error: BaseException) -> str:
    """The first sentence of an error's message (its type's name when it has none); torch's
    longer messages go on with advice about checkpoints that does not apply here."""
    line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return line.split(". ", 1)[0].rstrip(".")


UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def safe_load_failure(what: str, path: str | Path, error: BaseException, fix: str) -> str:
    """One line for a file that :func:`torch.load` (``weights_only=True``, the safe loader) refused:
    the file, why (an object the loader will not build, or the error's first sentence), the fix.

    :param what: the file's role (``"segmenter checkpoint"``). :param fix: what to do instead.
    """
    text = str(error)
    found = UNSAFE_GLOBAL.search(text)
    unpickler = text.partition("WeightsUnpickler error:")[2].strip()
    if found is not None:
        why = f"it holds a {found.group(1)} object, which torch's safe loader does not build"
    elif unpickler:
        why = f"not a checkpoint torch's safe loader reads: {unpickler.splitlines()[0].rstrip('.')}"
    else:
        why = ANSI.sub("", first_line(error))
    return f"{what} {path} cannot be read ({why}); {fix}"
