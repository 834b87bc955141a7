"""`python -m bot` is `unionbot`."""

import sys

from bot.cli import main

sys.exit(main())
