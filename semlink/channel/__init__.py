"""Packet-level channel models and netem-like impairments.

Importing this package registers the models in :data:`CHANNELS`: ``ideal``, ``bernoulli``,
``gilbert_elliott``, ``bsc`` and ``trace`` (packet level), ``awgn``, ``rayleigh`` and ``tdl`` (the
radio at link level, Sionna's 5G LDPC and QAM), ``phy`` (the radio by BLER tables) and ``cell``
(many vehicles sharing one carrier, :mod:`semlink.channel.cell`); build one
by name with :func:`build_channel`. Sionna is imported only when a link-level model first codes.
"""

from semlink.channel.base import (
    CHANNELS,
    CORRUPTED,
    DELIVERED,
    ERASED,
    FATE_DTYPE,
    ChannelModel,
    PacketBatch,
    Transmission,
    build_channel,
)
from semlink.channel.bernoulli import BernoulliChannel
from semlink.channel.bsc import BinarySymmetricChannel
from semlink.channel.cell.model import CellChannel
from semlink.channel.gilbert_elliott import GilbertElliottChannel
from semlink.channel.ideal import IdealChannel
from semlink.channel.impairments import Impairments, Schedule
from semlink.channel.phy.abstraction import PhyAbstraction
from semlink.channel.phy.awgn import AwgnChannel
from semlink.channel.phy.rayleigh import RayleighChannel
from semlink.channel.phy.tdl import TdlChannel
from semlink.channel.trace import TraceChannel

__all__ = [
    "CHANNELS",
    "CORRUPTED",
    "DELIVERED",
    "ERASED",
    "FATE_DTYPE",
    "AwgnChannel",
    "BernoulliChannel",
    "BinarySymmetricChannel",
    "CellChannel",
    "ChannelModel",
    "GilbertElliottChannel",
    "IdealChannel",
    "Impairments",
    "PacketBatch",
    "PhyAbstraction",
    "RayleighChannel",
    "Schedule",
    "TdlChannel",
    "TraceChannel",
    "Transmission",
    "build_channel",
]
