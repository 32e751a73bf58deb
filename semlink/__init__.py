"""semlink: a networked semantic-communication simulator."""

__version__ = "0.1.0"
