"""`python -m quantbot` is the same as the `quantbot` console script."""

import sys

from quantbot.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
