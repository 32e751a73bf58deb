"""The semantic codecs: ``sqgan`` (map + masked VQ tokens), ``spic`` (map + low-res image),
``ssm`` (map only) and ``gan`` (VQ tokens, no semantics), all decoded by one network.

Each codec is the list of its stream parts (:mod:`~semlink.codecs.semantic.parts`), each owning
its streams and their chunks (each decodable alone):

- :class:`~semlink.codecs.semantic.map_part.MapPart`: ``ssm`` (priority 0), the map in strips,
  and with ``map_backup`` ``ssm_backup`` (priority 3), a coarser copy sent last.
- :class:`~semlink.codecs.semantic.token_part.TokenPart`: ``vq`` (priority 1), the kept tokens.
- :class:`~semlink.codecs.semantic.lowres_part.LowresPart`: ``lowres`` (priority 2), a WebP copy.
- :class:`~semlink.codecs.semantic.caption_part.CaptionPart` (``caption: true``): ``caption``
  (priority 1, before the tokens), a line of text naming the classes' colours, applied after the network.

Both ends build the codec from the same scenario settings, so chunk positions, strip and band
sizes need not be sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from semlink.codecs.base import CODECS, Bitstream, Codec, ReceivedBitstream
from semlink.codecs.semantic.caption_part import CaptionPart
from semlink.codecs.semantic.checkpoint import shipped_codec_path
from semlink.codecs.semantic.lowres_part import LowresPart
from semlink.codecs.semantic.map_part import MapPart
from semlink.codecs.semantic.network import DecoderInputs, NetworkRunner, shared_model
from semlink.codecs.semantic.options import checked_options
from semlink.codecs.semantic.parts import CodedFrame, FrameToCode, PartContext, StreamPart, find_part
from semlink.codecs.semantic.token_part import TokenPart


class SemanticCodec(Codec):
    """Base of the semantic codecs; each subclass declares its stream ``parts`` and its knob.

    Each codec has one rate knob of its own (``knob``) and ``target_bpp`` as the alternative; a knob
    a codec has no use for is refused, naming the ones it has. Every codec takes every option
    below (one meaning per name), whether or not its parts use it.

    :param target_bpp: search the codec's knob for the most bits at or below this many per pixel.
    :param tokens: fraction of the token grid sent, 0–1 (``sqgan``, ``gan``; default 0.1).
    :param quality: WebP quality of the low-res stream, 0–100 (``spic``; default 50).
    :param map_scale: the map is coded at 1/``map_scale`` resolution (1, 2 or 4; the knob of ``ssm``).
    :param label_set: label set of the frames (picks the shipped checkpoint).
    :param checkpoint: a codec checkpoint instead of the shipped one.
    :param device: ``auto``, ``cpu``, ``cuda``, ...
    :param strip_rows: frame rows per map chunk (a multiple of ``map_scale``).
    :param band_rows: token-grid rows per token chunk.
    :param lowres_divisor: downsampling of the low-res stream (4 or 8).
    :param map_backup: 0, or also send the map at 1/``map_backup`` resolution (2, 4 or 8) as a
        last stream (``ssm_backup``), which lands in the frame's last packets: where a strip of
        the map is lost, its coarse copy stands in.
    :param token_order: ``spatial`` (chunks are bands of ``band_rows`` grid rows, positions as a
        bitmap) or ``importance`` (chunks are groups of ``group_tokens`` tokens in decreasing score,
        sent first, positions coded explicitly: dearer, but a lost packet loses the least
        important tokens).
    :param group_tokens: tokens per chunk with ``importance`` order.
    :param positions: ``sent`` (the network's scorer picks the tokens and their positions are
        coded) or ``derived`` (both ends rank the blocks from the decoded map, so positions cost
        no bits; spatial order and a sent map only; a band whose map rows were lost loses its tokens).
    :param caption: also send a caption (``sqgan``, ``spic``, ``ssm``): a few tens of bytes naming
        each class's colour, which the receiver moves the reconstruction's regions towards
        (:mod:`~semlink.codecs.semantic.caption_part`).

    Each bitstream's ``settings`` hold what the codec chose for the frame: ``tokens`` (the
    fraction sent), ``quality`` or ``map_scale``, and ``caption_bytes`` with a caption.
    """

    uses_ssm = True
    uses_label_set = True
    parts: ClassVar[tuple[type[StreamPart], ...]] = (MapPart,)
    """The codec's stream parts, in coding order (a part reads the parts before it)."""

    def __init__(
        self,
        target_bpp: float | None = None,
        tokens: float | None = None,
        quality: float | None = None,
        map_scale: int | None = None,
        label_set: str = "cityscapes",
        checkpoint: str | None = None,
        device: str = "auto",
        strip_rows: int = 32,
        band_rows: int = 2,
        lowres_divisor: int = 8,
        map_backup: int = 0,
        token_order: str = "spatial",
        group_tokens: int = 24,
        positions: str = "sent",
        caption: bool = False,
    ) -> None:
        self.options = checked_options(
            self.name,
            self.knob,
            MapPart in self.parts,
            target_bpp=target_bpp,
            tokens=tokens,
            quality=quality,
            map_scale=map_scale,
            strip_rows=strip_rows,
            band_rows=band_rows,
            lowres_divisor=lowres_divisor,
            map_backup=map_backup,
            token_order=token_order,
            group_tokens=group_tokens,
            positions=positions,
            caption=caption,
        )
        self.target_bpp = self.options.target_bpp
        path = checkpoint or str(shipped_codec_path(label_set))
        self.checkpoint_path = path
        self.net, self.label_set, map_coder, token_coder = shared_model(path, device)
        runner = NetworkRunner(self.net, self.label_set)
        self.runner, self.device = runner, runner.device
        context = PartContext(self.options, self.label_set, runner, map_coder, token_coder)
        built: list[StreamPart] = []
        for part in self.composition():
            built.append(part.build(context, built))
        self.stream_parts: tuple[StreamPart, ...] = tuple(built)
        self.map_part = find_part(built, MapPart)
        self.token_part = find_part(built, TokenPart)

    def composition(self) -> tuple[type[StreamPart], ...]:
        """The parts this codec is built of with its settings: its ``parts``, led by the caption
        (coded first, so a part searching ``target_bpp`` counts its bits) with ``caption: true``."""
        return ((CaptionPart,) if self.options.caption else ()) + self.parts

    def model_identity(self) -> str:
        """The checkpoint's hash and the device the network runs on (part of the work cache's keys)."""
        from semlink.identity import file_hash

        return f"{file_hash(self.checkpoint_path)} {self.device.type}"

    # -- transmitter -------------------------------------------------------------------------

    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """Code ``image [H, W, 3]`` with its map ``ssm [H, W]`` (needed unless the codec is ``gan``)."""
        return self.compress_batch([image], [ssm])[0]

    def compress_batch(self, images: Sequence[np.ndarray], ssms: Sequence[np.ndarray | None]) -> list[Bitstream]:
        """Code several frames; the encoder network runs once over each group of frames of one size.

        On this project's CPUs the encoder, quantiser and scorer give bitwise the same tokens and
        order in a batch as alone (tested), so a bitstream does not depend on the batch.
        """
        for image, ssm in zip(images, ssms, strict=True):
            shape = (int(image.shape[0]), int(image.shape[1]))
            if self.map_part is not None and (ssm is None or ssm.shape != shape):
                raise ValueError(f"{self.name} needs the frame's segmentation map of shape {shape}")
        analyses = [None] * len(images) if self.token_part is None else self.token_part.analyse_batch(images, ssms)
        return [
            self.compress_frame(FrameToCode(image, ssm, analysis))
            for image, ssm, analysis in zip(images, ssms, analyses, strict=True)
        ]

    def compress_frame(self, frame: FrameToCode) -> Bitstream:
        """One frame's bitstream: each part adds its streams in turn; streams sorted by priority."""
        coded = CodedFrame()
        for part in self.stream_parts:
            part.encode(frame, coded)
        streams = tuple(sorted(coded.streams, key=lambda stream: stream.priority))
        return Bitstream(streams, frame.shape, coded.settings)

    # -- receiver ----------------------------------------------------------------------------

    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """Decode whatever arrived: missing strips are unknown, missing tokens masked, no low-res is none."""
        return self.decompress_batch([received])[0]

    def decompress_batch(self, received: Sequence[ReceivedBitstream]) -> list[np.ndarray]:
        """Decode several frames: the decoder network runs once over each group of frames of one size.

        A batched forward pass may round differently from single ones (on this CPU: at most one grey
        level in a few pixels), so semlink's receiver always decodes in batches of the scenario's
        ``batch`` size (padded) and keys its cache by it: see :class:`~semlink.receiver.node.RxPlan`.
        """
        inputs = [self.decoder_inputs(one) for one in received]
        images = self.runner.decode_batch(inputs)
        return [self.finish(image, one) for image, one in zip(images, inputs, strict=True)]

    def decoder_inputs(self, received: ReceivedBitstream) -> DecoderInputs:
        """What the network gets of a frame: each part fills in what its chunks carried."""
        inputs = DecoderInputs.nothing(received.shape, self.label_set.num_classes)
        for part in self.stream_parts:
            part.decode(received, inputs)
        return inputs

    def finish(self, image: np.ndarray, inputs: DecoderInputs) -> np.ndarray:
        """The network's reconstruction after each part's own step past the network."""
        for part in self.stream_parts:
            image = part.finish(image, inputs)
        return image


