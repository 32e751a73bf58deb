"""Training the semantic codec: the token warm-up, the token-weighted loss, codebook use, --init."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch

from semlink.codecs.semantic.checkpoint import CodecCheckpointError, load_codec
from semlink.codecs.semantic.fit import init_weights, psnr_db
from semlink.codecs.semantic.net import CodecNetConfig
from semlink.codecs.semantic.quantizer import EmaQuantizer, perplexity, usage
from semlink.codecs.semantic.streams_sim import WARMUP_POLICY, DropoutPolicy, block_mask, drop_map, keep_tokens
from semlink.data.labelset import CAMVID, CITYSCAPES
from tests.fakes import blocky_maps, tiny_codec_checkpoint

TINY = CodecNetConfig(19, codes=64, code_dim=8, width=32, gen_widths=(16, 16, 8), spade_hidden=8, head=8)
"""The shape of :func:`tests.fakes.tiny_codec_checkpoint`."""


def test_the_token_warmup_sends_the_true_map_and_tokens_in_every_sample() -> None:
    g = torch.Generator().manual_seed(0)
    maps = torch.from_numpy(blocky_maps(64, (64, 64), 5)).long()
    keep = keep_tokens(torch.rand(64, 4, 4, generator=g), WARMUP_POLICY, g)
    assert keep.flatten(1).any(1).all()  # no sample goes without tokens
    assert keep.flatten(1).all(1).float().mean() > 0.3  # about half keep every token
    assert torch.equal(drop_map(maps, 5, WARMUP_POLICY, g) == 5, torch.zeros_like(maps, dtype=torch.bool))


def test_the_default_policy_still_trains_every_pattern() -> None:
    g = torch.Generator().manual_seed(0)
    keep = keep_tokens(torch.rand(400, 4, 4, generator=g), DropoutPolicy(), g).flatten(1)
    none, every = (~keep.any(1)).float().mean(), keep.all(1).float().mean()
    assert 0.1 < none < 0.3 and 0.1 < every < 0.3


def test_block_mask_covers_exactly_the_blocks_of_kept_tokens() -> None:
    keep = torch.tensor([[[True, False], [False, True]]])
    mask = block_mask(keep)
    assert mask.shape == (1, 1, 32, 32)
    assert mask[0, 0, :16, :16].eq(1).all() and mask[0, 0, :16, 16:].eq(0).all()
    assert float(mask.mean()) == 0.5


def test_codebook_usage_on_hand_made_indices() -> None:
    prior = torch.full((4,), 0.25)
    stats = usage(torch.tensor([[0, 0], [1, 1]]), prior)
    assert stats == {"perplexity": 2.0, "unused codes": 2.0, "entropy bits": 1.0, "prior bits": 2.0}
    assert perplexity(torch.arange(8), 8) == pytest.approx(8.0)


def test_the_quantizer_reports_the_dead_codes_it_restarts() -> None:
    torch.manual_seed(0)
    quantizer = EmaQuantizer(16, 4, restart_below=0.5).train()
    z = torch.zeros(2, 4, 3, 3)  # every position picks one codeword: the others starve
    for _ in range(80):
        quantizer(z)
        if quantizer.restarts:
            break
    assert quantizer.restarts > 0


def test_psnr_of_hand_made_images() -> None:
    a = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    b = np.full_like(a, 255)
    assert psnr_db(a, b) == pytest.approx(0.0)
    assert psnr_db(a, a) > 90


def test_init_loads_a_checkpoint_of_the_same_shape_and_names_what_differs(tmp_path: Path) -> None:
    path = tiny_codec_checkpoint(tmp_path / "tiny.pt")
    weights = init_weights(path, TINY, CITYSCAPES)
    net, _, _ = load_codec(path)
    assert all(torch.equal(weights[k], v) for k, v in net.state_dict().items())
    with pytest.raises(CodecCheckpointError, match="is for cityscapes frames, --data gives camvid"):
        init_weights(path, TINY, CAMVID)
    with pytest.raises(CodecCheckpointError, match="another network shape"):
        init_weights(path, CodecNetConfig(19), CITYSCAPES)


def blocks(n: int, g: torch.Generator, shape: tuple[int, int] = (32, 64)) -> torch.Tensor:
    """``[n, 3, H, W]`` frames of black and white 16×16 blocks: appearance no map can carry."""
    pick = torch.randint(2, (n, 1, shape[0] // 16, shape[1] // 16), generator=g).float()
    return pick.repeat_interleave(16, 2).repeat_interleave(16, 3).expand(n, 3, *shape).clone()


def test_tokens_trace_a_rising_curve_on_a_tiny_model() -> None:
    from semlink.codecs.semantic.fit import reconstruct
    from semlink.codecs.semantic.train import CodecModule, LossWeights

    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the network's initial weights only
        config = CodecNetConfig(3, codes=16, code_dim=8, width=32, gen_widths=(16, 16, 8), spade_hidden=8, head=8)
        weights = LossWeights(task=0.0, gan_start=2.0, token_warmup=1.0)
        module = CodecModule(config, torch.nn.Conv2d(3, 3, 1), torch.ones(3), weights=weights, seed=1)
    optimizer = torch.optim.Adam(module.net.parameters(), lr=3e-3)
    maps = torch.zeros(8, 32, 64, dtype=torch.long)  # one class: the map says nothing of the blocks
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a net this small gains nothing from more, and a busy machine costs it much
    try:
        for _ in range(100):
            _, _, terms = module._generator_losses(blocks(8, g), maps, module.generator_rng, gan_on=False)
            optimizer.zero_grad()
            sum(terms.values(), torch.zeros(())).backward()
            optimizer.step()
        test = blocks(16, g)
        psnr = []
        for fraction in (0.0, 0.25, 0.5, 1.0):
            out = reconstruct(module.net.eval(), test, maps[:1].expand(16, -1, -1), fraction, True, False)
            psnr.append(float(10 * torch.log10(1 / (out - test).pow(2).mean())))
    finally:
        torch.set_num_threads(threads)
    assert all(later > earlier + 0.5 for earlier, later in pairwise(psnr)), psnr
    assert psnr[-1] > psnr[0] + 3, psnr


def test_a_resumed_codec_run_continues_its_steps_and_records_every_leg(tmp_path: Path) -> None:
    from semlink.codecs.semantic.fit import CodecTrainSettings, train_codec
    from semlink.data.subset import Subset
    from semlink.data.synthetic import SyntheticDriving
    from semlink.training import EvalSets
    from semlink.vision.checkpoint import load_resume
    from semlink.vision.segmenter import TorchSegmenter

    train = Subset(SyntheticDriving("train", size=(32, 64)), 4)
    sets = EvalSets(Subset(SyntheticDriving("train", size=(32, 64), seed=7), 1), Subset(train, 1), "tiny")
    segmenter = TorchSegmenter(torch.nn.Conv2d(3, 19, 1), CITYSCAPES, "cpu")
    settings = CodecTrainSettings(max_minutes=5.0, steps=2, crop=(32, 48), batch=2, threads=1, val_frames=1)
    first, second = tmp_path / "c1.pt", tmp_path / "c2.pt"
    train_codec(train, sets, segmenter, settings, first, "leg one")
    scores = train_codec(train, sets, segmenter, settings, second, "leg two", resume=first)
    state = load_resume(second, "codec")
    assert state["step"] == 4 and [leg["steps"] for leg in state["legs"]] == [2, 4]
    assert {"PSNR, map + 100% tokens", "consistency, map only (ssm)", "codebook perplexity"} <= set(scores)
    record = second.with_suffix(".txt").read_text()
    assert "leg one" in record and "leg two" in record and "val PSNR, map + 10% tokens" in record
    started = tmp_path / "c3.pt"
    train_codec(train, sets, segmenter, settings, started, "from c1", init=first)
    assert "network initialised from" in started.with_suffix(".txt").read_text()
    assert load_resume(started, "codec")["step"] == 2


def test_the_task_weight_reaches_the_loss_and_a_bad_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semlink.cli import main
    from semlink.codecs.semantic import fit
    from semlink.data.subset import Subset
    from semlink.data.synthetic import SyntheticDriving
    from semlink.training import EvalSets
    from semlink.vision.segmenter import TorchSegmenter

    built: list[float] = []
    original = fit.CodecModule

    def spy(*args: object, **kwargs: object) -> object:
        weights = kwargs["weights"]
        assert isinstance(weights, fit.LossWeights)
        built.append(weights.task)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fit, "CodecModule", spy)
    train = Subset(SyntheticDriving("train", size=(32, 64)), 2)
    sets = EvalSets(Subset(train, 1), Subset(train, 1), "tiny")
    segmenter = TorchSegmenter(torch.nn.Conv2d(3, 19, 1), CITYSCAPES, "cpu")
    settings = fit.CodecTrainSettings(
        max_minutes=5.0, steps=1, crop=(32, 48), batch=2, threads=1, val_frames=1, task_weight=3.0
    )
    fit.train_codec(train, sets, segmenter, settings, tmp_path / "c.pt", "task weight 3")
    assert built == [3.0]
    code = main(["train", "codec", "--data", "synthetic", "--max-minutes", "1", "--task-weight", "-1",
                 "--out", str(tmp_path / "bad.pt")])  # fmt: skip
    assert code != 0
