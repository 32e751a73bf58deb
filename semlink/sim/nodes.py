"""The three nodes as socket loops (one process each) and the same stages wired in one process.

Every node computes the sweep from the scenario exactly as it loaded it, so all stages agree on
the points' keys; the resolved scenario (frame size filled in) only sizes the results.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import zmq

from semlink.channel.node import ChannelStage
from semlink.metrics import build_metrics
from semlink.receiver.node import PointReport, ReceiverStage
from semlink.sim.endpoints import node_endpoints
from semlink.sim.liveness import PeerWatch, Waits
from semlink.sim.plans import (
    PARENT_ENV,
    Sources,
    check_points,
    make_channel,
    make_receiver,
    make_transmitter,
    open_frames,
    resolve,
    run_id,
    work_cache,
)
from semlink.sim.results import ResultsWriter
from semlink.sim.scenario import NetworkSpec, Scenario, dump_scenario
from semlink.sim.security import node_security
from semlink.sim.sweep import Point, points
from semlink.sim.threads import node_share, use_threads
from semlink.sim.transport import (
    COUNTERS_PREFIX,
    PeerError,
    StopFlag,
    bind,
    connect,
    make_socket,
    receive,
    send,
    send_message,
    wait_until_peer_leaves,
)
from semlink.wire import WireError, new_run_id
from semlink.workcache import WorkStats

LOG = logging.getLogger(__name__)
WORK_ENV = "SEMLINK_WORK_FILE"
"""Where a node writes its :class:`~semlink.workcache.WorkStats` as JSON when it ends (set by ``semlink run``)."""
READY_ENV = "SEMLINK_READY_FILE"
"""A file a node writes once its sockets are bound and connected (docker compose's healthchecks test it)."""


def announce_ready(role: str) -> None:
    """Write ``$SEMLINK_READY_FILE`` (when set): this node's sockets are up."""
    path = os.environ.get(READY_ENV)
    if path:
        Path(path).write_text(f"{role} {os.getpid()}\n")
        LOG.debug("%s ready: wrote %s", role, path)


def transmitter_node(scenario: Scenario, origin: str, only: set[int] | None = None) -> int:
    """Send every point's frames to the channel; returns the number of messages sent.

    The socket connects before the codecs and segmenters load, so the channel sees its peer at
    once; each point's codec is built when its first frame is coded.
    """
    threads = use_threads(node_share("transmitter", scenario.threads))
    net, ends, stop = scenario.network, node_endpoints(scenario.network), StopFlag().install()
    LOG.info("transmitter started: pid %d, %d threads; sending to %s", os.getpid(), threads, ends.channel_connect)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = make_socket(context, zmq.PUSH, net.hwm, 0)
    watch = PeerWatch(sock, f"the channel at {ends.channel_connect}")
    security = node_security(context, net.security, net.keys)
    cache = work_cache(scenario, None)
    sent = 0
    try:
        security.client(sock)
        connect(sock, ends.channel_connect, "transmitter")
        announce_ready("transmitter")
        sources = Sources(scenario)
        sweep = node_points(scenario, origin, open_frames(scenario).label_set.name)
        stage = make_transmitter(scenario, sweep, sources, run_id(scenario), only, cache)
        for parts in stage.messages():
            if not send(sock, parts, watch, stop, waits(net)):
                break
            sent += 1
        else:
            finish(watch, stop, net, "transmitter")
    finally:
        say_work("transmitter", cache.stats)
        watch.close()
        sock.close(linger=0)  # the peer left (it read everything) or the run failed: nothing to wait for
        security.close()
        context.term()
    return sent


def channel_node(scenario: Scenario, origin: str) -> dict[str, int]:
    """Relay messages from the transmitter to the receiver through each point's channel; returns counters."""
    threads = use_threads(node_share("channel", scenario.threads))
    net, ends, stop = scenario.network, node_endpoints(scenario.network), StopFlag().install()
    LOG.info(
        "channel started: pid %d, %d threads; listening on %s, forwarding to %s",
        os.getpid(),
        threads,
        ends.channel_bind,
        ends.receiver_connect,
    )
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    inbound = make_socket(context, zmq.PULL, net.hwm, 0)
    outbound = make_socket(context, zmq.PUSH, net.hwm, 0)
    sender = PeerWatch(inbound, f"the transmitter (bound {ends.channel_bind})", trusted=False)
    receiver = PeerWatch(outbound, f"the receiver at {ends.receiver_connect}")
    security = node_security(context, net.security, net.keys)
    stage = make_channel(scenario, node_points(scenario, origin), run_id(scenario))
    stats = WorkStats()
    try:
        security.server(inbound)
        security.client(outbound)
        bind(inbound, ends.channel_bind, "channel")
        connect(outbound, ends.receiver_connect, "channel")
        announce_ready("channel")
        while parts := receive(inbound, sender, stop, waits(net)):
            with stats.timed("channel"):
                out = relay(stage, parts)
            if stage.heard_run:
                sender.trust()
            if out is not None and not send_message(outbound, out, receiver, stop, waits(net)):
                break
            if stage.ended:
                finish(receiver, stop, net, "channel")
                break
    finally:
        say_work("channel", stats)
        say_counters("channel", stage.counters)
        for watch, sock in ((sender, inbound), (receiver, outbound)):
            watch.close()
            sock.close(linger=0)
        security.close()
        context.term()
    return dict(stage.counters)


def relay(stage: ChannelStage, parts: list[bytes]) -> bytes | None:
    """The channel's socket message for ``parts``, None for nothing (a message too large to pack is a
    one-line :class:`PeerError`)."""
    try:
        return stage.relay_message(parts)
    except WireError as error:
        raise PeerError(f"the channel cannot forward a frame: {error}; lower the rate or the frame size") from None


def receiver_node(scenario: Scenario, origin: str, out: Path, progress: bool = False) -> dict[str, int]:
    """Receive, reassemble, decode and score until ``end``; write results to ``out``; returns counters.

    Points already in ``out/results.csv`` are not scored again (their packets are counted and dropped).
    """
    threads = use_threads(node_share("receiver", scenario.threads))
    net, ends, stop = scenario.network, node_endpoints(scenario.network), StopFlag().install()
    LOG.info(
        "receiver started: pid %d, %d threads; listening on %s; results in %s",
        os.getpid(),
        threads,
        ends.receiver_bind,
        out,
    )
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    inbound = make_socket(context, zmq.PULL, net.hwm, 0)
    watch = PeerWatch(inbound, f"the channel (bound {ends.receiver_bind})", trusted=False)
    security = node_security(context, net.security, net.keys)
    counters: dict[str, int] = {}
    stats: WorkStats | None = None
    try:
        security.server(inbound)
        bind(inbound, ends.receiver_bind, "receiver")
        announce_ready("receiver")
        stage = receiver_stage(scenario, origin, out, progress)
        counters, stats = stage.counters, stage.cache.stats
        while not stage.finished and (parts := receive(inbound, watch, stop, waits(net))):
            stage.handle_message(parts)
            if stage.heard_run:
                watch.trust()
    finally:
        if stats is not None:
            say_work("receiver", stats)
        say_counters("receiver", counters)
        watch.close()
        inbound.close(linger=0)
        security.close()
        context.term()
    return dict(counters)


def receiver_stage(scenario: Scenario, origin: str, out: Path, progress: bool) -> ReceiverStage:
    """The receiver's stage, writing each finished point to ``out``."""
    sources = Sources(scenario)
    source = open_frames(scenario)
    resolved = resolve(scenario, source)
    sweep = node_points(scenario, origin, source.label_set.name)
    metrics = build_metrics(scenario.metrics, source.label_set)
    writer = ResultsWriter(out, resolved, sweep, metrics)
    dump_scenario(resolved, out / "scenario.yaml")
    on_point = reporter(writer, progress)
    cache = work_cache(scenario, out)
    stage = make_receiver(scenario, sweep, sources, metrics, on_point, run_id(scenario), writer.done_keys(), cache)
    if progress:

        def on_frame(point: int, frame: int) -> None:
            hits, lookups = cache.stats.hit_counts()
            tell_parent({"point": point, "frame": frame, "hits": hits, "lookups": lookups})

        stage.on_frame = on_frame
    return stage


def node_points(scenario: Scenario, origin: str, label_set: str | None = None) -> list[Point]:
    """The sweep as a node computes it: checked in full when started by hand; under ``semlink run``,
    whose parent checked every codec before starting the nodes, the codecs are left to be built
    per point as their frames come."""
    if os.environ.get(PARENT_ENV):
        return points(scenario, origin)
    return check_points(scenario, origin, label_set)


def waits(network: NetworkSpec) -> Waits:
    """The scenario's waits on peers."""
    return Waits(network.peer_timeout_s, network.stall_timeout_s)


def finish(watch: PeerWatch, stop: StopFlag, network: NetworkSpec, role: str) -> None:
    """After the run's last message: wait for the peer to read it and leave (see
    :func:`~semlink.sim.transport.wait_until_peer_leaves`); say so if it never does."""
    if not wait_until_peer_leaves(watch, stop, waits(network)) and not stop.stopped:
        print(
            f"{role}: {watch.peer} still had not taken the run's end after {network.stall_timeout_s:g} s; closing",
            file=sys.stderr,
            flush=True,
        )


def say_work(role: str, stats: WorkStats) -> None:
    """Write what a node's stages did (counts, cache hits, seconds) as JSON to ``$SEMLINK_WORK_FILE``
    (``semlink run`` sets it per node and adds them up); nothing when it is not set or the stages
    did nothing. A file, not a line on stderr: a node's error stays its only line there."""
    path = os.environ.get(WORK_ENV)
    if not path or not any(work.computed or work.hits or work.seconds for work in stats.stages.values()):
        return
    temporary = Path(f"{path}.tmp")
    temporary.write_text(json.dumps(stats.to_dict()))
    temporary.replace(path)


def say_counters(role: str, counters: Mapping[str, int]) -> None:
    """Print a node's counters on stderr as one line; called on every way out of the node's loop
    (clean end, peer timeout, signal), so a tampered run never looks clean."""
    words = " ".join(f"{name}={counters[name]}" for name in sorted(counters) if counters[name])
    if words:  # nothing counted (a node that never got a message): keep its error the only line
        print(f"{COUNTERS_PREFIX} {role} {words}", file=sys.stderr, flush=True)


def reporter(writer: ResultsWriter, progress: bool) -> Callable[[PointReport], None]:
    """Writes each finished point and, with progress on, says so on stdout as a JSON line."""

    def on_point(report: PointReport) -> None:
        writer.write(report)
        complete = sum(record.complete for record in report.frames)
        concealed = sum(record.concealed for record in report.frames)
        counted = " ".join(f"{name}={count}" for name, count in sorted(report.counters.items()) if count)
        LOG.info(
            "point %d scored: %d frames (%d complete, %d concealed) of %d packets sent%s",
            report.index,
            len(report.frames),
            complete,
            concealed,
            report.sent.packets_sent,
            f"; {counted}" if counted else "",
        )
        if progress:
            tell_parent({"point_done": report.index})

    return on_point


def tell_parent(event: dict[str, int]) -> None:
    """One progress event as a JSON line on stdout, which ``semlink run`` reads.

    A closed pipe means the parent is gone (the finished points are already on disk): stop
    quietly, as on SIGTERM, instead of a ``BrokenPipeError`` traceback.
    """
    try:
        print(json.dumps(event), flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        raise SystemExit(143) from None


def inproc_run(
    scenario: Scenario,
    origin: str,
    out: Path,
    only: set[int] | None,
    on_frame: Callable[[int, int], None] | None = None,
    stats: WorkStats | None = None,
) -> dict[str, int]:
    """The same stages called directly in one process; returns the receiver's counters and adds
    what the stages did to ``stats``."""
    use_threads(node_share("inproc", scenario.threads))
    sources = Sources(scenario)
    source = open_frames(scenario)
    resolved = resolve(scenario, source)
    sweep = check_points(scenario, origin, source.label_set.name)
    metrics = build_metrics(scenario.metrics, source.label_set)
    writer = ResultsWriter(out, resolved, sweep, metrics)
    run = new_run_id()
    cache = work_cache(scenario, out)
    if stats is not None:
        cache.stats = stats
    transmitter = make_transmitter(scenario, sweep, sources, run, only, cache)
    channel = make_channel(scenario, sweep, run)
    receiver = make_receiver(scenario, sweep, sources, metrics, reporter(writer, False), run, cache=cache)
    if on_frame is not None:
        receiver.on_frame = on_frame
    for parts in transmitter.messages():
        with cache.stats.timed("channel"):
            forwarded = channel.process(parts)
        if forwarded:
            receiver.handle(forwarded)
    return dict(receiver.counters)
