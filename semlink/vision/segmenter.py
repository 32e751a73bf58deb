"""Segmenters: image batch -> label maps. The shipped networks, ``torch.export`` programs
(``.pt2``), TorchScript files, or callables."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from semlink.data.labelset import CAMVID, CITYSCAPES, LabelSet
from semlink.device import pick_device
from semlink.registry import Registry, import_failure, import_plugin_module
from semlink.vision.checkpoint import CheckpointError, load_segmenter

CHECKPOINTS = Path(__file__).parent / "checkpoints"
SHIPPED = {CITYSCAPES.name: "segmenter-synthetic.pt", CAMVID.name: "segmenter-camvid.pt"}


class Segmenter(ABC):
    """Labels images with the classes of :attr:`label_set`."""

    label_set: LabelSet

    @abstractmethod
    def segment(self, images: np.ndarray) -> np.ndarray:
        """``[N, H, W, 3]`` uint8 -> ``[N, H, W]`` uint8 class indices."""


SEGMENTERS: Registry[Segmenter] = Registry("segmenter", group="semlink.segmenters")


class TorchSegmenter(Segmenter):
    """Any torch module mapping ``[N, 3, H, W]`` floats in [0, 1] to ``[N, C, H, W]`` logits.

    :param module: the network (eval mode is set here).
    :param label_set: the classes of its outputs.
    :param device: ``auto``, ``cpu``, ``cuda``, ...
    :param batch: frames per forward pass.
    """

    def __init__(self, module: torch.nn.Module, label_set: LabelSet, device: str = "auto", batch: int = 8) -> None:
        self.device = pick_device(device)
        self.module = module.eval().to(self.device)
        if self.device.type == "cpu":
            self.module = self.module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.label_set = label_set
        self.batch = batch

    def segment(self, images: np.ndarray) -> np.ndarray:
        """``[N, H, W, 3]`` uint8 -> ``[N, H, W]`` uint8, in batches."""
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"segment expects [N, H, W, 3] images, got shape {images.shape}")
        out = np.empty(images.shape[:3], dtype=np.uint8)
        with torch.inference_mode():
            for start in range(0, len(images), self.batch):
                batch = np.ascontiguousarray(images[start : start + self.batch])
                chunk = torch.from_numpy(batch if batch.flags.writeable else batch.copy())
                x = chunk.to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
                if self.device.type == "cpu":
                    x = x.contiguous(memory_format=torch.channels_last)
                out[start : start + len(chunk)] = self.module(x).argmax(1).to(torch.uint8).cpu().numpy()
        return out


@SEGMENTERS.register("shipped")
def shipped_segmenter(label_set: str = "cityscapes", device: str = "auto", batch: int = 8) -> Segmenter:
    """The checkpoint shipped in the package for ``label_set`` (``cityscapes`` or ``camvid``)."""
    if label_set not in SHIPPED:
        raise CheckpointError(f"no shipped segmenter for label set {label_set!r}; shipped: {', '.join(SHIPPED)}")
    return checkpoint_segmenter(str(CHECKPOINTS / SHIPPED[label_set]), device, batch)


@SEGMENTERS.register("checkpoint")
def checkpoint_segmenter(path: str, device: str = "auto", batch: int = 8) -> Segmenter:
    """A checkpoint written by ``semlink train segmenter``.

    :raises CheckpointError: one line naming the file and the fix, if it does not load.
    """
    from semlink.vision.exported import safe_load_failure

    try:
        net, label_set = load_segmenter(Path(path))
    except CheckpointError as error:  # torch's own words run over many lines: one line, the file, the fix
        fix = "give a checkpoint of `semlink train segmenter` (tensors and plain values) or a torch.export .pt2"
        text = str(error)
        if error.__context__ is not None and " cannot be read: " in text:
            raise CheckpointError(safe_load_failure("segmenter checkpoint", path, error.__context__, fix)) from None
        if "\n" in text:
            raise CheckpointError(f"{text.splitlines()[0].rstrip(': ')}; {fix}") from None
        raise
    return TorchSegmenter(net, label_set, device, batch)


NETWORK_FILES = (".pt2", ".ts", ".jit", ".torchscript")
"""Suffixes of network files: a ``torch.export`` program (``.pt2``, preferred) or TorchScript."""


@SEGMENTERS.register("exported")
def exported_segmenter(path: str, label_set: str = "cityscapes", device: str = "auto", batch: int = 8) -> Segmenter:
    """A ``torch.export`` program (``.pt2``; or, deprecated, a TorchScript file) taking
    ``[N, 3, H, W]`` in [0, 1] and returning ``[N, C, H, W]`` logits (see docs/plugins.md)."""
    from semlink.vision.checkpoint import LABEL_SETS
    from semlink.vision.exported import load_network

    if label_set not in LABEL_SETS:
        raise CheckpointError(f"unknown label set {label_set!r}; choose one of {', '.join(LABEL_SETS)}")
    return TorchSegmenter(load_network(path, "segmenter"), LABEL_SETS[label_set], device, batch)


SEGMENTERS.register("torchscript")(exported_segmenter)  # the older name: a TorchScript file loads the same way


class CallableSegmenter(Segmenter):
    """Wraps a user function ``images [N, H, W, 3] uint8 -> labels [N, H, W]``.

    :param function: the user's function.
    :param label_set: the classes it predicts.
    """

    def __init__(self, function: Callable[[np.ndarray], np.ndarray], label_set: LabelSet) -> None:
        self.function = function
        self.label_set = label_set

    def segment(self, images: np.ndarray) -> np.ndarray:
        """Call the user's function and check its output's shape."""
        labels = np.asarray(self.function(images))
        if labels.shape != images.shape[:3]:
            raise ValueError(f"segmenter returned shape {labels.shape}, expected {images.shape[:3]}")
        return labels.astype(np.uint8)


@SEGMENTERS.register("callable")
def callable_segmenter(target: str, label_set: str = "cityscapes") -> Segmenter:
    """``module:function`` imported and wrapped in :class:`CallableSegmenter`."""
    from semlink.vision.checkpoint import LABEL_SETS

    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise CheckpointError(f"segmenter target {target!r} must look like package.module:function")
    try:
        module = import_plugin_module(module_name)
    except Exception as error:  # a plugin may raise anything while it is imported
        raise CheckpointError(import_failure(f"segmenter {target!r}", module_name, error)) from None
    try:
        function = getattr(module, attribute)
    except AttributeError:
        raise CheckpointError(f"cannot import segmenter {target!r}: {module_name} has no {attribute}") from None
    return CallableSegmenter(function, LABEL_SETS[label_set])


def named_segmenter(name: str, label_set: LabelSet, device: str) -> Segmenter:
    """A segmenter built by the factory registered (or installed as an entry point) under ``name``."""
    factory = SEGMENTERS.get(name)
    try:
        segmenter = factory(label_set=label_set.name, device=device)
    except TypeError as error:
        raise CheckpointError(f"segmenter {name!r} cannot be built from a label set and a device: {error}") from None
    if not isinstance(segmenter, Segmenter) or segmenter.label_set != label_set:
        raise CheckpointError(f"segmenter {name!r} did not return a Segmenter for {label_set.name} classes")
    return segmenter


def segmenter_identity(label_set: LabelSet, spec: str | None, device: str) -> str:
    """What shapes a segmenter's output, for the work cache's keys: its checkpoint's hash (or its
    spec, for a name or a function), the label set, the device type and the code's versions."""
    from semlink.identity import environment, file_hash

    path = CHECKPOINTS / SHIPPED[label_set.name] if spec is None and label_set.name in SHIPPED else None
    if spec is not None and Path(spec).is_file():
        path = Path(spec)
    what = f"file {file_hash(path)}" if path is not None else f"spec {spec}"
    return f"{what} {label_set.name} {pick_device(device).type} {environment()}"


