"""``python -m distillguard.capture.hooks AGENT``: the installed hooks' entry point."""

import sys

from distillguard.capture.hooks.run import main

sys.exit(main(sys.argv[1:]))
