"""The optional ``controlnet`` codec: the map and the caption on the wire, a user's
ControlNet-for-segmentation pipeline painting the frame at the receiver.

On the wire it is ``ssm`` with ``caption: true``, byte for byte: the same map part
(:class:`~semlink.codecs.semantic.map_part.MapPart`: ``ssm`` in strips, ``ssm_backup`` with
``map_backup``) and caption part (:class:`~semlink.codecs.semantic.caption_part.CaptionPart`:
``caption``, one chunk), coded with the map coder of the semantic codec checkpoint of the label
set. The receiver decodes them as ``ssm`` does (lost strips are *unknown*, filled from the backup
where it arrived), colours the map with the label set's palette (*unknown* is black) as the
ControlNet's conditioning image, and runs a diffusers ``StableDiffusionControlNetPipeline``
loaded from ``weights``, a local folder (``from_pretrained(folder, local_files_only=True)``:
nothing is downloaded), with the parsed caption as the prompt (:data:`NEUTRAL_PROMPT` alone where
the caption was lost or unreadable). A lost map decodes as ``ssm``'s does: the frame is still
painted, from an all-*unknown* (black) map and whatever caption arrived.

The sampler's noise is deterministic: a generator of its own seeded from the codec's ``seed`` and
a digest of the received chunks. The receiver does not know a frame's number, and the work cache
keys a decode by the bytes received, so a decode is a function of what arrived: the same bytes
give the same frame, different frames (or loss patterns) different noise.

diffusers and transformers are imported only when the codec is built
(:mod:`~semlink.codecs.semantic.diffusion`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from semlink.codecs.base import CODECS, Bitstream, Codec, ReceivedBitstream
from semlink.codecs.semantic.caption_part import CaptionPart
from semlink.codecs.semantic.checkpoint import shipped_codec_path
from semlink.codecs.semantic.map_part import MapPart
from semlink.codecs.semantic.network import DecoderInputs, shared_model
from semlink.codecs.semantic.options import SemanticOptions, checked_options
from semlink.codecs.semantic.parts import CodedFrame, FrameToCode
from semlink.settings import check_number

NEUTRAL_PROMPT = "a photo of a street scene"
"""The prompt where no caption arrived; a caption's text follows it where one did."""


def checked_sampler(steps: object, guidance: object, seed: object) -> tuple[int, float, int]:
    """``(steps, guidance, seed)`` after checking them, each refusal one line naming the setting.

    :raises ValueError: for a value out of range or not whole where it must be.
    """
    count = check_number("controlnet", "steps", steps, 1, 1000)
    scale = check_number("controlnet", "guidance", guidance, 0.0, 100.0)
    number = check_number("controlnet", "seed", seed, 0, 2**63 - 1)
    if not (count.is_integer() and number.is_integer()):
        raise ValueError(f"controlnet: steps={steps!r} and seed={seed!r} must be whole numbers")
    return int(count), scale, int(number)


