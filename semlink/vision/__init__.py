"""The segmenter network, its training, and the task metrics."""
