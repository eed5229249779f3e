"""Files that are whole or absent: atomic writes, the lock beside a file, stale temp cleanup.

The one place where initcore writes a file in place of another (reports, run markers, figures,
pytest-benchmark's JSON) or takes a lock on one (the history and the run tables, the bench
session's trained-experiment cache). A leaf module: the standard library and ``filelock``.

Every write goes to a temporary file in the same folder and is renamed into place
(``os.replace`` is atomic on POSIX), so a reader or a killed writer only ever sees the old file
or the whole new one. Temp files name their writer (host, pid), so a cleanup can tell a dead
writer's leftovers from a live writer's file.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import tempfile
import time
from pathlib import Path

from filelock import FileLock

STALE_TEMP_SECONDS = 3600.0  # a temp file this old is a killed writer's, whoever wrote it
HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"  # this host in temp names


def temp_prefix(path: Path) -> str:
    """The name start of ``path``'s temp files: ``.<name>.<host>.<pid>.`` (then a random part
    and ``.tmp``)."""
    return f".{path.name}.{HOST}.{os.getpid()}."


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` via a temporary file in the same folder and os.replace, so a
    reader (or a killed writer) only ever sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path), suffix=".tmp")
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_lock(path: str | Path) -> FileLock:
    """The lock of a file: a hidden file beside it (``.<name>.lock``), so every writer of that
    file -- whatever its TMPDIR, user or container -- takes the same lock."""
    path = Path(path)
    return FileLock(str(path.parent / f".{path.name}.lock"))


def clean_stale_temps(folder: str | Path, max_age: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Remove temp files (``.*.tmp``) left in ``folder`` by killed writers: those whose writer
    process (named in the file name, on this host) is gone, and any older than ``max_age``
    seconds (a live write takes milliseconds). Returns what was removed."""
    removed = []
    now = time.time()
    for tmp in Path(folder).glob(".*.tmp"):
        try:
            age = now - tmp.lstat().st_mtime
            parts = tmp.name.split(".")
            host, pid = (parts[-4], parts[-3]) if len(parts) >= 5 else ("", "")
            gone = host == HOST and pid.isdigit() and not _alive(int(pid))
            if gone or age > max_age:
                if tmp.is_dir() and not tmp.is_symlink():
                    continue  # not ours: we only ever write temp files
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue  # vanished meanwhile (another cleaner, or its writer finished)
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


# ---------------------------------------------------------------------------------------------
# Paths built from data, and opens that stay inside the report folder
# ---------------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 100  # characters of a file name built from data (well under NAME_MAX = 255 bytes)


def safe_name(text: object, default: str = "unnamed", fill: str = "_") -> str:
    """``text`` (a value read from a report: an activation, an init, an experiment name) as one
    plain file-name part: runs of anything but letters, digits, ``.``, ``_``, ``-`` become
    ``fill`` (none at either end), no leading dot (so never ``..`` or a hidden file), at most
    MAX_NAME characters. Every path initcore builds from data goes through here, so a value such as
    ``x/../../outside/pwned`` names a file in the folder, not outside it."""
    name = _UNSAFE.sub(fill, str(text)).strip(fill).lstrip(".")[:MAX_NAME]
    return name or default


def check_inside(path: str | Path, folder: str | Path | None = None) -> Path:
    """``path`` if, with every symlink followed, it stays inside ``folder`` (default: the folder
    that holds it); OSError (EXDEV-like, with a one-line message) if a symlink leads out --
    a history.csv or run folder that is a link to an outside file is never written through."""
    path = Path(path)
    folder = Path(folder) if folder is not None else path.parent
    real, root = os.path.realpath(path), os.path.realpath(folder)
    if os.path.commonpath([real, root]) != root:
        raise OSError(errno.EXDEV, f"{path} is a symlink that leads outside {folder} "
                      f"(to {real}); refused", str(path))
    return path


def open_inside(path: str | Path, mode: str = "rb", folder: str | Path | None = None):
    """``open(path, mode)`` after :func:`check_inside`."""
    return open(check_inside(path, folder), mode)


def append_bytes(path: str | Path, data: bytes, size: int) -> None:
    """Write ``data`` at offset ``size`` of ``path`` (cutting anything after ``size`` first:
    a torn last line) so that the file ends up either as it was up to ``size`` or with all of
    ``data``: never a half row. The space is reserved first (``posix_fallocate``, where the
    file system has it), so a full disk fails before a byte is written; and every step is
    unbuffered, so undoing a failed write (``ftruncate`` back to ``size``) cannot itself fail
    on a full disk, as a buffered truncate that flushes first does."""
    fd = os.open(check_inside(path), os.O_WRONLY)
    try:
        if os.fstat(fd).st_size != size:
            os.ftruncate(fd, size)
        try:
            if hasattr(os, "posix_fallocate"):
                try:
                    os.posix_fallocate(fd, size, len(data))
                except OSError as e:
                    if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                        raise
            view = memoryview(data)
            offset = 0
            while offset < len(data):
                offset += os.pwrite(fd, view[offset:], size + offset)
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)  # shrinking needs no space
            raise
    finally:
        os.close(fd)
