"""``python -m restoration``: see :mod:`restoration.cli`."""

import sys

from restoration.cli import main

sys.exit(main())
