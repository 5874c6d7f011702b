"""numba's on-disk cache of the models' compiled kernels: whether it holds them, and keeping it current.

The first run after installing compiles them (tens of seconds on a slow CPU); later runs load them
from the cache in well under a second. The app asks beforehand so it can say which one is coming.

Every kernel module imports this one before it defines a kernel, so the choice of cache folder
below is made before numba's first @njit(cache=True) looks for one.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

_KERNELS = Path(__file__).resolve().parent


def writable(folder: Path) -> bool:
    """Can numba keep a cache in `folder`? Its own test (numba's _CacheLocator.ensure_cache_path):
    make the folder, then a file in it."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
        return True
    except OSError:
        return False


def user_cache_folder(environ=os.environ) -> Path | None:
    """$XDG_CACHE_HOME/arplayground/numba, else ~/.cache/arplayground/numba; None without a home."""
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, or relative: the XDG spec says to ignore it then
        home = os.path.expanduser("~")
        if not os.path.isabs(home):  # no HOME and no passwd entry: "~" would be the working folder
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "arplayground" / "numba"


def choose_cache_folder(environ=os.environ, package_cache: Path = _KERNELS / "__pycache__",
                        can_write=writable) -> str | None:
    """Point numba at a cache it can write when the one beside the kernels' sources cannot be
    (a read-only install): a per-user folder, else a fresh temporary one, removed at exit (every
    run then compiles again). With neither, numba's cache=True raises at the kernel modules'
    import, and Image and Audio would not work at all. Sets NUMBA_CACHE_DIR in `environ`, which
    the compile in a child process (arplayground.warm_kernels) inherits, so it fills the cache this
    process then loads. A NUMBA_CACHE_DIR already set is the user's choice and is left alone.
    Returns a note for the app to show when the kernels will not be cached, else None."""
    if environ.get("NUMBA_CACHE_DIR") or can_write(package_cache):
        return None
    per_user = user_cache_folder(environ)
    if per_user is not None and can_write(per_user):
        environ["NUMBA_CACHE_DIR"] = str(per_user)
        return None  # cached all the same, in another folder: nothing to tell
    try:
        temporary = tempfile.mkdtemp(prefix="arplayground-numba-")
    except OSError:
        return f"compiled kernels cannot be cached: {package_cache}, {per_user} and the temporary folder are read-only"
    atexit.register(shutil.rmtree, temporary, ignore_errors=True)
    environ["NUMBA_CACHE_DIR"] = temporary
    elsewhere = f" and {per_user} are" if per_user is not None else " is"
    return (f"compiled kernels are not cached: {package_cache}{elsewhere} read-only, "
            "so Image and Audio compile them again at every start")


# Decided once, at the first kernel module's import. numba read its settings when it was imported
# (the kernel modules import it first): reload_config() takes up the new NUMBA_CACHE_DIR.
_chosen_before = os.environ.get("NUMBA_CACHE_DIR")
CACHE_NOTE = choose_cache_folder()
if os.environ.get("NUMBA_CACHE_DIR") != _chosen_before:
    from numba.core import config as _numba_config

    _numba_config.reload_config()


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


# The files whose code or constants the compiled kernels take in: numba inlines a callee's code
# and freezes a module global's value (core.sampling.GREEDY_BELOW) into the caller's cached object.
KERNEL_SOURCES = tuple(str(p) for p in (
    _KERNELS / "fast_math.py", _KERNELS / "sampling.py", _KERNELS / "pixelcnn.py", _KERNELS / "wavenet.py",
    _KERNELS / "gpt.py", _KERNELS.parent / "core" / "sampling.py",
))


@functools.cache
def _fingerprint(sources: tuple) -> str:
    """A hash of the sources' bytes, read once per process (each kernel module asks at import)."""
    digest = hashlib.sha256()
    for source in sources:
        try:
            digest.update(Path(source).read_bytes())
        except OSError:
            digest.update(b"missing " + source.encode())
    return digest.hexdigest()


def forget_stale(namespace: dict, sources=KERNEL_SOURCES) -> None:
    """Drop the cached kernels of a module (its namespace: globals()) when any of `sources` changed
    since they were cached. numba checks a cached kernel against its own file only, so after an edit
    to a function it calls in another file it would go on loading the old code (numba issue 6845);
    that is how a test can pass against yesterday's kernels. A fingerprint of the sources is kept
    beside numba's cache, one per module; a mismatch empties the module's cache indexes, and the
    next call compiles afresh. Called once at the end of each kernel module; costs a hash of the
    sources (well under a millisecond)."""
    kernels = [f for f in namespace.values() if getattr(f, "_cache", None) is not None
               and getattr(f, "__module__", None) == namespace["__name__"]]
    caches = [k._cache for k in kernels if hasattr(k._cache, "flush") and hasattr(k._cache, "_cache_path")]
    if not caches:
        return
    fingerprint = _fingerprint(tuple(sources))
    stamp = Path(caches[0]._cache_path) / (namespace["__name__"].rsplit(".", 1)[-1] + ".sources")
    try:
        if stamp.read_text() == fingerprint:
            return
    except OSError:
        pass  # never stamped: whatever is cached may be stale
    for cache in caches:
        cache.flush()  # empties the index on disk: the next call compiles and saves
    try:
        stamp.write_text(fingerprint)
    except OSError:
        pass  # a read-only cache: numba then caches nothing there either
