"""The tokens part: the stream ``vq`` (priority 1), the kept VQ tokens of the 16×-downsampled grid.

With ``token_order: spatial`` the chunks are bands of ``band_rows`` grid rows
(:mod:`~semlink.codecs.semantic.token_coder`), positions as a bitmap; a lost band's tokens become
mask tokens. With ``positions: derived`` a band carries its indices only: the receiver ranks the
blocks from the map it decoded (:mod:`~semlink.codecs.semantic.positions`) as the transmitter did.
With ``token_order: importance`` the chunks are groups of ``group_tokens`` tokens, best-scored
first, with explicit positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from semlink.codecs.base import ReceivedBitstream, Stream
from semlink.codecs.semantic.map_part import MapPart
from semlink.codecs.semantic.net import GRID
from semlink.codecs.semantic.network import Analysis, DecoderInputs, NetworkRunner
from semlink.codecs.semantic.options import SemanticOptions
from semlink.codecs.semantic.parts import (
    CodedFrame,
    FrameToCode,
    PartContext,
    StreamPart,
    find_part,
    largest_that_fits,
)
from semlink.codecs.semantic.positions import band_positions, block_scores, derived_order
from semlink.codecs.semantic.token_coder import TokenCoder


class TokenPart(StreamPart):
    """The most important VQ tokens of the frame: the top ``tokens`` fraction, or as many as
    ``target_bpp`` allows.

    :param options: the codec's settings (``tokens``, ``band_rows``, ``token_order``, ...).
    :param coder: the checkpoint's token coder.
    :param runner: the network (the encoder's analysis).
    :param map_part: the codec's map part (None: the encoder sees an unknown map).
    """

    def __init__(
        self, options: SemanticOptions, coder: TokenCoder, runner: NetworkRunner, map_part: MapPart | None
    ) -> None:
        self.options, self.coder, self.runner, self.map_part = options, coder, runner, map_part
        self.band_rows, self.group_tokens = options.band_rows, options.group_tokens
        self.derived = options.positions == "derived"
        self.importance = options.token_order == "importance"
        self.search_bpp = options.target_bpp

    @classmethod
    def build(cls, context: PartContext, earlier: Sequence[StreamPart]) -> TokenPart:
        """The tokens part of a codec's settings, reading the map part built before it, if any."""
        return cls(context.options, context.token_coder, context.runner, find_part(earlier, MapPart))

    # -- transmitter -------------------------------------------------------------------------

    def analyse_batch(self, images: Sequence[np.ndarray], ssms: Sequence[np.ndarray | None]) -> list[Analysis]:
        """The network's analysis of several frames (their maps unseen without a map part)."""
        maps = list(ssms) if self.map_part is not None else [None] * len(images)
        return self.runner.analyse_batch(images, maps)

    def encode(self, frame: FrameToCode, coded: CodedFrame) -> None:
        """Add ``vq`` and the setting ``tokens`` (the fraction of the grid sent)."""
        assert frame.analysis is not None, "the codec analyses the frames of a part with tokens"
        indices, order = frame.analysis
        if self.derived:
            assert frame.ssm is not None and self.map_part is not None
            order = derived_order(self.map_part.as_decoded(frame.ssm))
        if self.search_bpp is None:
            kept = round(self.options.tokens * order.size)
            chunks = self.encode_tokens(indices, order[:kept])
        else:
            budget = self.search_bpp * frame.pixels - coded.bits

            def encode(count: int) -> tuple[bytes, ...]:
                return self.encode_tokens(indices, order[:count])

            chunks, kept = largest_that_fits(order.size, encode, lambda c: 8 * sum(len(x) for x in c), budget)
        coded.streams.append(Stream("vq", 1, chunks))
        coded.settings["tokens"] = kept / order.size

    def encode_tokens(self, indices: np.ndarray, kept: np.ndarray) -> tuple[bytes, ...]:
        """Chunks of the tokens at flat positions ``kept`` (most important first), in the set order."""
        if not self.importance:
            return self.encode_bands(indices, kept)
        flat = indices.ravel()
        return tuple(
            self.coder.encode_group(group, flat[group], flat.size)
            for group in (kept[i : i + self.group_tokens] for i in range(0, len(kept), self.group_tokens))
        )

    def encode_bands(self, indices: np.ndarray, kept: np.ndarray) -> tuple[bytes, ...]:
        """Chunks of the bands of the grid with the positions ``kept`` (flat indices)."""
        flat = np.zeros(indices.size, dtype=bool)
        flat[kept] = True
        keep = flat.reshape(indices.shape)
        bands = range(0, indices.shape[0], self.band_rows)
        if self.derived:
            return tuple(
                self.coder.encode_kept(indices[top : top + self.band_rows][keep[top : top + self.band_rows]])
                for top in bands
            )
        return tuple(
            self.coder.encode(keep[top : top + self.band_rows].ravel(), indices[top : top + self.band_rows].ravel())
            for top in bands
        )

    # -- receiver ----------------------------------------------------------------------------

    def decode(self, received: ReceivedBitstream, inputs: DecoderInputs) -> None:
        """The tokens that arrived intact (``keep``, ``indices``)."""
        inputs.keep, inputs.indices = self.received_tokens(received.stream("vq"), inputs.keep.shape, inputs.primary)

    def received_tokens(
        self, chunks: list[bytes | None], grid: tuple[int, int], labels: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(keep [h, w], indices [h, w])`` from the chunks that arrived intact (with derived
        positions, placed by the received map ``labels [H, W]``)."""
        if self.importance:
            return self.received_groups(chunks, grid)
        if self.derived:
            assert labels is not None
            return self.received_derived(chunks, grid, labels)
        keep = np.zeros(grid, dtype=bool)
        indices = np.zeros(grid, dtype=np.int64)
        for number, chunk in enumerate(chunks[: -(-grid[0] // self.band_rows)]):
            if chunk is None:
                continue
            top = number * self.band_rows
            rows = min(self.band_rows, grid[0] - top)
            try:
                band_keep, band_indices = self.coder.decode(chunk, rows * grid[1])
            except ValueError:
                continue
            keep[top : top + rows] = band_keep.reshape(rows, grid[1])
            indices[top : top + rows] = band_indices.reshape(rows, grid[1])
        return keep, indices

    def received_derived(
        self, chunks: list[bytes | None], grid: tuple[int, int], labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(keep [h, w], indices [h, w])`` of bands of indices only, placed where the received map
        ``labels [H, W]`` ranks highest; a band whose map rows are not all known is dropped."""
        keep = np.zeros(grid, dtype=bool)
        indices = np.zeros(grid, dtype=np.int64)
        scores = block_scores(labels)
        unknown = self.runner.label_set.num_classes
        for number, chunk in enumerate(chunks[: -(-grid[0] // self.band_rows)]):
            top = number * self.band_rows
            rows = min(self.band_rows, grid[0] - top)
            if chunk is None or (labels[top * GRID : (top + rows) * GRID] == unknown).any():
                continue
            try:
                values = self.coder.decode_kept(chunk, rows * grid[1])
            except ValueError:
                continue
            row, col = np.divmod(band_positions(scores[top : top + rows], len(values), top), grid[1])
            keep[top + row, col], indices[top + row, col] = True, values
        return keep, indices

    def received_groups(self, chunks: list[bytes | None], grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """``(keep [h, w], indices [h, w])`` from the token groups that arrived intact."""
        n = grid[0] * grid[1]
        keep, indices = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
        for chunk in chunks[: -(-n // self.group_tokens)]:
            if chunk is None:
                continue
            try:
                positions, values = self.coder.decode_group(chunk, n)
            except ValueError:
                continue
            keep[positions], indices[positions] = True, values
        return keep.reshape(grid), indices.reshape(grid)
