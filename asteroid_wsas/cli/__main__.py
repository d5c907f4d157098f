"""``python -m asteroid_wsas.cli``: the ``asteroid-wsas`` command."""

import sys

from . import main

main(sys.argv[1:])
