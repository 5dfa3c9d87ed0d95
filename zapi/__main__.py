"""``python -m zapi``: the command line."""

import sys

from zapi.cli import main

sys.exit(main())