@CODECS.register("controlnet")
class ControlNetCodec(Codec):
    """The map and a caption; a ControlNet pipeline from a local folder paints the frame.

    Knob: ``map_scale`` (1, 2 or 4, default 1), or ``target_bpp``: the finest map that fits
    beside the caption, as ``ssm`` searches it.

    :param weights: a folder holding a diffusers ``StableDiffusionControlNetPipeline``
        (``save_pretrained``), loaded with local files only; required.
    :param target_bpp: search ``map_scale`` for the most bits at or below this many per pixel.
    :param map_scale: the map is coded at 1/``map_scale`` resolution (1, 2 or 4).
    :param steps: the sampler's denoising steps (default 20).
    :param guidance: classifier-free guidance scale (default 7.5; 1 or less: none).
    :param seed: seed of the sampler's noise (with a digest of the received chunks).
    :param label_set: the frames' label set (its palette colours the map; it picks the map coder).
    :param checkpoint: a semantic codec checkpoint whose map coder to use instead of the shipped one.
    :param device: ``auto``, ``cpu``, ``cuda``, ... (where the pipeline runs).
    :param strip_rows: frame rows per map chunk (a multiple of ``map_scale``).
    :param map_backup: 0, or also send the map at 1/``map_backup`` (2, 4 or 8) last, as ``ssm`` does.

    Each bitstream's ``settings`` hold ``map_scale`` and ``caption_bytes``.
    """

    name = "controlnet"
    knob = "map_scale"
    uses_ssm = True
    uses_label_set = True
    cache_version = "1"

    def __init__(
        self,
        weights: str | None = None,
        target_bpp: float | None = None,
        map_scale: int | None = None,
        steps: int = 20,
        guidance: float = 7.5,
        seed: int = 0,
        label_set: str = "cityscapes",
        checkpoint: str | None = None,
        device: str = "auto",
        strip_rows: int = 32,
        map_backup: int = 0,
    ) -> None:
        self.options: SemanticOptions = checked_options(
            self.name,
            self.knob,
            True,
            target_bpp=target_bpp,
            tokens=None,
            quality=None,
            map_scale=map_scale,
            strip_rows=strip_rows,
            band_rows=2,
            lowres_divisor=8,
            map_backup=map_backup,
            token_order="spatial",
            group_tokens=24,
            positions="sent",
            caption=True,
        )
        self.target_bpp = self.options.target_bpp
        self.steps, self.guidance, self.seed = checked_sampler(steps, guidance, seed)
        from semlink.codecs.semantic import diffusion

        diffusion.check_installed()
        self.weights = diffusion.check_weights(weights)
        self.checkpoint_path = checkpoint or str(shipped_codec_path(label_set))
        _, self.label_set, map_coder, _ = shared_model(self.checkpoint_path, "cpu")  # only its map coder is used
        options = self.options
        search = options.target_bpp if options.searches("map_scale") else None
        self.map_part = MapPart(
            map_coder, self.label_set.num_classes, options.map_scale, options.strip_rows, options.map_backup, search
        )
        self.caption_part = CaptionPart(self.label_set)
        self.pipeline: Any = diffusion.load_pipeline(self.weights, device)
        self.device = self.pipeline.device

    def model_identity(self) -> str:
        """The map coder's checkpoint, the pipeline's folder, the libraries' versions and the device."""
        from semlink.codecs.semantic import diffusion
        from semlink.identity import file_hash

        return " ".join(
            (
                file_hash(self.checkpoint_path),
                diffusion.weights_identity(self.weights),
                diffusion.library_versions(),
                self.device.type,
            )
        )

    # -- transmitter -------------------------------------------------------------------------

    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """The caption (coded first, so a ``target_bpp`` search counts its bytes) and the map."""
        shape = (int(image.shape[0]), int(image.shape[1]))
        if ssm is None or ssm.shape != shape:
            raise ValueError(f"{self.name} needs the frame's segmentation map of shape {shape}")
        frame, coded = FrameToCode(image, ssm), CodedFrame()
        self.caption_part.encode(frame, coded)
        self.map_part.encode(frame, coded)
        streams = tuple(sorted(coded.streams, key=lambda stream: stream.priority))
        return Bitstream(streams, shape, coded.settings)

    # -- receiver ----------------------------------------------------------------------------

    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """The pipeline's frame from the received map (coloured) and caption (the prompt)."""
        from semlink.codecs.semantic import diffusion

        inputs = DecoderInputs.nothing(received.shape, self.label_set.num_classes)
        self.map_part.decode(received, inputs)
        self.caption_part.decode(received, inputs)
        return diffusion.paint(
            self.pipeline,
            self.conditioning(inputs.labels),
            self.prompt(inputs),
            self.steps,
            self.guidance,
            self.noise_seed(received),
        )

    def conditioning(self, labels: np.ndarray) -> np.ndarray:
        """The ControlNet's input: ``labels [H, W]`` in the label set's palette, *unknown* black."""
        return self.label_set.colorize(labels)

    def prompt(self, inputs: DecoderInputs) -> str:
        """The parsed caption's text after :data:`NEUTRAL_PROMPT`, or that alone without a caption."""
        if inputs.caption is None:
            return NEUTRAL_PROMPT
        return f"{NEUTRAL_PROMPT}: {inputs.caption.text(self.label_set).replace('_', ' ')}"

    def noise_seed(self, received: ReceivedBitstream) -> int:
        """The sampler's seed: the codec's ``seed`` and a digest of every chunk received (lost ones marked)."""
        digest = hashlib.sha256(f"{self.seed} {received.shape}".encode())
        for name in sorted(received.chunks):
            digest.update(len(name).to_bytes(4, "big") + name.encode())
            for chunk in received.chunks[name]:
                digest.update(b"\x00" if chunk is None else b"\x01" + len(chunk).to_bytes(4, "big") + chunk)
        return int.from_bytes(digest.digest()[:8], "big") >> 1
