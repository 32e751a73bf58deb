"""``python -m semlink.nodes ROLE STUDY``: one node of a run started by ``semlink run`` (see
:mod:`semlink.nodes.main`)."""

from semlink.nodes.main import main

raise SystemExit(main())
