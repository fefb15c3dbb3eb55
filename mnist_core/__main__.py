"""``python -m mnist_core``: see :mod:`mnist_core.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
