"""Lossless coding of segmentation maps: a static context model and a range coder (constriction).

Written here because no library codes label maps well (PNG and WebP lossless spend 2–3× more,
see ``shared/notes``). Each row is coded in passes of halving stride so decoding is vectorised
and most pixels see both neighbours: first every ``STRIDE``-th pixel in the context of the row
above (NW, N, NE); then, for d = ``STRIDE``/2, ..., 2, 1, the pixels halfway between those already
decoded, in the context of their decoded neighbours at distance d on the left and right and the
pixel above (W_d, E_d, N). On CamVid maps this spends less than half the bits of a two-pass
(even/odd) scheme. The conditional probabilities are counted on training maps and shipped in
the codec checkpoint. A map is cut into horizontal strips, each coded alone (its first row sees a
boundary symbol above), so a lost strip loses only its rows.
"""

from __future__ import annotations

import constriction
import numpy as np

FLOOR = 1e-6
"""Smallest probability of any class in any context (a zero would make a class uncodable)."""
STRIDE = 32
"""Stride of the first pass; the passes are STRIDE, STRIDE/2, ..., 1 (six in all)."""
PASSES = STRIDE.bit_length()


def pass_columns(width: int) -> list[tuple[np.ndarray, int]]:
    """``(columns, d)`` of each pass: the first has d = 0 (context from the row above)."""
    out = [(np.arange(0, width, STRIDE), 0)]
    d = STRIDE // 2
    while d >= 1:
        out.append((np.arange(d, width, 2 * d), d))
        d //= 2
    return out


def _context(a: np.ndarray, b: np.ndarray, c: np.ndarray, base: int) -> np.ndarray:
    """Context index of the symbol triple ``(a, b, c)``, each in ``[0, base)``."""
    return (a * base + b) * base + c


def _pass_context(above: np.ndarray, line: np.ndarray, columns: np.ndarray, d: int, base: int) -> np.ndarray:
    """Contexts of ``columns`` given padded rows (``STRIDE`` boundary symbols on each side)."""
    x = columns + STRIDE
    if d == 0:
        return _context(above[..., x - 1], above[..., x], above[..., x + 1], base)
    return _context(line[..., x - d], line[..., x + d], above[..., x], base)


def _padded_rows(strip: np.ndarray, boundary: int) -> tuple[np.ndarray, np.ndarray]:
    """``(above, line)``: each row of ``strip`` and the row above it, padded with the boundary."""
    h, w = strip.shape
    line = np.full((h, w + 2 * STRIDE), boundary, dtype=np.int64)
    line[:, STRIDE:-STRIDE] = strip
    above = np.full_like(line, boundary)
    above[1:] = line[:-1]
    return above, line


def fit_map_model(
    maps: np.ndarray, num_classes: int, alpha: float = 0.5, strip_rows: int = 32, scales: tuple[int, ...] = (1,)
) -> np.ndarray:
    """Count the model's conditional probabilities on training ``maps [N, H, W]``.

    Values ≥ ``num_classes`` (ignore) are treated as class 0. With several ``scales`` the counts
    of the maps downsampled by each (as the codec codes them) are pooled, so one model serves all.

    :return: ``[PASSES, (C + 1)³, C]`` float32 probabilities.
    """
    c, base = num_classes, num_classes + 1
    counts = np.zeros((PASSES, base**3 * c))
    clean = np.where(maps < c, maps, 0).astype(np.int64)
    for scale in scales:
        _count_strips(counts, clean[:, ::scale, ::scale], max(1, strip_rows // scale), c)
    model = counts.reshape(PASSES, base**3, c) + alpha
    model = np.maximum(model / model.sum(2, keepdims=True), FLOOR)
    return (model / model.sum(2, keepdims=True)).astype(np.float32)


def _count_strips(counts: np.ndarray, maps: np.ndarray, rows: int, c: int) -> None:
    """Add the (context, symbol) counts of every strip of ``maps`` to ``counts`` in place."""
    base = c + 1
    for frame in maps:
        for top in range(0, frame.shape[0], rows):
            strip = frame[top : top + rows]
            above, line = _padded_rows(strip, c)
            for number, (columns, d) in enumerate(pass_columns(strip.shape[1])):
                ctx = _pass_context(above, line, columns, d, base)
                counts[number] += np.bincount((ctx * c + strip[:, columns]).ravel(), minlength=base**3 * c)


class MapCoder:
    """Encodes and decodes map strips with a fitted model.

    :param model: ``[PASSES, (C + 1)³, C]`` from :func:`fit_map_model`.
    :param num_classes: C.
    """

    def __init__(self, model: np.ndarray, num_classes: int) -> None:
        expected = (PASSES, (num_classes + 1) ** 3, num_classes)
        if model.shape != expected:
            raise ValueError(
                f"map model has shape {model.shape}, expected {expected}; refit it (semlink train map-model)"
            )
        self.model = np.maximum(model.astype(np.float64), FLOOR)
        self.num_classes = num_classes
        self.family = constriction.stream.model.Categorical(perfect=False)

    def encode(self, strip: np.ndarray) -> bytes:
        """Code ``strip [h, w]`` (values < C) into bytes."""
        strip = strip.astype(np.int64)
        if strip.size and int(strip.max()) >= self.num_classes:
            raise ValueError(f"map holds class {int(strip.max())}, the model knows {self.num_classes}")
        base = self.num_classes + 1
        above, line = _padded_rows(strip, self.num_classes)
        symbols, probabilities = [], []
        for number, (columns, d) in enumerate(pass_columns(strip.shape[1])):
            symbols.append(strip[:, columns])
            probabilities.append(self.model[number, _pass_context(above, line, columns, d, base)])
        # The decoder goes row by row, pass by pass within a row: the same order here.
        ordered_symbols = np.concatenate(symbols, axis=1).ravel().astype(np.int32)
        ordered_probabilities = np.concatenate(probabilities, axis=1).reshape(-1, self.num_classes)
        encoder = constriction.stream.queue.RangeEncoder()
        encoder.encode(ordered_symbols, self.family, ordered_probabilities)
        return encoder.get_compressed().tobytes()

    def decode(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        """Decode a strip of ``shape (h, w)``.

        :raises ValueError: if ``data`` is not whole 32-bit words or cannot be decoded.
        """
        if len(data) % 4:
            raise ValueError(f"map strip of {len(data)} bytes is not whole 32-bit words")
        h, w = shape
        c, base = self.num_classes, self.num_classes + 1
        passes = pass_columns(w)
        strip = np.zeros((h, w), dtype=np.uint8)
        above = np.full(w + 2 * STRIDE, c, dtype=np.int64)
        try:
            decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype=np.uint32).copy())
            for row in range(h):
                line = np.full(w + 2 * STRIDE, c, dtype=np.int64)
                for number, (columns, d) in enumerate(passes):
                    probabilities = self.model[number, _pass_context(above, line, columns, d, base)]
                    line[columns + STRIDE] = decoder.decode(self.family, probabilities)
                strip[row] = line[STRIDE:-STRIDE]
                above = line
        except (ValueError, RuntimeError, IndexError, AssertionError) as error:  # constriction asserts on bad data
            raise ValueError(f"map strip cannot be decoded: {error}") from None
        if strip.size and int(strip.max()) >= c:
            raise ValueError("map strip decodes to an unknown class")
        return strip
