"""``python -m bench``."""

import sys

from dlbench.bench.cli import main

sys.exit(main())
