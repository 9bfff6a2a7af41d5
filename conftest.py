"""Root pytest set-up shared by unit tests and nbval: static widgets, headless plots.

nbval starts each notebook's kernel with this process's environment, so the
variables set here reach the notebooks too.
"""

import os

os.environ.setdefault("SRC_NO_WIDGETS", "1")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