def segmenter_for(label_set: LabelSet, spec: str | None = None, device: str = "auto") -> Segmenter:
    """The segmenter a run uses: ``spec`` if given, else the shipped one for ``label_set``.

    ``spec`` is a ``torch.export`` program (``.pt2``), a checkpoint path (``.pt``), a TorchScript
    file (``.ts``/``.jit``, deprecated by torch),
    ``module:function`` (a function ``[N, H, W, 3] uint8 -> [N, H, W]`` labels), or the name of a
    registered segmenter factory (``shipped``, or an installed package's entry point in group
    ``semlink.segmenters``), called with ``label_set`` (its name) and ``device``.
    """
    if spec is None:
        return shipped_segmenter(label_set.name, device)
    if ":" not in spec and not Path(spec).suffix and not Path(spec).exists():
        return named_segmenter(spec, label_set, device)
    if ":" in spec and not Path(spec).exists():
        return callable_segmenter(spec, label_set.name)
    if spec.endswith(NETWORK_FILES):
        return exported_segmenter(spec, label_set.name, device)
    segmenter = checkpoint_segmenter(spec, device)
    if segmenter.label_set != label_set:
        raise CheckpointError(
            f"segmenter {spec} predicts {segmenter.label_set.name} classes but the data "
            f"uses {label_set.name}; pick a segmenter trained on that label set"
        )
    return segmenter
