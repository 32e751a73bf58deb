"""Procedural driving scenes (the ``synthetic`` frame source)."""

from semlink.data.synthetic.source import SyntheticDriving

__all__ = ["SyntheticDriving"]
