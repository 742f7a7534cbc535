"""Writing output files safely: path checks before work, atomic writes, no temporary left behind.

Every file the package writes (``--output``, ``--plot``, :func:`mmot_models.save_problem`, figures)
goes through this module, so the rules live in one place:

* **Check first.**  :func:`check_output_path` is called before any work starts: the parent
  directory exists and accepts a new file (probed by creating and removing one), the target is
  not a directory, and for figures the format named by the suffix is one matplotlib writes.
  A bad path is an :class:`~mmot_models.errors.MMOTInputError` (CLI: ``error: ...``, exit 2).
* **What is replaced.**  Only regular files are replaced, atomically: the data goes to a
  temporary file ``.NAME.XXXXXXXX.tmp`` beside the target, is flushed to disk and renamed over it.
  A symbolic link is followed (its final target is replaced, the link is kept).  A character
  device or a FIFO (``/dev/null``, ``/dev/stdout``, a named pipe) is written to directly, never
  replaced.  A directory, a block device or a socket is refused.
* **Permissions.**  A new file gets ``0o666 & ~umask`` (the temporary file is created with mode
  ``0o666`` and the kernel applies the umask); an existing file keeps its mode (and, where the
  process may, its owner and group).
* **No partial files.**  The temporary file is removed on every exit path (an exception,
  ``KeyboardInterrupt``, or :class:`Terminated`, which the ``mmot`` command raises on
  ``SIGTERM``); :func:`remove_temporaries` removes any left over and runs at interpreter exit.

Test hook: when the environment variable ``MMOT_TEST_WRITE_DELAY`` holds a number of seconds,
each atomic write sleeps that long after writing the first half of its data (to send a signal to
a process in the middle of a write).
"""
from __future__ import annotations

import atexit
import os
import secrets
import stat
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterable

from .errors import MMOTInputError

__all__ = ["Terminated", "check_output_path", "check_distinct_outputs", "atomic_write", "atomic_write_bytes",
           "atomic_write_text", "atomic_savefig", "plot_formats", "remove_temporaries", "TEMP_SUFFIX",
           "WRITE_DELAY_ENV"]

#: Suffix of the temporary files written beside a target (``.NAME.XXXXXXXX.tmp``).
TEMP_SUFFIX = ".tmp"
#: Environment variable of the test hook (seconds to sleep in the middle of every atomic write).
WRITE_DELAY_ENV = "MMOT_TEST_WRITE_DELAY"
#: Longest part of the target's name kept in a temporary name (file names are limited to 255 bytes).
_NAME_KEEP = 200

#: Temporary files created and not yet renamed or removed (cleaned by :func:`remove_temporaries`).
_LIVE: set[str] = set()


class Terminated(BaseException):
    """Raised in the main thread when the ``mmot`` command receives ``SIGTERM``.

    A :class:`BaseException` (like :class:`KeyboardInterrupt`), so ``except Exception`` in the
    solvers does not swallow it and every ``finally`` block, temporary files included, runs.
    """


def remove_temporaries() -> None:
    """Remove temporary files of atomic writes still in progress (e.g. after a signal)."""
    for tmp in list(_LIVE):
        try:
            os.unlink(tmp)
        except OSError:
            pass
        _LIVE.discard(tmp)


atexit.register(remove_temporaries)


