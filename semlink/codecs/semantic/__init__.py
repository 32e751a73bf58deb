"""Semantic codecs: a segmentation map, masked VQ tokens and a low-res image, one decoder network."""
