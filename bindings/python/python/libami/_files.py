"""Writing configuration files atomically (used by ``ConfigEditor.write``).

Readers (Asterisk reloading, another editor) see the old file or the new one, never half of one,
and a crash leaves one of the two: the text goes to a temporary file created with mode 0600 in
the same directory, is flushed with ``fsync``, gets the old file's mode (and owner and group,
when allowed; 0600 for a new file), replaces the file with ``os.replace``, and the directory is
flushed too. A symbolic link is followed: its target is replaced, the link stays.
"""

import os
import stat
import tempfile
from typing import Union

NEW_FILE_MODE = 0o600


def write_atomic(path: Union[str, "os.PathLike[str]"], text: str) -> None:
    """Replaces (or creates) ``path`` with ``text`` (UTF-8), atomically."""
    target = os.path.realpath(path)
    directory = os.path.dirname(target) or "."
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".ami-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            if old is None:
                os.fchmod(f.fileno(), NEW_FILE_MODE)
            else:
                os.fchmod(f.fileno(), stat.S_IMODE(old.st_mode))
                try:
                    os.fchown(f.fileno(), old.st_uid, old.st_gid)
                except PermissionError:
                    pass  # keeping the owner needs privileges; the file stays ours
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
