"""The semantic codecs: ``sqgan`` (map + masked VQ tokens), ``spic`` (map + low-res image),
``ssm`` (map only) and ``gan`` (VQ tokens, no semantics), all decoded by one network.

Streams and their chunks (each decodable alone):

- ``ssm`` (priority 0): the transmitter's segmentation map, optionally downsampled ×``map_scale``,
  coded losslessly (:mod:`~semlink.codecs.semantic.map_coder`) in strips of ``strip_rows`` frame rows;
  a lost strip becomes *unknown* for the decoder.
- ``vq`` (priority 1): kept tokens of the 16×-downsampled grid, in bands of ``band_rows`` grid
  rows (:mod:`~semlink.codecs.semantic.token_coder`); a lost band's tokens become mask tokens.
- ``lowres`` (priority 2): the frame downsampled ×``lowres_divisor`` and coded with WebP.
- ``ssm_backup`` (priority 3, with ``map_backup``): a coarser copy of the map, sent last so that
  it travels in other packets than the map; it fills the strips of the map that were lost.

Both ends build the codec from the same scenario settings, so chunk positions, strip and band
sizes need not be sent.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from semlink.codecs.base import CODECS, Bitstream, Codec, ReceivedBitstream, Stream
from semlink.codecs.semantic.checkpoint import load_codec, shipped_codec_path
from semlink.codecs.semantic.lowres import DIVISORS, decode_lowres, encode_lowres
from semlink.codecs.semantic.map_coder import MapCoder
from semlink.codecs.semantic.net import GRID, SemanticCodecNet, onehot_map
from semlink.codecs.semantic.token_coder import TokenCoder
from semlink.data.labelset import LabelSet
from semlink.device import pick_device


@functools.lru_cache(maxsize=4)
def shared_model(path: str, device: str) -> tuple[SemanticCodecNet, LabelSet, MapCoder, TokenCoder]:
    """The network and coders of a checkpoint, loaded once per process and device."""
    net, label_set, map_model = load_codec(Path(path))
    net = net.to(pick_device(device))
    prior = net.quantizer.prior().cpu().numpy()
    return net, label_set, MapCoder(map_model, label_set.num_classes), TokenCoder(prior)


def pad_to_grid(array: torch.Tensor) -> torch.Tensor:
    """Replicate-pad ``[N, C, H, W]`` at the bottom and right to multiples of 16."""
    h, w = array.shape[-2:]
    return torch.nn.functional.pad(array, (0, -w % GRID, 0, -h % GRID), mode="replicate")


class SemanticCodec(Codec):
    """Base of the semantic codecs; subclasses choose the streams they send and their knob.

    :param rate: the codec's own knob (see each codec).
    :param target_bpp: search the knob for the highest rate at or below this many bits per pixel.
    :param quality: WebP quality of the low-res stream (0–100).
    :param label_set: label set of the frames (picks the shipped checkpoint).
    :param checkpoint: a codec checkpoint instead of the shipped one.
    :param device: ``auto``, ``cpu``, ``cuda``, ...
    :param map_scale: the map is coded at 1/``map_scale`` resolution (1, 2 or 4).
    :param strip_rows: frame rows per map chunk (a multiple of ``map_scale``).
    :param band_rows: token-grid rows per token chunk.
    :param lowres_divisor: downsampling of the low-res stream (4 or 8).
    :param token_order: ``spatial`` (chunks are bands of ``band_rows`` grid rows, positions as a
        bitmap) or ``importance`` (chunks are groups of ``group_tokens`` tokens in decreasing score,
        sent first, positions coded explicitly: dearer, but a lost packet loses the least
        important tokens).
    :param group_tokens: tokens per chunk with ``importance`` order.
    :param map_backup: 0, or also send the map at 1/``map_backup`` resolution (2, 4 or 8) as a
        last stream (``ssm_backup``), which lands in the frame's last packets: where a strip of
        the map is lost, its coarse copy stands in.
    """

    uses_ssm = True
    uses_label_set = True
    sends_map = True
    sends_tokens = False
    sends_lowres = False

    def __init__(
        self,
        rate: float | None = None,
        target_bpp: float | None = None,
        quality: float | None = None,
        label_set: str = "cityscapes",
        checkpoint: str | None = None,
        device: str = "auto",
        map_scale: int = 1,
        strip_rows: int = 32,
        band_rows: int = 2,
        lowres_divisor: int = 8,
        map_backup: int = 0,
        token_order: str = "spatial",
        group_tokens: int = 24,
    ) -> None:
        if token_order not in ("spatial", "importance") or group_tokens < 1:
            raise ValueError(f"token_order {token_order!r} must be spatial or importance, group_tokens ≥ 1")
        if map_scale not in (1, 2, 4) or strip_rows % map_scale:
            raise ValueError(f"map_scale {map_scale} must be 1, 2 or 4 and divide strip_rows {strip_rows}")
        if map_backup not in (0, 2, 4, 8) or (map_backup and (map_backup <= map_scale or strip_rows % map_backup)):
            raise ValueError(
                f"map_backup {map_backup} must be 0, or 2, 4 or 8, coarser than map_scale and dividing strip_rows"
            )
        if lowres_divisor not in DIVISORS:
            raise ValueError(f"lowres_divisor {lowres_divisor} must be one of {DIVISORS}")
        if target_bpp is not None and target_bpp <= 0:
            raise ValueError(f"target_bpp {target_bpp} must be positive")
        path = checkpoint or str(shipped_codec_path(label_set))
        self.net, self.label_set, self.map_coder, self.token_coder = shared_model(path, device)
        self.device = next(self.net.parameters()).device
        self.rate, self.target_bpp, self.quality = rate, target_bpp, quality
        self.map_scale, self.strip_rows, self.band_rows = map_scale, strip_rows, band_rows
        self.lowres_divisor, self.map_backup = lowres_divisor, map_backup
        self.token_order, self.group_tokens = token_order, group_tokens
        self.last_keep_ratio: float | None = None
        self.last_quality: int | None = None
        self.keep_ratio = self.check_knob()

    def check_knob(self) -> float:
        """Validate the knob; the fraction of tokens kept when no target is given."""
        return 0.0

    # -- transmitter -------------------------------------------------------------------------

    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """Code ``image [H, W, 3]`` with its map ``ssm [H, W]`` (needed unless the codec is ``gan``)."""
        shape = (int(image.shape[0]), int(image.shape[1]))
        if self.sends_map and (ssm is None or ssm.shape != shape):
            raise ValueError(f"{self.name} needs the frame's segmentation map of shape {shape}")
        streams: list[Stream] = []
        if self.sends_map:
            assert ssm is not None
            streams.append(Stream("ssm", 0, self.map_chunks(ssm, self.map_scale)))
            if self.map_backup:
                streams.append(Stream("ssm_backup", 3, self.map_chunks(ssm, self.map_backup)))
        if self.sends_lowres:
            streams.append(Stream("lowres", 2, (self.lowres_chunk(image, shape, sum(s.bits for s in streams)),)))
        if self.sends_tokens:
            fixed = sum(s.bits for s in streams)
            streams.append(Stream("vq", 1, self.token_chunks(image, ssm, shape, fixed)))
        return Bitstream(tuple(sorted(streams, key=lambda stream: stream.priority)), shape)

    def map_chunks(self, ssm: np.ndarray, scale: int) -> tuple[bytes, ...]:
        """The map at 1/``scale`` resolution in strips, each coded alone."""
        coarse = ssm[::scale, ::scale]
        rows = self.strip_rows // scale
        return tuple(self.map_coder.encode(coarse[top : top + rows]) for top in range(0, coarse.shape[0], rows))

    def lowres_chunk(self, image: np.ndarray, shape: tuple[int, int], fixed_bits: int) -> bytes:
        """The low-res chunk at the set quality, or the best quality that meets ``target_bpp``."""
        if self.target_bpp is None:
            self.last_quality = int(self.quality if self.quality is not None else 50)
            return encode_lowres(image, self.lowres_divisor, self.last_quality)
        budget = self.target_bpp * shape[0] * shape[1] - fixed_bits
        low, high, best_quality = 0, 100, 0
        best = encode_lowres(image, self.lowres_divisor, 0)
        while low <= high:
            middle = (low + high) // 2
            chunk = encode_lowres(image, self.lowres_divisor, middle)
            if 8 * len(chunk) <= budget:
                best, best_quality, low = chunk, middle, middle + 1
            else:
                high = middle - 1
        self.last_quality = best_quality
        return best

    def token_chunks(
        self, image: np.ndarray, ssm: np.ndarray | None, shape: tuple[int, int], fixed_bits: int
    ) -> tuple[bytes, ...]:
        """Kept tokens in bands: the top ``keep_ratio`` by score, or as many as ``target_bpp`` allows."""
        indices, order = self.analyse(image, ssm)
        if self.target_bpp is None:
            kept = round(self.keep_ratio * order.size)
            self.last_keep_ratio = kept / order.size
            return self.encode_tokens(indices, order[:kept])
        budget = self.target_bpp * shape[0] * shape[1] - fixed_bits
        low, high, best, best_kept = 0, order.size, self.encode_tokens(indices, order[:0]), 0
        while low <= high:
            middle = (low + high) // 2
            chunks = self.encode_tokens(indices, order[:middle])
            if 8 * sum(len(c) for c in chunks) <= budget:
                best, best_kept, low = chunks, middle, middle + 1
            else:
                high = middle - 1
        self.last_keep_ratio = best_kept / order.size
        return best

    @torch.inference_mode()
    def analyse(self, image: np.ndarray, ssm: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Codeword indices ``[h, w]`` of the frame and grid positions ranked by importance."""
        pixels = np.require(image, requirements=["C", "W"])  # torch refuses read-only arrays (e.g. decoded frames)
        x = torch.from_numpy(pixels).to(self.device).permute(2, 0, 1)[None].float() / 255
        x = pad_to_grid(x)
        c = self.label_set.num_classes
        if ssm is None or not self.sends_map:
            labels = torch.full(x.shape[-2:], c, dtype=torch.long, device=self.device)[None]
        else:
            labels = pad_to_grid(torch.from_numpy(ssm).to(self.device)[None, None].float())[:, 0].long()
        latent = self.net.encoder(x)
        indices = self.net.quantizer.indices(latent)[0]
        scores = self.net.scorer(latent, onehot_map(labels, c))[0]
        order = torch.argsort(scores.flatten(), descending=True, stable=True)
        return indices.cpu().numpy(), order.cpu().numpy()

    def encode_tokens(self, indices: np.ndarray, kept: np.ndarray) -> tuple[bytes, ...]:
        """Chunks of the tokens at flat positions ``kept`` (most important first), in the set order."""
        if self.token_order == "spatial":
            return self.encode_bands(indices, kept)
        flat = indices.ravel()
        return tuple(
            self.token_coder.encode_group(group, flat[group], flat.size)
            for group in (kept[i : i + self.group_tokens] for i in range(0, len(kept), self.group_tokens))
        )

    def encode_bands(self, indices: np.ndarray, kept: np.ndarray) -> tuple[bytes, ...]:
        """Chunks of the bands of the grid with the positions ``kept`` (flat indices)."""
        flat = np.zeros(indices.size, dtype=bool)
        flat[kept] = True
        keep = flat.reshape(indices.shape)
        bands = range(0, indices.shape[0], self.band_rows)
        return tuple(
            self.token_coder.encode(
                keep[top : top + self.band_rows].ravel(), indices[top : top + self.band_rows].ravel()
            )
            for top in bands
        )

    # -- receiver ----------------------------------------------------------------------------

    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """Decode whatever arrived: missing strips are unknown, missing tokens masked, no low-res is none."""
        h, w = received.shape
        grid = (-(-h // GRID), -(-w // GRID))
        labels = self.received_map(received.stream("ssm"), (h, w))
        if self.map_backup:
            backup = self.received_map(received.stream("ssm_backup"), (h, w), self.map_backup)
            unknown = labels == self.label_set.num_classes
            labels[unknown] = backup[unknown]
        keep, indices = self.received_tokens(received.stream("vq"), grid)
        lowres = self.received_lowres(received.stream("lowres"), (h, w))
        return self.reconstruct(labels, keep, indices, lowres)

    def received_map(self, chunks: list[bytes | None], shape: tuple[int, int], scale: int = 0) -> np.ndarray:
        """The map (coded at 1/``scale``, default ``map_scale``) with *unknown* (C) where strips are
        missing or damaged."""
        c, s = self.label_set.num_classes, scale or self.map_scale
        coarse_shape = (-(-shape[0] // s), -(-shape[1] // s))
        coarse = np.full(coarse_shape, c, dtype=np.uint8)
        rows = self.strip_rows // s
        for number, chunk in enumerate(chunks[: -(-coarse_shape[0] // rows)] if self.sends_map else []):
            top = number * rows
            height = min(rows, coarse_shape[0] - top)
            if chunk is None:
                continue
            try:
                coarse[top : top + height] = self.map_coder.decode(chunk, (height, coarse_shape[1]))
            except ValueError:
                continue
        full = coarse.repeat(s, 0).repeat(s, 1)
        return np.ascontiguousarray(full[: shape[0], : shape[1]])

    def received_tokens(self, chunks: list[bytes | None], grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """``(keep [h, w], indices [h, w])`` from the bands that arrived intact."""
        keep = np.zeros(grid, dtype=bool)
        indices = np.zeros(grid, dtype=np.int64)
        if self.token_order == "importance":
            return self.received_groups(chunks, grid)
        for number, chunk in enumerate(chunks[: -(-grid[0] // self.band_rows)]):
            if chunk is None:
                continue
            top = number * self.band_rows
            rows = min(self.band_rows, grid[0] - top)
            try:
                band_keep, band_indices = self.token_coder.decode(chunk, rows * grid[1])
            except ValueError:
                continue
            keep[top : top + rows] = band_keep.reshape(rows, grid[1])
            indices[top : top + rows] = band_indices.reshape(rows, grid[1])
        return keep, indices

    def received_groups(self, chunks: list[bytes | None], grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """``(keep [h, w], indices [h, w])`` from the token groups that arrived intact."""
        n = grid[0] * grid[1]
        keep, indices = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
        for chunk in chunks[: -(-n // self.group_tokens)]:
            if chunk is None:
                continue
            try:
                positions, values = self.token_coder.decode_group(chunk, n)
            except ValueError:
                continue
            keep[positions], indices[positions] = True, values
        return keep.reshape(grid), indices.reshape(grid)

    @staticmethod
    def received_lowres(chunks: list[bytes | None], shape: tuple[int, int]) -> np.ndarray | None:
        """The upsampled low-res frame, or None if it did not arrive intact."""
        if not chunks or chunks[0] is None:
            return None
        try:
            return decode_lowres(chunks[0], shape)
        except ValueError:
            return None

    @torch.inference_mode()
    def reconstruct(
        self, labels: np.ndarray, keep: np.ndarray, indices: np.ndarray, lowres: np.ndarray | None
    ) -> np.ndarray:
        """Run the decoder network: ``[H, W, 3]`` uint8."""
        h, w = labels.shape
        c = self.label_set.num_classes
        labels_t = pad_to_grid(torch.from_numpy(labels).to(self.device)[None, None].float())[:, 0].long()
        lowres_t = None
        if lowres is not None:
            lowres_t = torch.from_numpy(np.array(lowres)).to(self.device).permute(2, 0, 1)[None]
            lowres_t = pad_to_grid(lowres_t.float() / 255)
        out = self.net.decode(
            torch.from_numpy(indices).to(self.device)[None],
            torch.from_numpy(keep).to(self.device)[None],
            onehot_map(labels_t, c),
            lowres_t,
        )
        return (out[0, :, :h, :w] * 255).round().byte().permute(1, 2, 0).cpu().numpy()


@CODECS.register("sqgan")
class SqganCodec(SemanticCodec):
    """SQ-GAN's design: the map plus the most important VQ tokens of the image.

    ``rate`` is ``r_img``, the fraction of tokens sent (0–1); ``target_bpp`` searches it.
    """

    name = "sqgan"
    sends_tokens = True

    def check_knob(self) -> float:
        """``rate`` must be a fraction."""
        ratio = 0.1 if self.rate is None else self.rate
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"sqgan rate (r_img, the fraction of tokens sent) {ratio} must be in [0, 1]")
        return ratio


@CODECS.register("gan")
class GanCodec(SqganCodec):
    """Generative compression without semantics: VQ tokens only, no map.

    ``rate`` is the fraction of tokens sent (0–1); ``target_bpp`` searches it.
    """

    name = "gan"
    uses_ssm = False
    sends_map = False


@CODECS.register("spic")
class SpicCodec(SemanticCodec):
    """SPIC's design: the lossless map plus a low-resolution image (here WebP at ×``lowres_divisor``).

    ``quality`` is the WebP quality of the low-res image (default 50); ``rate`` is accepted only as
    1 (the default knob); ``target_bpp`` searches the quality.
    """

    name = "spic"
    sends_lowres = True

    def check_knob(self) -> float:
        """``quality`` in 0–100; ``rate`` carries no meaning here."""
        if self.rate not in (None, 1.0):
            raise ValueError("spic's knob is quality (WebP quality of the low-res image) or target_bpp, not rate")
        if self.quality is not None and not 0 <= self.quality <= 100:
            raise ValueError(f"spic quality {self.quality} must be in [0, 100]")
        return 0.0


@CODECS.register("ssm")
class SsmCodec(SemanticCodec):
    """The map alone; the decoder paints a frame from it.

    ``rate`` is the map's downsampling factor (1, 2 or 4), an alias of ``map_scale``.
    """

    name = "ssm"

    def __init__(self, rate: float | None = None, **kwargs: object) -> None:
        if rate is not None and rate not in (1.0, 2.0, 4.0):
            raise ValueError(f"ssm rate (the map's downsampling factor) {rate} must be 1, 2 or 4")
        if rate is not None:
            kwargs["map_scale"] = int(rate)
        if kwargs.get("target_bpp") is not None:
            raise ValueError("ssm has no target_bpp: its rate is the map's own; choose rate 1, 2 or 4")
        super().__init__(rate=None, **kwargs)  # type: ignore[arg-type]
