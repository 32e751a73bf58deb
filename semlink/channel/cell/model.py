"""The ``cell`` channel model: the settings of one carrier that every vehicle of a point shares.

Unlike the other models it is not applied frame by frame: the channel stage collects the packets
of all of a realisation's vehicles, then sends them through one :class:`~semlink.channel.cell.medium.Medium`
at once (:mod:`semlink.channel.cell.group`), so a scenario that names it needs a ``vehicles:``
section. Its settings are those of the carrier (bandwidth, numerology, HARQ, link adaptation),
the uplink budget (:class:`~semlink.channel.cell.budget.LinkBudget`), the fast fading of each
vehicle and the scheduler that grants the resource blocks (``scheduler``, an axis like any).

Example::

    channel: {model: cell, scheduler: [round_robin, semantic], bandwidth_mhz: 20, scs_khz: 30}
"""

from __future__ import annotations

import functools

import numpy as np

from semlink.channel.base import CHANNELS, ChannelModel, check_number
from semlink.channel.cell.budget import LinkBudget
from semlink.channel.cell.medium import LinkAdaptation, Medium, SnrFunction
from semlink.channel.cell.schedulers import SCHEDULERS
from semlink.channel.phy.numerology import Numerology
from semlink.channel.phy.tables import BlerModel
from semlink.registry import UnknownComponentError

FADINGS = ("rayleigh", "none")


@functools.cache
def adaptation_at(target_bler: float) -> LinkAdaptation:
    """The link adaptation of semlink's BLER tables at ``target_bler`` (the tables load once per process)."""
    return LinkAdaptation(BlerModel(), target_bler)


@CHANNELS.register("cell")
class CellChannel(ChannelModel):
    """One carrier shared by a point's vehicles (see the module docstring).

    :param scheduler: who gets the resource blocks each slot (``round_robin``,
        ``proportional_fair``, ``deadline``, ``semantic``, ``mode2`` or ``module:Class``).
    :param bandwidth_mhz: the carrier's bandwidth. :param scs_khz: its subcarrier spacing.
    :param carrier_ghz: carrier frequency (pathloss and Doppler).
    :param harq_max_tx: transmissions per packet at most. :param harq_rtt_ms: wait before a resend.
    :param target_bler: the BLER link adaptation aims at (the MCS each slot's SNR supports).
    :param max_power_dbm: a vehicle's transmit power at most. :param p0_dbm: power control's
        target received power per resource block. :param alpha: its pathloss compensation.
    :param noise_figure_db: the receiver's. :param shadowing_db: log-normal shadowing's sigma.
    :param fading: ``rayleigh`` (Clarke's model at each vehicle's own speed) or ``none``.
    :param prbs: resource blocks the vehicles' uplink gets (a slice of the carrier reserved for
        the service); None: every block of the carrier.
    """

    name = "cell"

    def __init__(
        self,
        scheduler: str = "round_robin",
        bandwidth_mhz: float = 20.0,
        scs_khz: int = 30,
        carrier_ghz: float = 5.9,
        harq_max_tx: int = 4,
        harq_rtt_ms: float = 1.0,
        target_bler: float = 0.1,
        max_power_dbm: float = 23.0,
        p0_dbm: float = -90.0,
        alpha: float = 1.0,
        noise_figure_db: float = 9.0,
        shadowing_db: float = 4.0,
        fading: str = "rayleigh",
        prbs: int | None = None,
    ) -> None:
        try:
            self.scheduler_class = SCHEDULERS.get(str(scheduler))
        except UnknownComponentError as error:
            raise ValueError(f"cell: {error}") from None
        self.scheduler = str(scheduler)
        self.numerology = Numerology(float(bandwidth_mhz), int(scs_khz), prbs)
        self.harq_max_tx = int(check_number(self.name, "harq_max_tx", harq_max_tx, 1, 32))
        self.harq_rtt_us = 1000.0 * check_number(self.name, "harq_rtt_ms", harq_rtt_ms, 0.0, 100.0)
        self.target_bler = check_number(self.name, "target_bler", target_bler, 0.0, 0.5, low_open=True)
        check_number(self.name, "max_power_dbm", max_power_dbm, -40.0, 40.0)
        check_number(self.name, "p0_dbm", p0_dbm, -150.0, 0.0)
        check_number(self.name, "noise_figure_db", noise_figure_db, 0.0, 30.0)
        self.budget = LinkBudget(
            carrier_ghz=float(carrier_ghz),
            subcarrier_khz=float(scs_khz),
            max_power_dbm=float(max_power_dbm),
            p0_dbm=float(p0_dbm),
            alpha=float(alpha),
            noise_figure_db=float(noise_figure_db),
            shadowing_db=float(shadowing_db),
        )
        if fading not in FADINGS:
            raise ValueError(f"cell: fading={fading!r} must be one of {', '.join(FADINGS)}")
        self.fading = fading

    def medium(self, vehicles: int, snr_db: SnrFunction) -> Medium:
        """The carrier for ``vehicles`` vehicles whose SNRs ``snr_db`` gives, under a fresh scheduler."""
        return Medium(
            self.numerology,
            self.scheduler_class(),
            vehicles,
            snr_db,
            self.harq_max_tx,
            self.harq_rtt_us,
            adaptation_at(self.target_bler),
        )

    def _fates(self, sizes_bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Never called: a cell's packets go through :meth:`medium` all at once."""
        raise ValueError("cell: the shared cell carries many vehicles at once; give the scenario a vehicles: section")
