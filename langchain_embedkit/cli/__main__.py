"""``python -m langchain_embedkit.cli``: the same as the ``embedkit`` console script."""

import sys

from langchain_embedkit.cli import main

sys.exit(main())
