"""Packet-level channel models and netem-like impairments.

Importing this package registers the models in :data:`CHANNELS`: ``ideal``, ``bernoulli``,
``gilbert_elliott``, ``bsc`` and ``trace``; build one by name with :func:`build_channel`.
"""

from semlink.channel.base import (
    CHANNELS,
    CORRUPTED,
    DELIVERED,
    ERASED,
    FATE_DTYPE,
    ChannelModel,
    build_channel,
)
from semlink.channel.bernoulli import BernoulliChannel
from semlink.channel.bsc import BinarySymmetricChannel
from semlink.channel.gilbert_elliott import GilbertElliottChannel
from semlink.channel.ideal import IdealChannel
from semlink.channel.impairments import Impairments, Schedule
from semlink.channel.trace import TraceChannel

__all__ = [
    "CHANNELS",
    "CORRUPTED",
    "DELIVERED",
    "ERASED",
    "FATE_DTYPE",
    "BernoulliChannel",
    "BinarySymmetricChannel",
    "ChannelModel",
    "GilbertElliottChannel",
    "IdealChannel",
    "Impairments",
    "Schedule",
    "TraceChannel",
    "build_channel",
]
