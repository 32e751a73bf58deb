"""Coding kept VQ tokens: which positions were kept, and their codeword indices.

Two chunk layouts. A *band* chunk (spatial order) holds the number of kept tokens of a band of
grid rows as a varint, then one range-coded word sequence: the keep bitmap of the band under a
Bernoulli model at the band's own keep ratio (so it costs about n·H(k/n) bits), then the indices
under the codebook's learned prior (its usage counts). A *group* chunk (importance order) holds
a group of tokens anywhere in the grid: their count, then each position under a uniform model
(log2 n bits) and its index under the prior. A *kept* chunk (``positions: derived``) holds a
band's count and its indices under the prior only: the receiver derives the positions from the map.
Written here: the bitmap and prior models are a few lines over constriction's range coder.
"""

from __future__ import annotations

import constriction
import numpy as np

from semlink.codecs.classic import read_varint, varint

FLOOR = 1e-7
"""Smallest probability given to any codeword (a zero would make it uncodable)."""


class TokenCoder:
    """Encodes and decodes bands of kept tokens.

    :param prior: ``[K]`` probabilities of the codewords.
    """

    def __init__(self, prior: np.ndarray) -> None:
        p = np.maximum(prior.astype(np.float64), FLOOR)
        self.prior = p / p.sum()
        self.family = constriction.stream.model.Categorical(perfect=False)

    @property
    def codes(self) -> int:
        """Codebook size K."""
        return len(self.prior)

    def encode(self, keep: np.ndarray, indices: np.ndarray) -> bytes:
        """Code a band: ``keep [n]`` bool and ``indices [n]`` (only kept ones are sent)."""
        count, n = int(keep.sum()), keep.size
        if count == 0:
            return varint(0)
        encoder = constriction.stream.queue.RangeEncoder()
        if count < n:
            encoder.encode(keep.astype(np.int32), self.family, self._bitmap_model(count, n))
        kept = indices[keep].astype(np.int32)
        encoder.encode(kept, self.family, np.broadcast_to(self.prior, (len(kept), self.codes)).copy())
        return varint(count) + encoder.get_compressed().tobytes()

    def decode(self, chunk: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(keep [n] bool, indices [n])`` of a band of ``n`` positions.

        :raises ValueError: if the chunk is damaged.
        """
        count, start = read_varint(chunk, 0)
        if count > n:
            raise ValueError(f"token chunk claims {count} tokens in a band of {n}")
        keep, indices = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
        if count == 0:
            return keep, indices
        words = chunk[start:]
        if len(words) % 4:
            raise ValueError("token chunk is not whole 32-bit words")
        try:
            decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(words, dtype=np.uint32).copy())
            if count < n:
                keep = decoder.decode(self.family, self._bitmap_model(count, n)).astype(bool)
            else:
                keep[:] = True
            kept = int(keep.sum())
            prior = np.broadcast_to(self.prior, (kept, self.codes)).copy()
            indices[keep] = decoder.decode(self.family, prior)
        except (ValueError, RuntimeError, IndexError, AssertionError) as error:  # constriction asserts on bad data
            raise ValueError(f"token chunk cannot be decoded: {error}") from None
        return keep, indices

    def encode_kept(self, indices: np.ndarray) -> bytes:
        """Code a band's kept ``indices [k]`` without their positions (the receiver derives them)."""
        if len(indices) == 0:
            return varint(0)
        encoder = constriction.stream.queue.RangeEncoder()
        encoder.encode(indices.astype(np.int32), self.family, self._prior_rows(len(indices)))
        return varint(len(indices)) + encoder.get_compressed().tobytes()

    def decode_kept(self, chunk: bytes, n: int) -> np.ndarray:
        """The indices ``[k]`` of a kept chunk of a band of ``n`` positions.

        :raises ValueError: if the chunk is damaged.
        """
        count, start = read_varint(chunk, 0)
        if count > n:
            raise ValueError(f"token chunk claims {count} tokens in a band of {n}")
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        words = chunk[start:]
        if len(words) % 4:
            raise ValueError("token chunk is not whole 32-bit words")
        try:
            decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(words, dtype=np.uint32).copy())
            indices = decoder.decode(self.family, self._prior_rows(count))
        except (ValueError, RuntimeError, IndexError, AssertionError) as error:  # constriction asserts on bad data
            raise ValueError(f"token chunk cannot be decoded: {error}") from None
        return indices.astype(np.int64)

    def _prior_rows(self, count: int) -> np.ndarray:
        return np.broadcast_to(self.prior, (count, self.codes)).copy()

    def encode_group(self, positions: np.ndarray, indices: np.ndarray, n: int) -> bytes:
        """Code a group: flat grid ``positions`` (< ``n``) and their codeword ``indices``."""
        if len(positions) == 0:
            return varint(0)
        encoder = constriction.stream.queue.RangeEncoder()
        encoder.encode(positions.astype(np.int32), self.family, np.full((len(positions), n), 1.0 / n))
        encoder.encode(
            indices.astype(np.int32), self.family, np.broadcast_to(self.prior, (len(indices), self.codes)).copy()
        )
        return varint(len(positions)) + encoder.get_compressed().tobytes()

    def decode_group(self, chunk: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(positions, indices)`` of a group chunk over a grid of ``n`` positions.

        :raises ValueError: if the chunk is damaged.
        """
        count, start = read_varint(chunk, 0)
        if count > n:
            raise ValueError(f"token group claims {count} tokens in a grid of {n}")
        if count == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        words = chunk[start:]
        if len(words) % 4:
            raise ValueError("token chunk is not whole 32-bit words")
        try:
            decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(words, dtype=np.uint32).copy())
            positions = decoder.decode(self.family, np.full((count, n), 1.0 / n))
            indices = decoder.decode(self.family, np.broadcast_to(self.prior, (count, self.codes)).copy())
        except (ValueError, RuntimeError, IndexError, AssertionError) as error:  # constriction asserts on bad data
            raise ValueError(f"token group cannot be decoded: {error}") from None
        return positions.astype(np.int64), indices.astype(np.int64)

    @staticmethod
    def _bitmap_model(count: int, n: int) -> np.ndarray:
        p = min(max(count / n, 1e-4), 1 - 1e-4)
        return np.tile(np.array([1 - p, p]), (n, 1))
