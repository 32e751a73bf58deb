"""What the wire accepts and how it says no: :class:`Limits` and :class:`WireError`.

Every other module of :mod:`semlink.wire` raises :class:`WireError` with one of the
:data:`REASONS` and checks sizes against a :class:`Limits`; this module imports nothing else of
the package.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_INT = 2**63 - 1
MAX_CRC = 2**32 - 1
MAX_BODY_DEPTH = 32
SHOWN_CHARS = 40
"""Characters of a bad value quoted in an error message."""

REASONS: dict[str, str] = {
    "not-msgpack": "not exactly one well-formed msgpack object",
    "too-large": "larger than the wire limits allow",
    "bad-shape": "not a packet or control array",
    "bad-type": "a field has the wrong type",
    "bad-value": "a field is out of range",
    "bad-version": "unsupported wire version",
    "bad-crc": "CRC-32 mismatch",
    "bad-control": "a control message whose fields are not those of its kind",
    "bad-batch": "a socket message that is not one msgpack array of byte strings",
    "multipart": "a socket message of several ZeroMQ parts (semlink sends one part a message)",
    "too-many-parts": "packets of one socket message beyond the cap, skipped unread",
    "unsealed": "a socket message without a node's seal (sequence number and MAC), or of a kind not taken there",
    "bad-mac": "a sealed socket message whose MAC does not verify: altered, or not sealed with this run's key",
    "replay": "a sealed socket message whose sequence number was already accepted (a copy)",
    "stale": "a sealed socket message older than one already accepted (reordered or delayed)",
    "bad-share": "a sealed socket message from a transmitter share the scenario does not have (vehicles.per_process)",
    "after-end": "a sealed socket message from a transmitter share that had already ended (a share started twice)",
    "wrong-share": "a unit sent by a transmitter share it is not of (the nodes disagree on vehicles.per_process)",
}


class WireError(ValueError):
    """Bytes or a message that the wire format rejects.

    :param reason: a short token, one of :data:`REASONS`.
    :param detail: what exactly was wrong (one line).
    """

    reason: str
    detail: str

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown wire error reason {reason!r}; known: {', '.join(REASONS)}")
        self.reason = reason
        self.detail = " ".join(detail.split())
        suffix = f" ({self.detail})" if self.detail else ""
        super().__init__(f"{reason}: {REASONS[reason]}{suffix}")

    def __reduce__(self) -> tuple[type[WireError], tuple[str, str]]:
        """Pickle as ``(reason, detail)`` so the error crosses process boundaries."""
        return type(self), (self.reason, self.detail)


@dataclass(frozen=True)
class Limits:
    """Upper bounds that :func:`~semlink.wire.format.decode` enforces (and
    :func:`~semlink.wire.format.encode` checks before sending).

    :param max_message_bytes: whole encoded message.
    :param max_payload: packet payload bytes.
    :param max_stream_name: characters of a stream name.
    :param max_frame: largest frame index.
    :param max_point: largest point index.
    :param max_chunks: ``chunk_first + chunk_count`` at most this.
    :param max_frags: fragments of one chunk.
    :param max_control_bytes: encoded size of a control message's body.
    """

    max_message_bytes: int = 70_000
    max_payload: int = 65_536
    max_stream_name: int = 16
    max_frame: int = 2**31 - 1
    max_point: int = 2**31 - 1
    max_chunks: int = 65_535
    max_frags: int = 4_096
    max_control_bytes: int = 65_536


DEFAULT_LIMITS = Limits()


def check_message_size(data: bytes, limits: Limits) -> None:
    """Raise ``too-large`` if ``data`` is longer than ``limits`` allow for one message."""
    if len(data) > limits.max_message_bytes:
        raise WireError("too-large", f"message of {len(data)} bytes > {limits.max_message_bytes}")


def show_value(value: object) -> str:
    """A short printable rendering of ``value`` for error messages."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."
