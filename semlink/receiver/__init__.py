"""The receiver node: socket -> packets -> streams -> reconstruction -> evaluation."""
