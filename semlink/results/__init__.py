"""Results of a run: the writer of ``results.csv`` and ``frames.jsonl`` (``writer``), the 95 %
intervals (``intervals``) and reading rows back (``rows``)."""
