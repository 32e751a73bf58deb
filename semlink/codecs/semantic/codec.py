"""The semantic codecs: ``sqgan`` (map + masked VQ tokens), ``spic`` (map + low-res image),
``ssm`` (map only) and ``gan`` (VQ tokens, no semantics), all decoded by one network.

Streams and their chunks (each decodable alone):

- ``ssm`` (priority 0): the transmitter's segmentation map, optionally downsampled ×``map_scale``,
  coded losslessly (:mod:`~semlink.codecs.semantic.map_coder`) in strips of ``strip_rows`` frame rows;
  a lost strip becomes *unknown* for the decoder.
- ``vq`` (priority 1): kept tokens of the 16×-downsampled grid, in bands of ``band_rows`` grid
  rows (:mod:`~semlink.codecs.semantic.token_coder`); a lost band's tokens become mask tokens.
  With ``positions: derived`` a band carries its indices only: the receiver ranks the blocks
  from the map it decoded (:mod:`~semlink.codecs.semantic.positions`) as the transmitter did.
- ``lowres`` (priority 2): the frame downsampled ×``lowres_divisor`` and coded with WebP.
- ``ssm_backup`` (priority 3, with ``map_backup``): a coarser copy of the map, sent last so that
  it travels in other packets than the map; it fills the strips of the map that were lost.

Both ends build the codec from the same scenario settings, so chunk positions, strip and band
sizes need not be sent.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from semlink.codecs.base import CODECS, Bitstream, Codec, ReceivedBitstream, Stream, check_number, check_positive
from semlink.codecs.semantic.checkpoint import load_codec, shipped_codec_path
from semlink.codecs.semantic.lowres import DIVISORS, decode_lowres, encode_lowres
from semlink.codecs.semantic.map_coder import MapCoder
from semlink.codecs.semantic.net import GRID, SemanticCodecNet, onehot_map
from semlink.codecs.semantic.positions import band_positions, block_scores, derived_order
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

    Each codec has one rate knob of its own (``knob``) and ``target_bpp`` as the alternative; a knob
    a codec has no use for is refused, naming the ones it has.

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
    :param token_order: ``spatial`` (chunks are bands of ``band_rows`` grid rows, positions as a
        bitmap) or ``importance`` (chunks are groups of ``group_tokens`` tokens in decreasing score,
        sent first, positions coded explicitly: dearer, but a lost packet loses the least
        important tokens).
    :param group_tokens: tokens per chunk with ``importance`` order.
    :param positions: ``sent`` (the network's scorer picks the tokens and their positions are
        coded) or ``derived`` (both ends rank the blocks from the decoded map, so positions cost
        no bits; spatial order and a sent map only; a band whose map rows were lost loses its tokens).
    :param map_backup: 0, or also send the map at 1/``map_backup`` resolution (2, 4 or 8) as a
        last stream (``ssm_backup``), which lands in the frame's last packets: where a strip of
        the map is lost, its coarse copy stands in.

    Each bitstream's ``settings`` hold what the codec chose for the frame: ``tokens`` (the
    fraction sent), ``quality`` or ``map_scale``.
    """

    uses_ssm = True
    uses_label_set = True
    sends_map = True
    sends_tokens = False
    sends_lowres = False

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
    ) -> None:
        self.check_knobs({"tokens": tokens, "quality": quality, "map_scale": map_scale}, target_bpp)
        self.target_bpp = None if target_bpp is None else check_positive(self.name, "target_bpp", target_bpp)
        self.tokens = check_number(self.name, "tokens", 0.1 if tokens is None else tokens, 0.0, 1.0)
        self.quality = check_number(self.name, "quality", 50 if quality is None else quality, 0, 100)
        self.search_map_scale = self.knob == "map_scale" and target_bpp is not None
        self.map_scale = 1 if map_scale is None else int(map_scale)
        if token_order not in ("spatial", "importance") or group_tokens < 1:
            raise ValueError(f"token_order {token_order!r} must be spatial or importance, group_tokens ≥ 1")
        lowest = max(MAP_SCALES) if self.search_map_scale else self.map_scale
        if map_scale not in (None, *MAP_SCALES) or strip_rows % lowest:
            raise ValueError(f"map_scale {map_scale} must be 1, 2 or 4 and divide strip_rows {strip_rows}")
        if map_backup not in (0, 2, 4, 8) or (map_backup and (map_backup <= lowest or strip_rows % map_backup)):
            raise ValueError(
                f"map_backup {map_backup} must be 0, or 2, 4 or 8, coarser than the map ({lowest}) "
                "and dividing strip_rows"
            )
        if lowres_divisor not in DIVISORS:
            raise ValueError(f"lowres_divisor {lowres_divisor} must be one of {DIVISORS}")
        self.check_positions(positions, token_order)
        self.positions = positions
        path = checkpoint or str(shipped_codec_path(label_set))
        self.checkpoint_path = path
        self.net, self.label_set, self.map_coder, self.token_coder = shared_model(path, device)
        self.device = next(self.net.parameters()).device
        self.strip_rows, self.band_rows = strip_rows, band_rows
        self.lowres_divisor, self.map_backup = lowres_divisor, map_backup
        self.token_order, self.group_tokens = token_order, group_tokens

    def model_identity(self) -> str:
        """The checkpoint's hash and the device the network runs on (part of the work cache's keys)."""
        from semlink.workcache import file_hash

        return f"{file_hash(self.checkpoint_path)} {self.device.type}"

    def check_positions(self, positions: str, token_order: str) -> None:
        """Refuse a ``positions`` setting the codec cannot honour.

        :raises ValueError: in one line, with what to write instead.
        """
        if positions not in ("sent", "derived"):
            raise ValueError(f"{self.name}: positions {positions!r} must be sent or derived")
        if positions == "derived" and not self.sends_map:
            raise ValueError(f"{self.name} sends no map to derive token positions from; use positions: sent")
        if positions == "derived" and token_order != "spatial":
            raise ValueError(f"{self.name}: positions: derived needs token_order: spatial")

    def check_knobs(self, given: dict[str, float | None], target_bpp: float | None) -> None:
        """Refuse a knob this codec has no use for, and its knob given together with ``target_bpp``.

        :raises ValueError: naming the codec's own knobs.
        """
        own = f"{self.knob} or target_bpp"
        for key, value in given.items():
            if value is not None and key != self.knob and key in ONLY_KNOBS:
                raise ValueError(f"{self.name} has no {key}; its knob is {own}")
        if target_bpp is not None and given.get(self.knob or "") is not None:
            raise ValueError(f"{self.name}: give {own}, not both")

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
            if self.sends_map and (ssm is None or ssm.shape != shape):
                raise ValueError(f"{self.name} needs the frame's segmentation map of shape {shape}")
        analyses: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(images)
        if self.sends_tokens:
            analyses = list(self.analyse_batch(images, ssms))
        return [
            self.compress_one(image, ssm, analysis) for image, ssm, analysis in zip(images, ssms, analyses, strict=True)
        ]

    def compress_one(
        self, image: np.ndarray, ssm: np.ndarray | None, analysis: tuple[np.ndarray, np.ndarray] | None
    ) -> Bitstream:
        """One frame's bitstream, given its :meth:`analyse` (None for a codec without tokens)."""
        shape = (int(image.shape[0]), int(image.shape[1]))
        streams: list[Stream] = []
        settings: dict[str, float] = {}
        if self.sends_map:
            assert ssm is not None
            scale, chunks = self.map_stream(ssm, shape)
            streams.append(Stream("ssm", 0, chunks))
            settings["map_scale"] = scale
            if self.map_backup:
                streams.append(Stream("ssm_backup", 3, self.map_chunks(ssm, self.map_backup)))
        if self.sends_lowres:
            chunk, settings["quality"] = self.lowres_chunk(image, shape, sum(s.bits for s in streams))
            streams.append(Stream("lowres", 2, (chunk,)))
        if self.sends_tokens:
            assert analysis is not None
            fixed = sum(s.bits for s in streams)
            chunks, settings["tokens"] = self.token_chunks(analysis, ssm, shape, fixed)
            streams.append(Stream("vq", 1, chunks))
        return Bitstream(tuple(sorted(streams, key=lambda stream: stream.priority)), shape, settings)

    def map_stream(self, ssm: np.ndarray, shape: tuple[int, int]) -> tuple[int, tuple[bytes, ...]]:
        """``(scale, chunks)`` of the map: at ``map_scale``, or (``ssm`` with ``target_bpp``) at the
        finest scale that fits, each strip then led by one byte naming its scale."""
        if not self.search_map_scale:
            return self.map_scale, self.map_chunks(ssm, self.map_scale)
        assert self.target_bpp is not None
        budget = self.target_bpp * shape[0] * shape[1]
        for scale in MAP_SCALES:
            chunks = tuple(bytes([scale]) + chunk for chunk in self.map_chunks(ssm, scale))
            if 8 * sum(len(c) for c in chunks) <= budget or scale == MAP_SCALES[-1]:
                return scale, chunks
        raise AssertionError("unreachable: the last scale always returns")

    def map_chunks(self, ssm: np.ndarray, scale: int) -> tuple[bytes, ...]:
        """The map at 1/``scale`` resolution in strips of ``strip_rows`` frame rows, each coded alone."""
        return tuple(
            self.map_coder.encode(ssm[top : top + self.strip_rows : scale, ::scale])
            for top in range(0, ssm.shape[0], self.strip_rows)
        )

    def lowres_chunk(self, image: np.ndarray, shape: tuple[int, int], fixed_bits: int) -> tuple[bytes, int]:
        """``(chunk, quality)``: the low-res chunk at the set quality, or the best that meets ``target_bpp``."""
        if self.target_bpp is None:
            quality = int(self.quality)
            return encode_lowres(image, self.lowres_divisor, quality), quality
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
        return best, best_quality

    def token_chunks(
        self,
        analysis: tuple[np.ndarray, np.ndarray],
        ssm: np.ndarray | None,
        shape: tuple[int, int],
        fixed_bits: int,
    ) -> tuple[tuple[bytes, ...], float]:
        """``(chunks, fraction)``: kept tokens in bands, the top ``tokens`` by score, or as many as
        ``target_bpp`` allows; ``analysis`` is the frame's :meth:`analyse`."""
        indices, order = analysis
        if self.positions == "derived":
            assert ssm is not None
            order = derived_order(self.map_as_decoded(ssm))
        if self.target_bpp is None:
            kept = round(self.tokens * order.size)
            return self.encode_tokens(indices, order[:kept]), kept / order.size
        budget = self.target_bpp * shape[0] * shape[1] - fixed_bits
        low, high, best, best_kept = 0, order.size, self.encode_tokens(indices, order[:0]), 0
        while low <= high:
            middle = (low + high) // 2
            chunks = self.encode_tokens(indices, order[:middle])
            if 8 * sum(len(c) for c in chunks) <= budget:
                best, best_kept, low = chunks, middle, middle + 1
            else:
                high = middle - 1
        return best, best_kept / order.size

    def map_as_decoded(self, ssm: np.ndarray) -> np.ndarray:
        """``ssm [H, W]`` as the receiver decodes it when every strip arrives (at ``map_scale``)."""
        s = self.map_scale
        return ssm[::s, ::s].repeat(s, 0).repeat(s, 1)[: ssm.shape[0], : ssm.shape[1]]

    def analyse(self, image: np.ndarray, ssm: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Codeword indices ``[h, w]`` of the frame and grid positions ranked by importance."""
        return self.analyse_batch([image], [ssm])[0]

    @torch.inference_mode()
    def analyse_batch(
        self, images: Sequence[np.ndarray], ssms: Sequence[np.ndarray | None]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`analyse` of several frames: one forward pass per group of frames of one size."""
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(images)
        groups: dict[tuple[int, ...], list[int]] = {}
        for number, image in enumerate(images):
            groups.setdefault(tuple(image.shape), []).append(number)
        for members in groups.values():
            x = torch.stack([self.frame_tensor(images[i]) for i in members])
            labels = torch.stack([self.map_tensor(ssms[i], x.shape[-2:]) for i in members])
            latent = self.net.encoder(x)
            indices = self.net.quantizer.indices(latent)
            scores = self.net.scorer(latent, onehot_map(labels, self.label_set.num_classes))
            for row, number in enumerate(members):
                order = torch.argsort(scores[row].flatten(), descending=True, stable=True)
                out[number] = (indices[row].cpu().numpy(), order.cpu().numpy())
        return [analysis for analysis in out if analysis is not None]

    def frame_tensor(self, image: np.ndarray) -> torch.Tensor:
        """``image [H, W, 3]`` uint8 as ``[3, H', W']`` in [0, 1] on the device, padded to the grid."""
        pixels = np.require(image, requirements=["C", "W"])  # torch refuses read-only arrays (e.g. decoded frames)
        x = torch.from_numpy(pixels).to(self.device).permute(2, 0, 1)[None].float() / 255
        return pad_to_grid(x)[0]

    def map_tensor(self, ssm: np.ndarray | None, padded: tuple[int, int] | torch.Size) -> torch.Tensor:
        """The encoder's view of the map ``[H', W']`` (all *unknown* without one, or for ``gan``)."""
        if ssm is None or not self.sends_map:
            return torch.full(tuple(padded), self.label_set.num_classes, dtype=torch.long, device=self.device)
        return self.labels_tensor(ssm)

    def labels_tensor(self, labels: np.ndarray) -> torch.Tensor:
        """``labels [H, W]`` as ``[H', W']`` int64 on the device, padded to the grid."""
        return pad_to_grid(torch.from_numpy(labels).to(self.device)[None, None].float())[0, 0].long()

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
        if self.positions == "derived":
            return tuple(
                self.token_coder.encode_kept(indices[top : top + self.band_rows][keep[top : top + self.band_rows]])
                for top in bands
            )
        return tuple(
            self.token_coder.encode(
                keep[top : top + self.band_rows].ravel(), indices[top : top + self.band_rows].ravel()
            )
            for top in bands
        )

    # -- receiver ----------------------------------------------------------------------------

    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """Decode whatever arrived: missing strips are unknown, missing tokens masked, no low-res is none."""
        return self.reconstruct(*self.received_inputs(received))

    def decompress_batch(self, received: Sequence[ReceivedBitstream]) -> list[np.ndarray]:
        """Decode several frames: the decoder network runs once over each group of frames of one size.

        A batched forward pass may round differently from single ones (on this CPU: at most one grey
        level in a few pixels), so semlink's receiver always decodes in batches of the scenario's
        ``batch`` size (padded) and keys its cache by it: see :class:`~semlink.receiver.node.RxPlan`.
        """
        inputs = [self.received_inputs(one) for one in received]
        out: list[np.ndarray | None] = [None] * len(inputs)
        groups: dict[tuple[tuple[int, int], bool], list[int]] = {}
        for number, (labels, _, _, lowres) in enumerate(inputs):
            groups.setdefault((labels.shape, lowres is not None), []).append(number)
        for members in groups.values():
            for number, image in zip(members, self.reconstruct_batch([inputs[i] for i in members]), strict=True):
                out[number] = image
        return [image for image in out if image is not None]

    def received_inputs(
        self, received: ReceivedBitstream
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """What the decoder network gets of a frame: ``(labels, keep, indices, lowres)``."""
        h, w = received.shape
        grid = (-(-h // GRID), -(-w // GRID))
        labels = self.received_map(received.stream("ssm"), (h, w))
        primary = labels.copy()  # derived token positions come from the map itself, never its backup
        if self.map_backup:
            backup = self.received_map(received.stream("ssm_backup"), (h, w), self.map_backup)
            unknown = labels == self.label_set.num_classes
            labels[unknown] = backup[unknown]
        keep, indices = self.received_tokens(received.stream("vq"), grid, primary)
        lowres = self.received_lowres(received.stream("lowres"), (h, w))
        return labels, keep, indices, lowres

    def received_map(self, chunks: list[bytes | None], shape: tuple[int, int], scale: int = 0) -> np.ndarray:
        """The map (coded at 1/``scale``, default ``map_scale``; with a searched scale, the one each
        strip names) with *unknown* (C) where strips are missing or damaged."""
        c = self.label_set.num_classes
        full = np.full(shape, c, dtype=np.uint8)
        if not self.sends_map:
            return full
        for number, chunk in enumerate(chunks[: -(-shape[0] // self.strip_rows)]):
            top = number * self.strip_rows
            rows = min(self.strip_rows, shape[0] - top)
            strip = None if chunk is None else self.decoded_strip(chunk, (rows, shape[1]), scale)
            if strip is not None:
                full[top : top + rows] = strip
        return full

    def decoded_strip(self, chunk: bytes, shape: tuple[int, int], scale: int) -> np.ndarray | None:
        """One strip of ``shape`` frame pixels from its chunk, or None if it cannot be decoded."""
        if self.search_map_scale and not scale:
            if not chunk or chunk[0] not in MAP_SCALES:
                return None
            scale, chunk = chunk[0], chunk[1:]
        scale = scale or self.map_scale
        coarse_shape = (-(-shape[0] // scale), -(-shape[1] // scale))
        try:
            coarse = self.map_coder.decode(chunk, coarse_shape)
        except ValueError:
            return None
        return coarse.repeat(scale, 0).repeat(scale, 1)[: shape[0], : shape[1]]

    def received_tokens(
        self, chunks: list[bytes | None], grid: tuple[int, int], labels: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(keep [h, w], indices [h, w])`` from the bands that arrived intact (with derived
        positions, placed by the received map ``labels [H, W]``)."""
        keep = np.zeros(grid, dtype=bool)
        indices = np.zeros(grid, dtype=np.int64)
        if self.token_order == "importance":
            return self.received_groups(chunks, grid)
        if self.positions == "derived":
            assert labels is not None
            return self.received_derived(chunks, grid, labels)
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

    def received_derived(
        self, chunks: list[bytes | None], grid: tuple[int, int], labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(keep [h, w], indices [h, w])`` of bands of indices only, placed where the received map
        ``labels [H, W]`` ranks highest; a band whose map rows are not all known is dropped."""
        keep = np.zeros(grid, dtype=bool)
        indices = np.zeros(grid, dtype=np.int64)
        scores = block_scores(labels)
        unknown = self.label_set.num_classes
        for number, chunk in enumerate(chunks[: -(-grid[0] // self.band_rows)]):
            top = number * self.band_rows
            rows = min(self.band_rows, grid[0] - top)
            if chunk is None or (labels[top * GRID : (top + rows) * GRID] == unknown).any():
                continue
            try:
                values = self.token_coder.decode_kept(chunk, rows * grid[1])
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

    def reconstruct(
        self, labels: np.ndarray, keep: np.ndarray, indices: np.ndarray, lowres: np.ndarray | None
    ) -> np.ndarray:
        """Run the decoder network: ``[H, W, 3]`` uint8."""
        return self.reconstruct_batch([(labels, keep, indices, lowres)])[0]

    @torch.inference_mode()
    def reconstruct_batch(
        self, inputs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]
    ) -> list[np.ndarray]:
        """The decoder network over frames of one size, all with a low-res image or all without."""
        h, w = inputs[0][0].shape
        c = self.label_set.num_classes
        labels_t = torch.stack([self.labels_tensor(labels) for labels, _, _, _ in inputs])
        lowres_t = None
        if inputs[0][3] is not None:
            lowres_t = torch.stack([self.frame_tensor(np.asarray(lowres)) for _, _, _, lowres in inputs])
        out = self.net.decode(
            torch.stack([torch.from_numpy(indices) for _, _, indices, _ in inputs]).to(self.device),
            torch.stack([torch.from_numpy(keep) for _, keep, _, _ in inputs]).to(self.device),
            onehot_map(labels_t, c),
            lowres_t,
        )
        pixels = (out[:, :, :h, :w] * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        return list(pixels)


MAP_SCALES = (1, 2, 4)
"""Map resolutions a codec may send, finest first."""
ONLY_KNOBS = ("tokens", "quality")
"""Knobs that mean nothing to a codec that does not own them (``map_scale`` is an option of all)."""


@CODECS.register("sqgan")
class SqganCodec(SemanticCodec):
    """SQ-GAN's design: the map plus the most important VQ tokens of the image.

    Knob: ``tokens``, the fraction of the token grid sent (``r_img``, 0–1, default 0.1), or
    ``target_bpp``, which searches it; ``map_scale`` is an option.
    """

    name = "sqgan"
    knob = "tokens"
    sends_tokens = True


@CODECS.register("gan")
class GanCodec(SqganCodec):
    """Generative compression without semantics: VQ tokens only, no map.

    Knob: ``tokens`` (0–1, default 0.1) or ``target_bpp``, which searches it.
    """

    name = "gan"
    uses_ssm = False
    sends_map = False


@CODECS.register("spic")
class SpicCodec(SemanticCodec):
    """SPIC's design: the lossless map plus a low-resolution image (here WebP at ×``lowres_divisor``).

    Knob: ``quality``, the WebP quality of the low-res image (0–100, default 50), or
    ``target_bpp``, which searches it; ``map_scale`` is an option.
    """

    name = "spic"
    knob = "quality"
    sends_lowres = True


@CODECS.register("ssm")
class SsmCodec(SemanticCodec):
    """The map alone; the decoder paints a frame from it.

    Knob: ``map_scale`` (1, 2 or 4, default 1), or ``target_bpp``: the finest scale whose map
    fits (the coarsest if none does); each strip then carries one byte naming its scale, counted
    in the bits like the rest.
    """

    name = "ssm"
    knob = "map_scale"
