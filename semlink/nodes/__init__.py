"""The three nodes as processes: their socket loops (``loops``), ZeroMQ plumbing (``transport``),
endpoints, liveness, CURVE security and thread budgets. ``python -m semlink.nodes ROLE`` starts one."""
