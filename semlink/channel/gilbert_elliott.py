"""Bursty erasures from a two-state Markov chain, with the semantics of netem's ``loss gemodel``.

The chain has a Good and a Bad state. For each packet, in order: the packet is lost with the
loss probability of the current state, then the state moves on (Good -> Bad with probability
``p``, Bad -> Good with probability ``r``). This is what netem's ``gemodel p r 1-h 1-k`` does:

* ``one_h`` is netem's ``1-h``: the loss probability **in the Bad state** (default 1.0);
* ``one_k`` is netem's ``1-k``: the loss probability **in the Good state** (default 0.0).

The stationary probability of Bad is ``pi_B = p / (p + r)``; the long-run loss rate is
``(1 - pi_B) * one_k + pi_B * one_h``. With ``one_h = 1, one_k = 0`` (the simple Gilbert model)
losses come in bursts of mean length ``1 / r``; that model can also be asked for by its loss rate
and mean burst length (``loss``, ``burst``), which set ``r = 1 / burst`` and
``p = loss * r / (1 - loss)``.

Unlike netem, which always starts in Good, the chain starts in a state drawn from its stationary
distribution at the first call after construction or :meth:`GilbertElliottChannel.reset`, so
every frame of a sweep point, the first included, sees the stationary loss rate.
"""

from __future__ import annotations

import numpy as np

from semlink.channel.base import (
    CHANNELS,
    DELIVERED,
    ERASED,
    FATE_DTYPE,
    ChannelModel,
    check_number,
    check_probability,
)

NAME = "gilbert_elliott"
GOOD = 0
BAD = 1


def _from_p_r(p: float | None, r: float | None) -> tuple[float, float]:
    """Checked ``(p, r)``: ``p`` defaults to 0 (no loss bursts), ``r`` to ``1 - p``."""
    if p is None:
        if r is not None:
            raise ValueError(f"{NAME}: r={r!r} needs p (the Good -> Bad probability)")
        return 0.0, 1.0
    p = check_probability(NAME, "p", p)
    r = 1.0 - p if r is None else check_probability(NAME, "r", r)
    if p == 0.0 and r == 0.0:
        raise ValueError(f"{NAME}: p=0 and r=0 freeze the chain in its first state; make p or r > 0")
    return p, r


def _from_loss_burst(loss: float | None, burst: float | None, one_h: float, one_k: float) -> tuple[float, float]:
    """``(p, r)`` of the simple Gilbert model with loss rate ``loss`` and mean burst length ``burst``."""
    if loss is None or burst is None:
        given, absent = ("loss", "burst") if burst is None else ("burst", "loss")
        raise ValueError(f"{NAME}: {given} needs {absent} (give both, or p and r instead)")
    if one_h != 1.0 or one_k != 0.0:
        raise ValueError(
            f"{NAME}: loss/burst describe the simple Gilbert model (one_h=1, one_k=0), "
            f"got one_h={one_h!r}, one_k={one_k!r}; give p and r instead"
        )
    loss = check_number(NAME, "loss", loss, 0.0, 1.0, high_open=True)
    burst = check_number(NAME, "burst", burst, 1.0)
    r = 1.0 / burst
    p = loss * r / (1.0 - loss)
    if p > 1.0 + 1e-12:
        most = burst / (burst + 1.0)
        raise ValueError(f"{NAME}: loss={loss!r} with burst={burst!r} needs p={p:.3g} > 1; loss must be <= {most:.4g}")
    return min(p, 1.0), r


def _transitions(
    p: float | None, r: float | None, loss: float | None, burst: float | None, one_h: float, one_k: float
) -> tuple[float, float]:
    """``(p, r)`` from either form of the parameters, refusing a mix of both."""
    if loss is None and burst is None:
        return _from_p_r(p, r)
    if p is not None or r is not None:
        raise ValueError(f"{NAME}: give either p/r or loss/burst, not both")
    return _from_loss_burst(loss, burst, one_h, one_k)


