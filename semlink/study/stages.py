"""The three stages of a study, built one way for every transport: the same objects run in one
process (:mod:`semlink.executors.inproc`) or one per node process (:mod:`semlink.nodes.loops`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from semlink.channel import build_channel
from semlink.channel.base import ChannelModel
from semlink.channel.cell.group import CellPlan
from semlink.channel.impairments import Impairments
from semlink.channel.node import ChannelPlan, ChannelStage
from semlink.metrics.base import Metric
from semlink.receiver.node import LinkTiming, PointReport, ReceiverStage, RxPlan
from semlink.study.cells import cell_plan
from semlink.study.components import frame_batch, uses_map
from semlink.study.study import Study
from semlink.study.trials import channel_seed, frame_interval_us, in_share
from semlink.transmitter.node import TransmitterStage, TxPlan
from semlink.transmitter.packetizer import resolve_mtu
from semlink.workcache import WorkCache


def make_transmitter(
    study: Study, run_id: int, only: set[int] | None = None, cache: WorkCache | None = None, share: int | None = None
) -> TransmitterStage:
    """The transmitter stage for the points in ``only`` (all if None): each realisation with its
    source, MTU, timing and (for codecs that send a map) segmenter; ``cache``: the work cache;
    ``share``: only the vehicles of this share (``vehicles.per_process``; None: every vehicle)."""
    plans = []
    chosen = study.trials(only)
    if share is not None:
        chosen = [trial for trial in chosen if in_share(study.scenario, trial, share)]
    for trial in chosen:
        p, source = trial.point, study.sources.drive(trial.point, trial.vehicle)
        factory, key = study.codec(p)
        sends_map = uses_map(p)
        plans.append(
            TxPlan(
                trial.index,
                trial.key,
                factory,
                len(source),
                source=source,
                mtu=resolve_mtu(p.link.mtu),
                frame_interval_us=frame_interval_us(p.link.fps),
                segmenter=study.segmenters.get(source, p.segmenter) if sends_map else None,
                reuse_key=f"{p.key}@{trial.vehicle}" if p.vehicles else p.key,
                codec_key=key,
                segmenter_key=study.segmenters.key(source, p.segmenter) if sends_map else "",
            )
        )
    return TransmitterStage(plans, run_id, cache, frame_batch(study.scenario))


def make_channel(study: Study, run_id: int) -> ChannelStage:
    """The channel stage of run ``run_id``: each realisation's model, impairments and seeded stream
    (and, for vehicles sharing a cell, the realisation's one cell plan)."""
    plans = {}
    cells: dict[int, CellPlan | None] = {}
    for trial in study.trials():
        p = trial.point
        make: Callable[[], ChannelModel] = functools.partial(build_channel, p.channel, **p.params)
        if trial.group not in cells:
            cells[trial.group] = cell_plan(study.scenario, trial, study.scenario.data.frames)
        plans[trial.index] = ChannelPlan(
            trial.key,
            make,
            Impairments(**p.impairments),
            channel_seed(study.scenario, trial),
            cells[trial.group],
            trial.vehicle,
        )
    return ChannelStage(plans, run_id)


def make_receiver(
    study: Study,
    metrics: Sequence[Metric],
    on_point: Callable[[PointReport], None],
    run_id: int,
    skip: set[str] | None = None,
    cache: WorkCache | None = None,
) -> ReceiverStage:
    """The receiver stage of run ``run_id``: each realisation's decoder, source, timing and
    segmenter; realisations whose points' keys are in ``skip`` are not scored."""
    batch = frame_batch(study.scenario)
    plans = {}
    every = study.trials()
    for trial in every:
        p, source = trial.point, study.sources.drive(trial.point, trial.vehicle)
        link = p.link
        deadline = None if link.deadline_ms is None else round(link.deadline_ms * 1000)
        factory, key = study.codec(p)
        plans[trial.index] = RxPlan(
            trial.key,
            factory,
            len(source),
            bool(p.params.get("deliver_corrupt", False)),
            source=source,
            segmenter=study.segmenters.get(source, p.segmenter),
            timing=LinkTiming(frame_interval_us(link.fps), deadline, link.window, link.conceal),
            codec_key=key,
            segmenter_key=study.segmenters.key(source, p.segmenter),
            batch=batch,
        )
    skipped = {t.key for t in every if t.point.key in (skip or set())}
    return ReceiverStage(plans, metrics, on_point, run_id, skipped, cache)


def make_stages(
    study: Study,
    on_point: Callable[[PointReport], None],
    run_id: int,
    skip: set[str] | None = None,
    only: set[int] | None = None,
    cache: WorkCache | None = None,
) -> tuple[TransmitterStage, ChannelStage, ReceiverStage]:
    """The three stages of a study in one process, sharing its sources, codecs and cache."""
    from semlink.metrics import build_metrics

    metrics = build_metrics(study.scenario.metrics, study.sources.of(study.points[0]).label_set)
    transmitter = make_transmitter(study, run_id, only, cache)
    receiver = make_receiver(study, metrics, on_point, run_id, skip, cache)
    return transmitter, make_channel(study, run_id), receiver
