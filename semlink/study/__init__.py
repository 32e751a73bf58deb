"""The study: a resolved scenario with its frames, components, points and trials, built once per
run and handed to an executor (``study``); the frame sources (``frames``), the codec and
segmenter factories (``components``), trials and seeds (``trials``), the stages built from them
(``stages``) and units of points (``units``)."""
