"""``python -m nnkit.batch submitted/ ...`` (the same as ``nnkit grade submitted/ ...``)."""

import sys

from nnkit.batch.cli import main

sys.exit(main())
