"""The three nodes as socket loops (one process each) and the same stages wired in one process.

Every node computes the sweep from the scenario exactly as it loaded it, so all stages agree on
the points' keys; the resolved scenario (frame size filled in) only sizes the results.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import zmq

from semlink.metrics import build_metrics
from semlink.receiver.node import PointReport
from semlink.sim.endpoints import node_endpoints
from semlink.sim.plans import (
    Sources,
    check_points,
    make_channel,
    make_receiver,
    make_transmitter,
    open_frames,
    resolve,
    run_id,
)
from semlink.sim.results import ResultsWriter
from semlink.sim.scenario import Scenario, dump_scenario
from semlink.sim.transport import COUNTERS_PREFIX, StopFlag, bind, connect_and_wait, make_socket, receive, send
from semlink.wire import new_run_id


def transmitter_node(scenario: Scenario, origin: str, only: set[int] | None = None) -> int:
    """Send every point's frames to the channel; returns the number of messages sent."""
    torch.set_num_threads(1)  # leave the cores to the receiver's segmenter
    sources = Sources(scenario)
    sweep = check_points(scenario, origin, open_frames(scenario).label_set.name)
    stage = make_transmitter(scenario, sweep, sources, run_id(scenario), only)
    net, ends, stop = scenario.network, node_endpoints(scenario.network), StopFlag().install()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = make_socket(context, zmq.PUSH, net.hwm, round(net.peer_timeout_s * 1000))
    sent, delivered = 0, False
    try:
        peer = f"the channel at {ends.channel_connect}"
        if not connect_and_wait(sock, ends.channel_connect, "transmitter", stop, net.peer_timeout_s, peer):
            return sent
        for parts in stage.messages():
            if not send(sock, parts, stop, net.peer_timeout_s, peer):
                break
            sent += 1
        delivered = not stop.stopped
    finally:
        sock.close(linger=None if delivered else 0)  # stopped or failed: do not wait on a gone peer
        context.term()
    return sent


def channel_node(scenario: Scenario, origin: str) -> dict[str, int]:
    """Relay messages from the transmitter to the receiver through each point's channel; returns counters."""
    torch.set_num_threads(1)
    stage = make_channel(scenario, check_points(scenario, origin), run_id(scenario))
    net, ends, stop = scenario.network, node_endpoints(scenario.network), StopFlag().install()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    inbound = make_socket(context, zmq.PULL, net.hwm, 0)
    outbound = make_socket(context, zmq.PUSH, net.hwm, round(net.peer_timeout_s * 1000))
    delivered = False
    try:
        bind(inbound, ends.channel_bind, "channel")
        peer = f"the receiver at {ends.receiver_connect}"
        if not connect_and_wait(outbound, ends.receiver_connect, "channel", stop, net.peer_timeout_s, peer):
            return dict(stage.counters)
        while parts := receive(inbound, stop, net.peer_timeout_s, f"the transmitter (bound {ends.channel_bind})"):
            out = stage.process_message(parts)
            if out and not send(outbound, out, stop, net.peer_timeout_s, peer):
                break
            if stage.ended:
                break
        delivered = stage.ended and not stop.stopped
    finally:
        say_counters("channel", stage.counters)
        inbound.close()
        outbound.close(linger=None if delivered else 0)
        context.term()
    return dict(stage.counters)


def receiver_node(scenario: Scenario, origin: str, out: Path, progress: bool = False) -> dict[str, int]:
    """Receive, reassemble, decode and score until ``end``; write results to ``out``; returns counters.

    Points already in ``out/results.csv`` are not scored again (their packets are counted and dropped).
    """
    sources = Sources(scenario)
    source = open_frames(scenario)
    resolved = resolve(scenario, source)
    sweep = check_points(scenario, origin, source.label_set.name)
    metrics = build_metrics(scenario.metrics, source.label_set)
    writer = ResultsWriter(out, resolved, sweep, metrics)
    dump_scenario(resolved, out / "scenario.yaml")
    on_point = reporter(writer, progress)
    stage = make_receiver(scenario, sweep, sources, metrics, on_point, run_id(scenario), skip=writer.done_keys())
    if progress:
        stage.on_frame = lambda point, frame: print(json.dumps({"point": point, "frame": frame}), flush=True)
    net, ends, stop = scenario.network, node_endpoints(scenario.network), StopFlag().install()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    inbound = make_socket(context, zmq.PULL, net.hwm, 0)
    try:
        bind(inbound, ends.receiver_bind, "receiver")
        waiting_for = f"the channel (bound {ends.receiver_bind})"
        while not stage.finished and (parts := receive(inbound, stop, net.peer_timeout_s, waiting_for)):
            stage.handle_message(parts)
    finally:
        say_counters("receiver", stage.counters)
        inbound.close()
        context.term()
    return dict(stage.counters)


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
        if progress:
            print(json.dumps({"point_done": report.index}), flush=True)

    return on_point


def inproc_run(
    scenario: Scenario,
    origin: str,
    out: Path,
    only: set[int] | None,
    on_frame: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """The same stages called directly in one process; returns the receiver's counters."""
    sources = Sources(scenario)
    source = open_frames(scenario)
    resolved = resolve(scenario, source)
    sweep = check_points(scenario, origin, source.label_set.name)
    metrics = build_metrics(scenario.metrics, source.label_set)
    writer = ResultsWriter(out, resolved, sweep, metrics)
    run = new_run_id()
    transmitter = make_transmitter(scenario, sweep, sources, run, only)
    channel = make_channel(scenario, sweep, run)
    receiver = make_receiver(scenario, sweep, sources, metrics, reporter(writer, False), run)
    if on_frame is not None:
        receiver.on_frame = on_frame
    for parts in transmitter.messages():
        forwarded = channel.process(parts)
        if forwarded:
            receiver.handle(forwarded)
    return dict(receiver.counters)
