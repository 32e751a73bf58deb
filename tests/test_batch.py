"""One socket message a frame: packing, the part cap, broken input, and the size bound at the socket."""

from __future__ import annotations

import msgpack
import pytest
import zmq

from semlink.nodes.transport import MAX_PART_BYTES, make_socket
from semlink.wire import (
    MAX_BATCH_BYTES,
    MAX_BATCH_PARTS,
    WireError,
    pack_parts,
    read_message,
    split_parts,
    unpack_parts,
)


def test_parts_round_trip() -> None:
    parts = [b"", b"a", bytes(range(256)) * 10]
    assert unpack_parts(pack_parts(parts)).parts == parts
    assert read_message([pack_parts(parts)]).skipped == 0


def test_parts_beyond_the_cap_are_skipped_and_counted() -> None:
    batch = unpack_parts(msgpack.packb([b"x"] * 10), max_parts=3)
    assert batch.parts == [b"x"] * 3 and batch.skipped == 7


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01", msgpack.packb([1]), msgpack.packb([b"a"]) + b"z", b"\xdd\xff\xff\xff\xff", msgpack.packb({"a": 1})],
    ids=["empty", "int", "int-item", "trailing", "huge-count", "map"],
)
def test_a_broken_message_is_a_bad_batch(data: bytes) -> None:
    with pytest.raises(WireError) as error:
        unpack_parts(data)
    assert error.value.reason == "bad-batch"


def test_a_multipart_message_is_refused_whole() -> None:
    with pytest.raises(WireError) as error:
        read_message([pack_parts([b"a"]), b"b"])
    assert error.value.reason == "multipart"


@pytest.mark.parametrize("parts", [[b"x"] * (MAX_BATCH_PARTS + 1), [b"x" * MAX_BATCH_BYTES]], ids=["count", "bytes"])
def test_a_frame_too_large_for_one_message_is_refused_before_sending(parts: list[bytes]) -> None:
    with pytest.raises(WireError) as error:
        pack_parts(parts)
    assert error.value.reason == "too-large"


@pytest.mark.parametrize(
    ("parts", "runs"),
    [
        ([b"x"] * (2 * MAX_BATCH_PARTS + 1), 3),
        ([b"y" * 1_000_000] * 9, 3),
        ([b"z" * 60_000] * 200, 3),
        ([b"a", b"b"], 1),
        ([], 1),
    ],
    ids=["count", "big-parts", "bytes", "small", "empty"],
)
def test_a_frame_too_large_for_one_message_is_split_in_order(parts: list[bytes], runs: int) -> None:
    split = split_parts(parts)
    assert len(split) == runs
    assert [part for run in split for part in run] == parts
    for run in split:  # every run is one valid socket message
        assert unpack_parts(pack_parts(run)).parts == run


def test_a_part_too_large_for_any_message_gets_a_run_of_its_own() -> None:
    huge = b"h" * MAX_BATCH_BYTES
    assert split_parts([b"a", huge, b"b"]) == [[b"a"], [huge], [b"b"]]


def test_a_message_above_the_size_bound_is_dropped_by_the_socket_unbuffered() -> None:
    """libzmq reads the size from the message's header and drops the connection, so the oversized
    message is never held; a well-formed one from a new connection still arrives."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pull = make_socket(context, zmq.PULL, hwm=10, linger_ms=0)
    try:
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        for size in (MAX_PART_BYTES + 1, 100):
            push = make_socket(context, zmq.PUSH, hwm=10, linger_ms=2000)
            push.connect(f"tcp://127.0.0.1:{port}")
            push.send(b"\x00" * size)
            push.close()
        assert pull.poll(5000, zmq.POLLIN)
        assert len(pull.recv()) == 100
        assert not pull.poll(200, zmq.POLLIN)
    finally:
        pull.close()
        context.term()