def plot_formats() -> dict[str, str]:
    """File formats matplotlib can write (suffix without the dot -> description)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return dict(FigureCanvasBase.get_supported_filetypes())


def _format_message(what: str, p: Path, formats: dict[str, str]) -> str:
    named = f"{p.suffix!r} is not a figure format" if p.suffix else "no file extension names the figure format"
    return f"{what} {p}: {named}; end the name with one of {', '.join('.' + f for f in sorted(formats))}"


def _as_path(path: Any, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise MMOTInputError(f"{what}: expected a file path (str or os.PathLike), got {type(path).__name__}")
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text == "":
        raise MMOTInputError(f"{what}: the path is empty; give a file name")
    if "\x00" in text:
        raise MMOTInputError(f"{what}: the path contains a NUL character")
    return Path(text)


def _target(p: Path) -> Path:
    """The file that will be written: ``p`` with every symbolic link followed (the link is kept)."""
    return Path(os.path.realpath(p)) if os.path.islink(p) else p


def _kind(st: os.stat_result) -> str:
    m = st.st_mode
    if stat.S_ISREG(m):
        return "file"
    if stat.S_ISDIR(m):
        return "directory"
    if stat.S_ISCHR(m) or stat.S_ISFIFO(m):
        return "stream"
    if stat.S_ISBLK(m):
        return "block device"
    if stat.S_ISSOCK(m):
        return "socket"
    return "special file"


def _stat(p: Path) -> os.stat_result | None:
    try:
        return os.stat(p)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MMOTInputError(f"cannot write {p}: {exc.strerror}") from None


def _temp_name(target: Path) -> Path:
    return target.parent / f".{target.name[:_NAME_KEEP]}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _create_temp(target: Path) -> tuple[int, str]:
    """Create ``.NAME.XXXXXXXX.tmp`` beside ``target`` (mode 0o666 minus the umask); register it first."""
    for _ in range(100):
        tmp = str(_temp_name(target))
        _LIVE.add(tmp)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            _LIVE.discard(tmp)
        except BaseException:
            _LIVE.discard(tmp)
            raise
    raise MMOTInputError(f"cannot write {target}: no free temporary name in {target.parent}")  # pragma: no cover


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    finally:
        _LIVE.discard(tmp)


def check_output_path(path: str | os.PathLike, *, what: str = "output", plot: bool = False,
                      suffixes: Iterable[str] | None = None) -> Path:
    """Check that ``path`` can be written, before any work is done; return it as a :class:`Path`.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.  A symbolic link is checked at its final target.
    what : str
        How the message names the path (e.g. ``"--plot"``).
    plot : bool
        The file is a figure: its suffix must name a format matplotlib writes (``.png``, ``.pdf``, ...).
    suffixes : iterable of str, optional
        Accepted suffixes (lower case, with the dot), e.g. ``(".json", ".npz")``.

    Raises
    ------
    MMOTInputError
        The parent directory is missing or does not accept a new file, the target is a
        directory, a block device or a socket, or the suffix is not accepted.
    """
    p = _as_path(path, what)
    suffix = p.suffix.lower()
    target = _target(p)
    st = _stat(target)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise MMOTInputError(f"{what} {p} is a directory; give a file name inside it")
    if plot:
        formats = plot_formats()
        if suffix.lstrip(".") not in formats:
            raise MMOTInputError(_format_message(what, p, formats))
    if suffixes is not None:
        allowed = tuple(suffixes)
        if suffix not in allowed:
            raise MMOTInputError(f"{what} {p}: unknown extension {suffix!r}; use {' or '.join(allowed)}")
    if st is not None:
        kind = _kind(st)
        if kind == "stream":
            if not os.access(target, os.W_OK):
                raise MMOTInputError(f"{what} {p}: permission denied")
            return p
        if kind != "file":
            raise MMOTInputError(f"{what} {p} is a {kind}; refusing to write to it, give a regular file")
        if not os.access(target, os.W_OK):
            raise MMOTInputError(f"{what} {p}: the file is not writable (permission denied)")
    parent = target.parent
    pst = _stat(parent)
    if pst is None or not stat.S_ISDIR(pst.st_mode):
        raise MMOTInputError(f"{what} {p}: directory {parent} does not exist; create it first")
    try:  # the one reliable test (read-only file systems, /proc, root): create a file and remove it
        fd, tmp = _create_temp(target)
    except OSError as exc:
        raise MMOTInputError(f"{what} {p}: cannot create a file in {parent} ({exc.strerror})") from None
    os.close(fd)
    _remove(tmp)
    return p


def check_distinct_outputs(*paths: tuple[str, str | os.PathLike | None]) -> None:
    """Refuse two outputs naming the same file (``(option, path)`` pairs; ``None`` paths skipped)."""
    seen: dict[str, str] = {}
    for what, path in paths:
        if path is None:
            continue
        key = os.path.realpath(os.fspath(path))
        if key in seen:
            raise MMOTInputError(f"{seen[key]} and {what} name the same file {path}; give two file names")
        seen[key] = what


def _delay_hook() -> None:
    raw = os.environ.get(WRITE_DELAY_ENV)
    if raw:
        try:
            time.sleep(max(0.0, float(raw)))
        except ValueError:
            pass


class _DelayedWriter:
    """File wrapper for the test hook: sleeps once, after the first half of the bytes."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._slept = False

    def write(self, data: bytes) -> int:
        if not self._slept and len(data) > 1:
            half = len(data) // 2
            n = self._fh.write(data[:half])
            self._fh.flush()
            self._slept = True
            _delay_hook()
            return n + self._fh.write(data[half:])
        if not self._slept:
            self._fh.flush()
            self._slept = True
            _delay_hook()
        return self._fh.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None], *, what: str = "output") -> Path:
    """Write a file through ``write(binary_file_object)`` without ever leaving a partial file.

    A regular (or new) file is written to ``.NAME.XXXXXXXX.tmp`` beside it, flushed, given the
    existing file's mode (or ``0o666 & ~umask``) and renamed over the target; a symbolic link is
    followed and kept; a character device or FIFO is written directly.  On any exception
    (including :class:`KeyboardInterrupt` and :class:`Terminated`) the temporary file is removed.

    Returns the path as given.
    """
    p = _as_path(path, what)
    target = _target(p)
    st = _stat(target)
    if st is not None:
        kind = _kind(st)
        if kind == "stream":
            try:
                with open(target, "wb") as fh:
                    write(fh)
            except OSError as exc:
                raise MMOTInputError(f"cannot write {p}: {exc.strerror or exc}") from None
            return p
        if kind != "file":
            raise MMOTInputError(f"{what} {p} is a {kind}; refusing to write to it, give a regular file")
    try:
        fd, tmp = _create_temp(target)
    except FileNotFoundError:
        raise MMOTInputError(f"cannot write {p}: directory {target.parent} does not exist") from None
    except OSError as exc:
        raise MMOTInputError(f"cannot write {p}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(_DelayedWriter(fh) if os.environ.get(WRITE_DELAY_ENV) else fh)
            fh.flush()
            os.fsync(fh.fileno())
            if st is not None:
                os.chmod(fh.fileno(), stat.S_IMODE(st.st_mode))
                try:
                    os.chown(fh.fileno(), st.st_uid, st.st_gid)
                except OSError:
                    pass  # not allowed to give the file away: it keeps our owner
        os.replace(tmp, target)
        _LIVE.discard(tmp)
    except OSError as exc:
        _remove(tmp)
        raise MMOTInputError(f"cannot write {p}: {exc.strerror or exc}") from None
    except BaseException:
        _remove(tmp)
        raise
    return p


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, what: str = "output") -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda fh: fh.write(data), what=what)


def atomic_write_text(path: str | os.PathLike, text: str, *, what: str = "output", encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode(encoding), what=what)


def atomic_savefig(fig: Any, path: str | os.PathLike, *, what: str = "plot", close: bool = True,
                   **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure atomically in the format named by the suffix; close it unless ``close=False``."""
    try:
        p = _as_path(path, what)
        fmt = p.suffix.lower().lstrip(".")
        formats = plot_formats()
        if fmt not in formats:
            raise MMOTInputError(_format_message(what, p, formats))
        opts = {"dpi": 120, "bbox_inches": "tight", **savefig_kwargs, "format": fmt}
        return atomic_write(p, lambda fh: fig.savefig(fh, **opts), what=what)
    finally:
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)
