"""Errors shared by the stages."""


class StageError(RuntimeError):
    """The stages of a run disagree (they were given different scenarios) or a peer failed."""
