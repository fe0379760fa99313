"""``python -m lab.experiments.loadgenbench``: the same as ``python -m lab bench-loadgen``."""

import sys

from lab.experiments.loadgenbench.command import main

sys.exit(main())
