"""``python -m semlink.cli``."""

import sys

from semlink.cli import main

sys.exit(main())
