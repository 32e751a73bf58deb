"""The diffusers side of the ``controlnet`` codec: loading a user's ControlNet pipeline from a
local folder (never downloading), and painting one frame from a conditioning image and a prompt.

diffusers and transformers are optional (``pip install 'semlink[controlnet]'``) and imported only
here, only when a ``controlnet`` codec is built; without them the build is refused in one line.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from semlink.device import pick_device

MISSING = "codec controlnet needs diffusers and transformers: pip install 'semlink[controlnet]'"
"""The one-line refusal where they are not installed."""
HOW = "the folder a diffusers StableDiffusionControlNetPipeline was saved to (save_pretrained)"
SMALL_FILE = 1 << 20
"""Files up to this size (configs, tokenizer) are hashed into the weights' identity; larger ones
(the weights) by size and modification time, so that a run does not read gigabytes to key its cache."""


def check_installed() -> None:
    """Refuse in one line where diffusers or transformers cannot be imported.

    :raises ValueError: :data:`MISSING`.
    """
    try:
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise ValueError(MISSING) from None


def check_weights(weights: object) -> Path:
    """The weights folder, refused in one line where it is not given or holds no diffusers pipeline.

    :raises ValueError: naming the option and the fix.
    """
    if weights is None or weights == "":
        raise ValueError(f"codec controlnet needs weights: /path/to/folder, {HOW}; nothing is downloaded")
    folder = Path(str(weights)).expanduser()
    if not (folder / "model_index.json").is_file():
        raise ValueError(f"codec controlnet: weights {str(weights)!r} has no model_index.json; give {HOW}")
    return folder.resolve()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """diffusers' and transformers' own warnings and progress bars off while they load and run
    (semlink says what it does through its own logger); their settings restored after."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    modules = (diffusers_logging, transformers_logging)
    saved = [(module, module.get_verbosity(), module.is_progress_bar_enabled()) for module in modules]
    for module, _, _ in saved:
        module.set_verbosity_error()
        module.disable_progress_bar()
    try:
        yield
    finally:
        for module, verbosity, bars in saved:
            module.set_verbosity(verbosity)
            if bars:
                module.enable_progress_bar()


@functools.lru_cache(maxsize=2)
def load_pipeline(folder: Path, device: str) -> Any:
    """The pipeline saved in ``folder``, on ``device``, loaded once per process (local files only).

    :raises ValueError: in one line, where the folder does not hold a usable pipeline.
    """
    with quiet():
        from diffusers import StableDiffusionControlNetPipeline

        try:
            pipeline = StableDiffusionControlNetPipeline.from_pretrained(
                folder,
                local_files_only=True,
                safety_checker=None,
                requires_safety_checker=False,
                low_cpu_mem_usage=False,
            )
        except Exception as error:  # diffusers raises many kinds for a folder it cannot read
            first = " ".join(str(error).split())[:300]
            raise ValueError(
                f"codec controlnet: weights {str(folder)!r} is not a usable pipeline "
                f"({type(error).__name__}: {first}); give {HOW}"
            ) from None
    pipeline = pipeline.to(pick_device(device))
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def weights_identity(folder: Path) -> str:
    """A digest of the folder: each file's path and its content (small files) or its size and
    modification time (the weights); part of the work cache's keys."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(str(path.relative_to(folder)).encode())
        if stat.st_size <= SMALL_FILE:
            digest.update(path.read_bytes())
        else:
            digest.update(f"{stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def library_versions() -> str:
    """The versions of diffusers and transformers (they shape the output too)."""
    from importlib.metadata import version

    return f"diffusers={version('diffusers')} transformers={version('transformers')}"


def generation_size(pipeline: Any, shape: tuple[int, int]) -> tuple[int, int]:
    """``shape`` rounded up to what the pipeline's UNet takes: a multiple of the VAE's
    downsampling times the UNet's (64 for Stable Diffusion)."""
    multiple = int(pipeline.vae_scale_factor) * 2 ** (len(pipeline.unet.config.block_out_channels) - 1)
    return -(-shape[0] // multiple) * multiple, -(-shape[1] // multiple) * multiple


def paint(pipeline: Any, conditioning: np.ndarray, prompt: str, steps: int, guidance: float, seed: int) -> np.ndarray:
    """One frame from ``conditioning [H, W, 3]`` uint8 and ``prompt``: the pipeline's output at
    :func:`generation_size`, resized to ``[H, W, 3]`` uint8. The sampler's noise comes from a
    generator of its own seeded with ``seed`` (never the global one)."""
    h, w = conditioning.shape[:2]
    height, width = generation_size(pipeline, (h, w))
    image = Image.fromarray(conditioning).resize((width, height), Image.Resampling.NEAREST)
    generator = torch.Generator("cpu").manual_seed(seed)
    with quiet(), torch.inference_mode():
        out = pipeline(
            prompt=prompt,
            image=image,
            height=height,
            width=width,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generator,
            output_type="np",
        ).images[0]
    pixels = (np.clip(out, 0.0, 1.0) * 255).round().astype(np.uint8)
    if (height, width) == (h, w):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize((w, h), Image.Resampling.BICUBIC))
