"""The three nodes as socket loops (one process each) and the same stages wired in one process."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import zmq

from semlink.receiver.node import PointReport
from semlink.sim.plans import (
    check_points,
    make_channel,
    make_receiver,
    make_transmitter,
    open_frames,
    resolve,
    run_id,
)
from semlink.sim.results import ResultsWriter
from semlink.sim.scenario import Scenario
from semlink.transport import StopFlag, bind, connect, make_socket, receive, send, wait_connected


def transmitter_node(scenario: Scenario, origin: str, only: set[int] | None = None) -> int:
    """Send every point's frames to the channel; returns the number of messages sent."""
    torch.set_num_threads(1)  # leave the cores to the receiver's segmenter
    source = open_frames(scenario)
    sweep = check_points(scenario, origin)
    resolved = resolve(scenario, source)
    stage = make_transmitter(resolved, sweep, source, run_id(resolved), only)
    net, stop = scenario.network, StopFlag().install()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = make_socket(context, zmq.PUSH, net.hwm, round(net.peer_timeout_s * 1000))
    sent = 0
    try:
        connect(sock, net.channel_connect, "transmitter")
        if not wait_connected(sock, stop, net.peer_timeout_s, f"the channel at {net.channel_connect}"):
            return sent
        for parts in stage.messages():
            if not send(sock, parts, stop, net.peer_timeout_s, f"the channel at {net.channel_connect}"):
                break
            sent += 1
    finally:
        sock.close()
        context.term()
    return sent


def channel_node(scenario: Scenario, origin: str) -> dict[str, int]:
    """Relay messages from the transmitter to the receiver through each point's channel; returns counters."""
    torch.set_num_threads(1)
    stage = make_channel(scenario, check_points(scenario, origin))
    net, stop = scenario.network, StopFlag().install()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    inbound = make_socket(context, zmq.PULL, net.hwm, 0)
    outbound = make_socket(context, zmq.PUSH, net.hwm, round(net.peer_timeout_s * 1000))
    try:
        bind(inbound, net.channel_bind, "channel")
        connect(outbound, net.receiver_connect, "channel")
        if not wait_connected(outbound, stop, net.peer_timeout_s, f"the receiver at {net.receiver_connect}"):
            return dict(stage.counters)
        while parts := receive(inbound, stop, net.peer_timeout_s, f"the transmitter (bound {net.channel_bind})"):
            out = stage.process(parts)
            if out and not send(outbound, out, stop, net.peer_timeout_s, f"the receiver at {net.receiver_connect}"):
                break
            if stage.ended:
                break
    finally:
        inbound.close()
        outbound.close()
        context.term()
    return dict(stage.counters)


def receiver_node(scenario: Scenario, origin: str, out: Path, progress: bool = False) -> dict[str, int]:
    """Receive, reassemble, decode and score until ``end``; write results to ``out``; returns counters."""
    source = open_frames(scenario)
    resolved = resolve(scenario, source)
    sweep = check_points(resolved, origin)
    writer = ResultsWriter(out, resolved, sweep, source.label_set)
    stage = make_receiver(resolved, sweep, source, reporter(writer, progress))
    if progress:
        stage.on_frame = lambda point, frame: print(json.dumps({"point": point, "frame": frame}), flush=True)
    net, stop = scenario.network, StopFlag().install()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    inbound = make_socket(context, zmq.PULL, net.hwm, 0)
    try:
        bind(inbound, net.receiver_bind, "receiver")
        while not stage.finished and (
            parts := receive(inbound, stop, net.peer_timeout_s, f"the channel (bound {net.receiver_bind})")
        ):
            stage.handle(parts)
    finally:
        inbound.close()
        context.term()
    return dict(stage.counters)


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
    source = open_frames(scenario)
    resolved = resolve(scenario, source)
    sweep = check_points(resolved, origin)
    writer = ResultsWriter(out, resolved, sweep, source.label_set)
    transmitter = make_transmitter(resolved, sweep, source, run_id(resolved), only)
    channel = make_channel(resolved, sweep)
    receiver = make_receiver(resolved, sweep, source, reporter(writer, False))
    if on_frame is not None:
        receiver.on_frame = on_frame
    for parts in transmitter.messages():
        forwarded = channel.process(parts)
        if forwarded:
            receiver.handle(forwarded)
    return dict(receiver.counters)


def fail(message: str) -> None:
    """Print a one-line error for a node."""
    print(f"semlink: error: {message}", file=sys.stderr)
