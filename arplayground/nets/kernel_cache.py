"""Whether numba's on-disk cache already holds a model's compiled kernels.

The first run after installing compiles them (tens of seconds on a slow CPU); later runs load them
from the cache in well under a second. The app asks beforehand so it can say which one is coming.
"""

from __future__ import annotations


def compiled_on_disk(*kernels) -> bool:
    """True when every kernel (a numba dispatcher with cache=True) is compiled in this process
    already or has a current entry in numba's cache (same source, same numba, this CPU); False
    when the next call compiles it. This reads numba's private cache objects: if they change, the
    answer is False, and the app only says "compiling" when it might have loaded."""
    for kernel in kernels:
        if kernel.signatures:
            continue
        try:
            # _load_index() is empty when the source changed since, or another numba wrote it.
            index = kernel._cache._cache_file._load_index()
            magic = kernel.targetctx.codegen().magic_tuple()  # the CPU and its features
            if not any(key[1] == magic for key in index):
                return False
        except Exception:
            return False
    return True
