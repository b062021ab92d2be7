"""``python -m sims``: the ``gfs`` command line (``python -m sims list``, ``python -m sims run all --quick``)."""

import sys

from sims.cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
