"""Writing a file so that a failure never destroys the one it replaces. No Qt.

A save or export writes to a temporary file beside the target, flushes it to disk, and only then
renames it over the target (atomic on one file system). A full disk, a killed process or a writer
that raises half-way leaves the old file exactly as it was, and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside `path`; write the whole file there. When the block ends
    without an exception the temporary file replaces `path`; otherwise it is removed and `path`
    is untouched. OSError from the writer, the flush or the rename propagates."""
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        yield temporary
        with open(temporary, "rb+") as f:  # the bytes reach the disk before the name does
            os.fsync(f.fileno())
        if target.exists():  # keep the permissions of the file being replaced
            with contextlib.suppress(OSError):
                os.chmod(temporary, target.stat().st_mode & 0o7777)
        else:
            with contextlib.suppress(OSError):
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; a new file gets the usual mode
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_text_atomically(path, text: str, encoding: str = "utf-8") -> None:
    with replacing(path) as temporary:
        with open(temporary, "w", encoding=encoding) as f:
            f.write(text)