@CODECS.register("sqgan")
class SqganCodec(SemanticCodec):
    """SQ-GAN's design: the map plus the most important VQ tokens of the image.

    Knob: ``tokens``, the fraction of the token grid sent (``r_img``, 0–1, default 0.1), or
    ``target_bpp``, which searches it; ``map_scale`` is an option.
    """

    name = "sqgan"
    knob = "tokens"
    parts = (MapPart, TokenPart)


@CODECS.register("gan")
class GanCodec(SemanticCodec):
    """Generative compression without semantics: VQ tokens only, no map.

    Knob: ``tokens`` (0–1, default 0.1) or ``target_bpp``, which searches it.
    """

    name = "gan"
    knob = "tokens"
    uses_ssm = False
    parts = (TokenPart,)


@CODECS.register("spic")
class SpicCodec(SemanticCodec):
    """SPIC's design: the lossless map plus a low-resolution image (here WebP at ×``lowres_divisor``).

    Knob: ``quality``, the WebP quality of the low-res image (0–100, default 50), or
    ``target_bpp``, which searches it; ``map_scale`` is an option.
    """

    name = "spic"
    knob = "quality"
    parts = (MapPart, LowresPart)


@CODECS.register("ssm")
class SsmCodec(SemanticCodec):
    """The map alone; the decoder paints a frame from it.

    Knob: ``map_scale`` (1, 2 or 4, default 1), or ``target_bpp``: the finest scale whose map
    fits (the coarsest if none does); each strip then carries one byte naming its scale, counted
    in the bits like the rest.
    """

    name = "ssm"
    knob = "map_scale"
    parts = (MapPart,)
