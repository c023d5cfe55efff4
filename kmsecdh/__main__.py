"""``python -m kmsecdh``: the command line (see ``kmsecdh.cli``)."""

import sys

from kmsecdh.cli import main

sys.exit(main())
