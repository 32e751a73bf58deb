"""Executors: how a study's pending points run (in process, as three processes, on N local
workers, on Ray), each behind one :class:`~semlink.executors.base.Executor` contract."""
