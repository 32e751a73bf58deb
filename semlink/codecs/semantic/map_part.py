"""The map part: the streams ``ssm`` (priority 0) and, with ``map_backup``, ``ssm_backup`` (priority 3).

``ssm`` is the transmitter's segmentation map, optionally downsampled ×``map_scale``, coded
losslessly (:mod:`~semlink.codecs.semantic.map_coder`) in strips of ``strip_rows`` frame rows; a
lost strip becomes *unknown* for the decoder. With ``target_bpp`` on the codec whose knob is
``map_scale`` (``ssm``), the finest scale that fits is sent and each strip is led by one byte
naming its scale. ``ssm_backup`` is a coarser copy sent last, so that it travels in other
packets than the map; it fills the strips of the map that were lost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from semlink.codecs.base import ReceivedBitstream, Stream
from semlink.codecs.semantic.map_coder import MapCoder
from semlink.codecs.semantic.network import DecoderInputs
from semlink.codecs.semantic.options import MAP_SCALES
from semlink.codecs.semantic.parts import CodedFrame, FrameToCode, PartContext, StreamPart


class MapPart(StreamPart):
    """The segmentation map, in strips, and its optional coarse backup.

    :param coder: the checkpoint's lossless map coder.
    :param unknown: the *unknown* class.
    :param scale: the map is coded at 1/``scale`` resolution.
    :param strip_rows: frame rows per chunk.
    :param backup: 0, or the scale of the backup copy.
    :param search_bpp: with a value, the scale is searched per frame for this many bits per pixel.
    """

    def __init__(
        self,
        coder: MapCoder,
        unknown: int,
        scale: int,
        strip_rows: int,
        backup: int = 0,
        search_bpp: float | None = None,
    ) -> None:
        self.coder, self.unknown = coder, unknown
        self.scale, self.strip_rows, self.backup = scale, strip_rows, backup
        self.search_bpp = search_bpp

    @classmethod
    def build(cls, context: PartContext, earlier: Sequence[StreamPart]) -> MapPart:
        """The map part of a codec's settings (it searches the scale if ``map_scale`` is the codec's knob)."""
        options = context.options
        search = options.target_bpp if options.searches("map_scale") else None
        return cls(
            context.map_coder, context.unknown, options.map_scale, options.strip_rows, options.map_backup, search
        )

    # -- transmitter -------------------------------------------------------------------------

    def encode(self, frame: FrameToCode, coded: CodedFrame) -> None:
        """Add ``ssm`` (and ``ssm_backup``) and the setting ``map_scale``."""
        assert frame.ssm is not None, "the codec checks that every frame comes with its map"
        budget = None if self.search_bpp is None else self.search_bpp * frame.pixels - coded.bits
        scale, chunks = self.map_stream(frame.ssm, budget)
        coded.streams.append(Stream("ssm", 0, chunks))
        coded.settings["map_scale"] = scale
        if self.backup:
            coded.streams.append(Stream("ssm_backup", 3, self.map_chunks(frame.ssm, self.backup)))

    def map_stream(self, ssm: np.ndarray, budget: float | None) -> tuple[int, tuple[bytes, ...]]:
        """``(scale, chunks)`` of the map: at ``scale``, or (with a ``budget`` in bits) at the
        finest scale that fits, each strip then led by one byte naming its scale."""
        if budget is None:
            return self.scale, self.map_chunks(ssm, self.scale)
        for scale in MAP_SCALES:
            chunks = tuple(bytes([scale]) + chunk for chunk in self.map_chunks(ssm, scale))
            if 8 * sum(len(c) for c in chunks) <= budget or scale == MAP_SCALES[-1]:
                return scale, chunks
        raise AssertionError("unreachable: the last scale always returns")

    def map_chunks(self, ssm: np.ndarray, scale: int) -> tuple[bytes, ...]:
        """The map at 1/``scale`` resolution in strips of ``strip_rows`` frame rows, each coded alone."""
        return tuple(
            self.coder.encode(ssm[top : top + self.strip_rows : scale, ::scale])
            for top in range(0, ssm.shape[0], self.strip_rows)
        )

    def as_decoded(self, ssm: np.ndarray) -> np.ndarray:
        """``ssm [H, W]`` as the receiver decodes it when every strip arrives (at ``scale``)."""
        s = self.scale
        return ssm[::s, ::s].repeat(s, 0).repeat(s, 1)[: ssm.shape[0], : ssm.shape[1]]

    # -- receiver ----------------------------------------------------------------------------

    def decode(self, received: ReceivedBitstream, inputs: DecoderInputs) -> None:
        """The received map (``primary``), its lost strips filled from the backup (``labels``)."""
        labels = self.received_map(received.stream("ssm"), received.shape)
        inputs.primary = labels.copy()  # derived token positions come from the map itself, never its backup
        if self.backup:
            backup = self.received_map(received.stream("ssm_backup"), received.shape, self.backup)
            unknown = labels == self.unknown
            labels[unknown] = backup[unknown]
        inputs.labels = labels

    def received_map(self, chunks: list[bytes | None], shape: tuple[int, int], scale: int = 0) -> np.ndarray:
        """The map (coded at 1/``scale``, default the part's; with a searched scale, the one each
        strip names) with *unknown* where strips are missing or damaged."""
        full = np.full(shape, self.unknown, dtype=np.uint8)
        for number, chunk in enumerate(chunks[: -(-shape[0] // self.strip_rows)]):
            top = number * self.strip_rows
            rows = min(self.strip_rows, shape[0] - top)
            strip = None if chunk is None else self.decoded_strip(chunk, (rows, shape[1]), scale)
            if strip is not None:
                full[top : top + rows] = strip
        return full

    def decoded_strip(self, chunk: bytes, shape: tuple[int, int], scale: int) -> np.ndarray | None:
        """One strip of ``shape`` frame pixels from its chunk, or None if it cannot be decoded."""
        if self.search_bpp is not None and not scale:
            if not chunk or chunk[0] not in MAP_SCALES:
                return None
            scale, chunk = chunk[0], chunk[1:]
        scale = scale or self.scale
        coarse_shape = (-(-shape[0] // scale), -(-shape[1] // scale))
        try:
            coarse = self.coder.decode(chunk, coarse_shape)
        except ValueError:
            return None
        return coarse.repeat(scale, 0).repeat(scale, 1)[: shape[0], : shape[1]]
