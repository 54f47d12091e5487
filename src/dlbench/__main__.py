"""``python -m dlbench``: the same as the ``bench`` command."""

import sys

from dlbench.bench.console import main

sys.exit(main())
