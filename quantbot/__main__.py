"""`python -m quantbot` is the same as the `quantbot` console script."""

import sys

from quantbot.cli import main

if __name__ == "__main__":
    sys.exit(main())
