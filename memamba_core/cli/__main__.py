"""``python -m memamba_core.cli`` (what torchrun starts): the ``memamba`` command."""

import sys

from . import main

sys.exit(main())