def state_run(start: int, to_bad: np.ndarray, to_good: np.ndarray) -> np.ndarray:
    """The chain's states over a batch, without a Python loop.

    Step ``t`` maps the state through one of four maps: keep (neither move drawn), swap (both),
    set Bad (``to_bad`` only) or set Good (``to_good`` only). The state after step ``t`` is the
    value set at the last "set" step up to ``t`` (or ``start``), flipped by the parity of the
    swaps since.

    :param start: the state before the first packet (:data:`GOOD` or :data:`BAD`).
    :param to_bad: [N] bool: the step would move Good -> Bad.
    :param to_good: [N] bool: the step would move Bad -> Good.
    :return: [N + 1] int8 states: entry ``t`` is the state of packet ``t``; the last one follows the batch.
    """
    steps = np.arange(to_bad.size)
    sets = to_bad != to_good
    swaps = np.cumsum(to_bad & to_good)
    last_set = np.maximum.accumulate(np.where(sets, steps, -1))
    anchor = np.maximum(last_set, 0)
    has_set = last_set >= 0
    value = np.where(has_set, to_bad[anchor], start).astype(np.int64)
    swaps_since = swaps - np.where(has_set, swaps[anchor], 0)
    after = value ^ (swaps_since & 1)
    return np.concatenate(([start], after)).astype(np.int8)


@CHANNELS.register(NAME)
class GilbertElliottChannel(ChannelModel):
    """Gilbert-Elliott bursty erasure (netem ``gemodel`` semantics; see the module docstring).

    Two uniforms are drawn per packet (the transition, then the loss) whatever the parameters,
    plus one at the first call after a reset (the starting state). Uniforms from one generator
    run on across calls, so splitting a batch into several calls gives the identical fates.

    :param p: Good -> Bad probability per packet (default 0 when no form is given).
    :param r: Bad -> Good probability per packet (default ``1 - p``).
    :param one_h: netem's ``1-h``: loss probability in Bad, in [0, 1] (default 1).
    :param one_k: netem's ``1-k``: loss probability in Good, in [0, 1] (default 0).
    :param loss: instead of ``p``/``r``: loss rate of the simple Gilbert model, in [0, 1).
    :param burst: with ``loss``: mean burst length in packets, >= 1 (so ``loss <= burst / (burst + 1)``).
    """

    name = NAME

    def __init__(
        self,
        p: float | None = None,
        r: float | None = None,
        one_h: float = 1.0,
        one_k: float = 0.0,
        loss: float | None = None,
        burst: float | None = None,
    ) -> None:
        self.one_h = check_probability(NAME, "one_h", one_h)
        self.one_k = check_probability(NAME, "one_k", one_k)
        self.p, self.r = _transitions(p, r, loss, burst, self.one_h, self.one_k)
        self._state: int | None = None

    @property
    def stationary_bad(self) -> float:
        """Stationary probability of the Bad state, ``p / (p + r)``."""
        return self.p / (self.p + self.r)

    @property
    def stationary_loss(self) -> float:
        """Long-run loss rate, ``(1 - pi_B) * one_k + pi_B * one_h``."""
        bad = self.stationary_bad
        return (1.0 - bad) * self.one_k + bad * self.one_h

    def reset(self) -> None:
        """Forget the state; the next call draws it from the stationary distribution."""
        self._state = None

    def _fates(self, sizes_bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """[N] int8: :data:`ERASED` with the loss probability of each packet's state, else :data:`DELIVERED`."""
        if self._state is None:
            self._state = BAD if rng.random() < self.stationary_bad else GOOD
        uniforms = rng.random((sizes_bits.size, 2))
        move, lose = uniforms[:, 0], uniforms[:, 1]
        states = state_run(self._state, move < self.p, move < self.r)
        self._state = int(states[-1])
        lost = lose < np.where(states[:-1] == BAD, self.one_h, self.one_k)
        return np.where(lost, ERASED, DELIVERED).astype(FATE_DTYPE)
