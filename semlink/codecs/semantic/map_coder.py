"""Lossless coding of segmentation maps: a static context model and a range coder (constriction).

Written here because no library codes label maps well (PNG and WebP lossless spend 2–3× more,
see ``shared/notes``). Each row is coded in two interleaved passes so decoding is vectorised:
first the even columns, in the context of the row above (NW, N, NE); then the odd columns, in
the context of their decoded left and right neighbours and the pixel above (W, E, N). The
conditional probabilities are counted on training maps and shipped in the codec checkpoint.
A map is cut into horizontal strips, each coded alone (its first row sees a boundary symbol
above), so a lost strip loses only its rows.
"""

from __future__ import annotations

import constriction
import numpy as np

FLOOR = 1e-6
"""Smallest probability of any class in any context (a zero would make a class uncodable)."""


def _padded(strip: np.ndarray, boundary: int) -> np.ndarray:
    """``strip [h, w]`` with a boundary row above and a boundary column on each side."""
    h, w = strip.shape
    padded = np.full((h + 1, w + 2), boundary, dtype=np.int64)
    padded[1:, 1:-1] = strip
    return padded


def _context(a: np.ndarray, b: np.ndarray, c: np.ndarray, base: int) -> np.ndarray:
    """Context index of the symbol triple ``(a, b, c)``, each in ``[0, base)``."""
    return (a * base + b) * base + c


def contexts(strip: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Even-pass and odd-pass context of every pixel of ``strip [h, w]`` (both ``[h, w]``)."""
    base = num_classes + 1
    p = _padded(strip, num_classes)
    h, w = strip.shape
    north, north_west, north_east = p[:-1, 1:-1], p[:-1, :-2], p[:-1, 2:]
    west, east = p[1:, :-2], p[1:, 2:]
    del h, w
    return _context(north_west, north, north_east, base), _context(west, east, north, base)


def fit_map_model(maps: np.ndarray, num_classes: int, alpha: float = 2.0, strip_rows: int = 32) -> np.ndarray:
    """Count the model's conditional probabilities on training ``maps [N, H, W]``.

    Values ≥ ``num_classes`` (ignore) are treated as class 0. Unseen contexts back off to the
    distribution given the pixel above.

    :return: ``[2, (C + 1)³, C]`` float32 probabilities (even pass, odd pass).
    """
    c, base = num_classes, num_classes + 1
    counts = np.zeros((2, base**3, c))
    north_counts = np.zeros((base, c))
    for frame in np.where(maps < c, maps, 0).astype(np.int64):
        for top in range(0, frame.shape[0], strip_rows):
            strip = frame[top : top + strip_rows]
            even_ctx, odd_ctx = contexts(strip, c)
            for parity, ctx in enumerate((even_ctx, odd_ctx)):
                picked = ctx[:, parity::2].ravel(), strip[:, parity::2].ravel()
                counts[parity] += np.bincount(picked[0] * c + picked[1], minlength=base**3 * c).reshape(base**3, c)
            north = _padded(strip, c)[:-1, 1:-1]
            north_counts += np.bincount(north.ravel() * c + strip.ravel(), minlength=base * c).reshape(base, c)
    backoff = (north_counts + 1.0) / (north_counts + 1.0).sum(1, keepdims=True)
    north_of_context = (np.arange(base**3) // base) % base  # the N symbol of an even context
    north_of_odd = np.arange(base**3) % base  # the N symbol of an odd context
    model = np.empty_like(counts)
    for parity, north_index in enumerate((north_of_context, north_of_odd)):
        prior = backoff[north_index]
        model[parity] = (counts[parity] + alpha * prior) / (counts[parity].sum(1, keepdims=True) + alpha)
    model = np.maximum(model, FLOOR)
    return (model / model.sum(2, keepdims=True)).astype(np.float32)


class MapCoder:
    """Encodes and decodes map strips with a fitted model.

    :param model: ``[2, (C + 1)³, C]`` from :func:`fit_map_model`.
    :param num_classes: C.
    """

    def __init__(self, model: np.ndarray, num_classes: int) -> None:
        expected = (2, (num_classes + 1) ** 3, num_classes)
        if model.shape != expected:
            raise ValueError(f"map model has shape {model.shape}, expected {expected}")
        self.model = np.maximum(model.astype(np.float64), FLOOR)
        self.num_classes = num_classes
        self.family = constriction.stream.model.Categorical(perfect=False)

    def encode(self, strip: np.ndarray) -> bytes:
        """Code ``strip [h, w]`` (values < C) into bytes."""
        strip = strip.astype(np.int64)
        if strip.size and int(strip.max()) >= self.num_classes:
            raise ValueError(f"map holds class {int(strip.max())}, the model knows {self.num_classes}")
        even_ctx, odd_ctx = contexts(strip, self.num_classes)
        symbols, probabilities = [], []
        for row in range(strip.shape[0]):
            for parity, ctx in enumerate((even_ctx, odd_ctx)):
                symbols.append(strip[row, parity::2])
                probabilities.append(self.model[parity, ctx[row, parity::2]])
        encoder = constriction.stream.queue.RangeEncoder()
        encoder.encode(np.concatenate(symbols).astype(np.int32), self.family, np.concatenate(probabilities))
        return encoder.get_compressed().tobytes()

    def decode(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        """Decode a strip of ``shape (h, w)``.

        :raises ValueError: if ``data`` is not whole 32-bit words or cannot be decoded.
        """
        if len(data) % 4:
            raise ValueError(f"map strip of {len(data)} bytes is not whole 32-bit words")
        h, w = shape
        c, base = self.num_classes, self.num_classes + 1
        try:
            decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype=np.uint32).copy())
            strip = np.zeros((h, w), dtype=np.int64)
            above = np.full(w + 2, c, dtype=np.int64)
            for row in range(h):
                xs = np.arange(0, w, 2)
                even_ctx = _context(above[xs], above[xs + 1], above[xs + 2], base)
                strip[row, 0::2] = decoder.decode(self.family, self.model[0, even_ctx])
                line = np.full(w + 2, c, dtype=np.int64)
                line[1:-1] = strip[row]
                xs = np.arange(1, w, 2)
                odd_ctx = _context(line[xs], line[xs + 2], above[xs + 1], base)
                strip[row, 1::2] = decoder.decode(self.family, self.model[1, odd_ctx])
                above[1:-1] = strip[row]
        except (ValueError, RuntimeError, IndexError, AssertionError) as error:  # constriction asserts on bad data
            raise ValueError(f"map strip cannot be decoded: {error}") from None
        return strip.astype(np.uint8)
