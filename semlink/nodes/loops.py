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

from semlink.metrics import build_metrics
from semlink.nodes.endpoints import Endpoints, exposed, node_endpoints
from semlink.nodes.liveness import PeerWatch, Waits
from semlink.nodes.merging import Merger
from semlink.nodes.sealing import Opened, SealedChannel, SealedReceiver
from semlink.nodes.security import node_security
from semlink.nodes.threads import use_threads
from semlink.nodes.transport import (
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
from semlink.receiver.node import PointReport, ReceiverStage
from semlink.results.keys import write_points
from semlink.results.writer import ResultsWriter
from semlink.scenario.loading import dump_scenario
from semlink.scenario.schema import NetworkSpec, Scenario, ScenarioError
from semlink.study.components import check_points, work_cache
from semlink.study.frames import resolve
from semlink.study.stages import make_channel, make_receiver, make_transmitter
from semlink.study.study import Study
from semlink.study.trials import RUN_ID_ENV, RUN_ID_FILE_ENV, given_run_id, run_id, share_count, share_of
from semlink.wire import Sealer, WireError, run_keys
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


def transmitter_node(study: Study, only: set[int] | None = None, share: int | None = None) -> int:
    """Send every point's frames to the channel; returns the number of messages sent.

    The socket connects before the codecs and segmenters load, so the channel sees its peer at
    once; each point's codec is built when its first frame is coded. With vehicles spread over
    processes (``vehicles.per_process``), ``share`` says which vehicles this one sends (None: all,
    for a scenario that does not spread them).
    """
    scenario = study.scenario
    threads = use_threads(scenario.compute_threads)
    net, ends, stop = scenario.network, node_endpoints(scenario.network), StopFlag().install()
    keys = run_keys(node_run_id(scenario, ends, "transmitter"))  # before any socket: a refusal ends it in one line
    LOG.info("transmitter started: pid %d, %d threads; sending to %s", os.getpid(), threads, ends.channel_connect)
    shares = share_count(scenario)
    if shares > 1 and share is None:
        raise ValueError(
            f"vehicles.per_process spreads the vehicles over {shares} transmitters: give each --share (0-{shares - 1})"
        )
    if shares > 1:
        LOG.info("sending the vehicles of share %s of %d", share, shares)
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
        stage = make_transmitter(study, keys.run_id, only, cache, share if shares > 1 else None)
        sealer = Sealer(keys.transmitter, share or 0)
        for parts in stage.messages():
            if not send(sock, parts, sealer, watch, stop, waits(net)):
                break
            sent += 1
        else:
            # a share that ends early waits for the others without a warning: the channel holds its end
            finish(watch, stop, net, "transmitter", warn=shares == 1)
    finally:
        say_work("transmitter", cache.stats)
        watch.close()
        sock.close(linger=0)  # the peer left (it read everything) or the run failed: nothing to wait for
        security.close()
        context.term()
    return sent


def channel_node(study: Study, pending: set[int] | None = None) -> dict[str, int]:
    """Relay messages from the transmitter to the receiver through each point's channel; returns counters.

    With vehicles spread over several transmitter processes, their messages are put back in the
    run's order first (:class:`~semlink.nodes.merging.Merger`; ``pending``: the points they send,
    None for all).
    """
    scenario = study.scenario
    threads = use_threads(scenario.compute_threads)
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
    keys = run_keys(node_run_id(scenario, ends, "channel"))
    stage = make_channel(study, keys.run_id)
    shares = share_count(scenario)
    merger: Merger[Opened] | None = None
    if shares > 1:
        owners = {trial.index: share_of(scenario, trial) for trial in study.trials(pending)}
        merger = Merger(owners, shares)
        LOG.info("ordering the messages of %d transmitters (vehicles.per_process)", shares)
    link = SealedChannel(stage, keys, merger)
    stats = WorkStats()
    try:
        security.server(inbound)
        security.client(outbound)
        bind(inbound, ends.channel_bind, "channel")
        connect(outbound, ends.receiver_connect, "channel")
        announce_ready("channel")
        while parts := receive(inbound, sender, stop, waits(net)):
            with stats.timed("channel"):
                out = relay(link, parts)
            if stage.heard_run:
                sender.trust()
            if not all(send_message(outbound, message, receiver, stop, waits(net)) for message in out):
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


def relay(link: SealedChannel, parts: list[bytes]) -> list[bytes]:
    """The channel's sealed socket messages for ``parts`` (a message too large to pack is a one-line
    :class:`PeerError`)."""
    try:
        return link.relay(parts)
    except WireError as error:
        raise PeerError(f"the channel cannot forward a frame: {error}; lower the rate or the frame size") from None


def receiver_node(study: Study, out: Path, progress: bool = False) -> dict[str, int]:
    """Receive, reassemble, decode and score until ``end``; write results to ``out``; returns counters.

    Points already in ``out/results.csv`` are not scored again (their packets are counted and dropped).
    """
    scenario = study.scenario
    threads = use_threads(scenario.compute_threads)
    net, ends, stop = scenario.network, node_endpoints(scenario.network), StopFlag().install()
    LOG.info(
        "receiver started: pid %d, %d threads; listening on %s; results in %s",
        os.getpid(),
        threads,
        ends.receiver_bind,
        out,
    )
    keys = run_keys(node_run_id(scenario, ends, "receiver"))
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
        stage = receiver_stage(study, out, progress, keys.run_id)
        link = SealedReceiver(stage, keys)
        counters, stats = stage.counters, stage.cache.stats
        while not stage.finished and (parts := receive(inbound, watch, stop, waits(net))):
            link.handle(parts)
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


def receiver_stage(study: Study, out: Path, progress: bool, run: int) -> ReceiverStage:
    """The receiver's stage of run ``run``, writing each finished point to ``out``."""
    scenario = study.scenario
    resolved = resolve(scenario, study.sources.of(study.points[0]))
    metrics = build_metrics(scenario.metrics, study.sources.of(study.points[0]).label_set)
    writer = ResultsWriter(out, resolved, study.points, metrics)
    dump_scenario(resolved, out / "scenario.yaml")
    write_points(out, resolved, study.points)
    on_point = reporter(writer, progress)
    cache = work_cache(scenario, out)
    stage = make_receiver(study, metrics, on_point, run, writer.done_keys(), cache)
    if progress:

        def on_frame(point: int, frame: int) -> None:
            hits, lookups = cache.stats.hit_counts()
            tell_parent({"point": point, "frame": frame, "hits": hits, "lookups": lookups})

        stage.on_frame = on_frame
    return stage


def node_study(scenario: Scenario, origin: str, role: str) -> Study:
    """The study of a node started by hand (or by compose) from a scenario file: the sweep as the
    file gives it, every codec and channel checked; the channel never opens frames."""
    if role == "channel":
        return Study(scenario, origin, check_points(scenario, origin))
    return Study.build(scenario, origin, resolve_frames=False)


def node_run_id(scenario: Scenario, ends: Endpoints, role: str) -> int:
    """The run's secret of node ``role`` (:func:`~semlink.study.trials.run_id`), from which its id on
    the wire and the keys of its seals derive (:func:`~semlink.wire.run_keys`).

    Without one in the environment the id is derived from the scenario and guessable, so a
    node that binds or connects beyond this host with CURVE off refuses to start: anyone who
    reaches its port could end or feed its run.

    :raises ScenarioError: in one line, naming the address and the fix.
    """
    if given_run_id() is None and scenario.network.security != "curve" and (address := exposed(ends, role)):
        raise ScenarioError(
            f"the {role} uses {address}, beyond this host, with no run secret and network.security off: "
            f"give the three nodes one {RUN_ID_ENV} (e.g. `export {RUN_ID_ENV}=$(python -c "
            f"'import semlink.wire as w; print(w.new_run_id())')`) or a file in {RUN_ID_FILE_ENV}, "
            "or set network.security: curve"
        )
    return run_id(scenario)


def waits(network: NetworkSpec) -> Waits:
    """The scenario's waits on peers."""
    return Waits(network.peer_timeout_s, network.stall_timeout_s)


def finish(watch: PeerWatch, stop: StopFlag, network: NetworkSpec, role: str, warn: bool = True) -> None:
    """After the run's last message: wait for the peer to read it and leave (see
    :func:`~semlink.nodes.transport.wait_until_peer_leaves`); say so if it never does (``warn``)."""
    if not wait_until_peer_leaves(watch, stop, waits(network)) and not stop.stopped and warn:
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
