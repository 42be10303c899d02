"""Suite-wide setting: the tests run numba's JIT build of the kernels unless a test asks for
the modules compiled ahead of time itself (``tests/test_aot.py`` points its jobs at folders it
builds). A developer's ``neuroplastic compile`` cache (``~/.cache/neuroplastic/aot``) would
otherwise change which code the suite exercises, and tests that watch the JIT entry points
(``tests/test_kernel_inputs.py``) would see no call."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_EMPTY = tempfile.mkdtemp(prefix="neuroplastic-no-aot-")
os.environ["NEUROPLASTIC_AOT_DIR"] = _EMPTY
atexit.register(shutil.rmtree, _EMPTY, ignore_errors=True)
