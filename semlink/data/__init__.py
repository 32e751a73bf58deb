"""Frame sources and their label sets."""

# Importing the source modules registers them in DATASETS.
from semlink.data import camvid as _camvid  # noqa: F401
from semlink.data import cityscapes as _cityscapes  # noqa: F401
from semlink.data import folder as _folder  # noqa: F401
from semlink.data import synthetic as _synthetic  # noqa: F401
from semlink.data.frame import DataError, Frame, FrameSource, parse_size
from semlink.data.labelset import CAMVID, CITYSCAPES, IGNORE_INDEX, LabelSet
from semlink.data.sources import DATASETS, open_source

__all__ = [
    "CAMVID",
    "CITYSCAPES",
    "DATASETS",
    "IGNORE_INDEX",
    "DataError",
    "Frame",
    "FrameSource",
    "LabelSet",
    "open_source",
    "parse_size",
]
