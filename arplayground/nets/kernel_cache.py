"""Whether numba's on-disk cache already holds a model's compiled kernels.

The first run after installing compiles them (tens of seconds on a slow CPU); later runs load them
from the cache in well under a second. The app asks beforehand so it can say which one is coming.
"""

from __future__ import annotations

import os


def compiled_on_disk(*kernels) -> bool:
    """True when every kernel (a numba dispatcher with cache=True) is compiled in this process
    already or has an index in numba's cache; False when the next call compiles it (or when this
    numba keeps its cache where we cannot see: then we only risk saying "compiling" needlessly)."""
    for kernel in kernels:
        if kernel.signatures:
            continue
        cache_file = getattr(getattr(kernel, "_cache", None), "_cache_file", None)
        index = getattr(cache_file, "_index_path", None)
        if index is None or not os.path.exists(index):
            return False
    return True
