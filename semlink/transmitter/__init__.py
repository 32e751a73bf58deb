"""The transmitter node: frame -> streams -> packets -> socket."""
