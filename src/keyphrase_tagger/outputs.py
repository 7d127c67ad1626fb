"""Outputs this program owns: replaced whole, never half-written, never over someone else's files.

A directory output (prepared dataset, evaluation report) carries :data:`MARKER`, naming its kind. An
existing directory is replaced only if it is empty or marked with the same kind, and never if it is
or holds the working directory or an input of the run. A file output may replace a file, never a directory.

Output is written into a hidden sibling, then renamed into place. Live siblings sit in a registry:
SIGTERM and SIGHUP remove them before the process dies, Ctrl-C (``KeyboardInterrupt``) on its way out.
A sibling left by a killed run names its host and process id; the next run writing the same output
removes it once that process is gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

from keyphrase_tagger.errors import ConfigError

MARKER = ".keyphrase_tagger_output.json"
PROGRAM = "keyphrase-tagger"
# A sibling from another machine sharing the file system may belong to a live process whose id
# means nothing here: only siblings of this host are ever judged stale.
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_CLEANED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

_live: dict[Path, int] = {}  # temporary path -> id of the process that made it
_installed: dict[int, object] = {}  # signal -> the handler ours replaced


def remove_live_temporaries() -> None:
    """Delete every temporary sibling this process is writing (the signal handlers call this)."""
    for path, owner in list(_live.items()):
        if owner == os.getpid():
            _remove(path)
        _live.pop(path, None)


def _on_signal(signum: int, frame: object) -> None:
    remove_live_temporaries()  # in a forked child, none: the temporaries are its parent's
    _restore_handlers()
    os.kill(os.getpid(), signum)  # die of the signal as if it had never been caught


def _register(path: Path) -> None:
    if not _live and threading.current_thread() is threading.main_thread():
        for signum in _CLEANED_SIGNALS:
            # Only where the signal would kill us anyway: a caller's own handler or SIG_IGN stays.
            if signal.getsignal(signum) == signal.SIG_DFL:
                _installed[signum] = signal.signal(signum, _on_signal)
    _live[path] = os.getpid()


def _unregister(path: Path) -> None:
    _live.pop(path, None)
    if not _live:
        _restore_handlers()


def _restore_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, previous in list(_installed.items()):
        if signal.getsignal(signum) is _on_signal:
            signal.signal(signum, previous)
        del _installed[signum]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink(missing_ok=True)


def _sibling(target: Path, suffix: str) -> Path:
    return target.parent / f".{target.name}.{os.getpid()}-{_HOST}-{uuid.uuid4().hex}.{suffix}"


def _process_gone(pid: int) -> bool:
    if pid == os.getpid():
        return True  # our own sibling that is not live: left by an earlier call that was interrupted
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    return False


def _stale_siblings(target: Path) -> Iterator[tuple[Path, str]]:
    """``(path, "tmp"|"old")`` for each sibling of ``target`` a finished process of this host left."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)-([0-9a-f]{{8}})-[0-9a-f]{{32}}\.(tmp|old)")
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return
    live = {path.name for path in _live}
    for path in entries:
        match = pattern.fullmatch(path.name)
        if match and path.name not in live and match[2] == _HOST and _process_gone(int(match[1])):
            yield path, match[3]


def read_marker(directory: Path) -> dict | None:
    """The marker of a directory this program wrote, or ``None``."""
    try:
        marker = json.loads((Path(directory) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("program") == PROGRAM else None


def _is_within(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def check_replaceable_directory(target: str | Path, kind: str, key: str,
                                inputs: Iterable[tuple[str, str | Path]] = ()) -> Path:
    """Raise :class:`ConfigError` unless ``target`` may become (or be replaced by) a ``kind`` output.

    ``inputs``: ``(what, path)`` pairs the run reads, e.g. ``("the corpus", corpus_path)``, which the
    output directory must not hold. Returns ``target`` as a path.
    """
    target = Path(target)
    where = f"{key}={target}"
    resolved = target.resolve()
    if _is_within(Path.cwd().resolve(), resolved):
        raise ConfigError(f"{where}: is the working directory or holds it; name a directory of its own")
    for what, path in inputs:
        if _is_within(Path(path).resolve(), resolved):
            raise ConfigError(f"{where}: holds {what} ({path}); name a directory of its own")
    if target.is_symlink():
        raise ConfigError(f"{where}: is a symbolic link; name the directory itself")
    if not target.exists():
        return target
    if not target.is_dir():
        raise ConfigError(f"{where}: is a file, expected a directory")
    marker = read_marker(target)
    if marker is None:
        if any(target.iterdir()):
            raise ConfigError(f"{where}: holds files keyphrase-tagger did not write (no {MARKER}); "
                              "remove them or name another directory")
    elif marker.get("kind") != kind:
        raise ConfigError(f"{where}: holds a {marker.get('kind')}, not a {kind}; name another directory")
    return target


def _make_parents(target: Path, key: str) -> list[Path]:
    """Create the missing parents of ``target``; return those created, deepest first."""
    missing = [p for p in target.parents if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{key}={target}: cannot create {target.parent} ({err.strerror})") from None
    return missing


def _cannot_write(key: str, target: Path, err: OSError) -> ConfigError:
    return ConfigError(f"{key}={target}: cannot write in {target.parent} ({err.strerror})")


def _remove_empty(directories: list[Path]) -> None:
    with suppress(OSError):  # stops at the first that is not empty
        for directory in directories:
            directory.rmdir()


def _sweep_directory_siblings(target: Path, kind: str) -> None:
    for path, role in _stale_siblings(target):
        marker = read_marker(path)
        if not path.is_dir() or path.is_symlink() or marker is None or marker.get("kind") != kind:
            continue  # not recognisably ours: leave it
        if role == "old" and not os.path.lexists(target):
            os.rename(path, target)  # killed between the two renames of a swap: the old output returns
        else:
            shutil.rmtree(path, ignore_errors=True)


def replace_directory(target: str | Path, kind: str, write: Callable[[Path], None], key: str,
                      inputs: Iterable[tuple[str, str | Path]] = ()) -> Path:
    """Call ``write(tmp_dir)``; if it returns, the directory it filled becomes ``target``.

    ``target`` must pass :func:`check_replaceable_directory`. If ``write`` raises (or the process is
    interrupted), ``target`` is as it was and nothing else is left behind.
    """
    target = check_replaceable_directory(target, kind, key, inputs)
    created = _make_parents(target, key)
    _sweep_directory_siblings(target, kind)
    # Not tempfile.mkdtemp: it makes the directory private (0700), and the renamed output should
    # get the permissions any new directory gets (umask applied).
    tmp = _sibling(target, "tmp")
    with _scratch(tmp, created):
        try:
            tmp.mkdir()
        except OSError as err:
            raise _cannot_write(key, target, err) from None
        write_marker(tmp, kind)  # first, so that a killed run's sibling is recognisably ours
        write(tmp)
        old = _swap(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            _unregister(old)
    return target


@contextmanager
def _scratch(tmp: Path, created: list[Path]) -> Iterator[None]:
    """While the block runs, ``tmp`` is registered for removal on a signal; afterwards it is gone,
    and on failure so are the parent folders this call ``created``."""
    _register(tmp)
    try:
        yield
    except BaseException:
        _remove(tmp)
        _remove_empty(created)
        raise
    finally:
        _remove(tmp)
        _unregister(tmp)


def _swap(tmp: Path, target: Path) -> Path | None:
    """Rename ``target`` aside and ``tmp`` into its place; return where the old one went.

    A complete output exists at every moment, at ``target`` or, for the instant between the two
    renames, at the ``.old`` sibling: SIGTERM and Ctrl-C wait until both renames are done, and a run
    killed in between has the old sibling renamed back by the next one.
    """
    blocked = set(_CLEANED_SIGNALS) | {signal.SIGINT}
    can_block = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    if can_block:
        signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        old = None
        if os.path.lexists(target):
            old = _sibling(target, "old")
            os.rename(target, old)
            _register(old)
        try:
            os.rename(tmp, target)
        except BaseException:
            if old is not None:
                os.rename(old, target)
                _unregister(old)
            raise
    finally:
        if can_block:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)
    return old


def write_marker(directory: Path, kind: str) -> None:
    """Mark ``directory`` as a ``kind`` output of this program."""
    payload = {"program": PROGRAM, "kind": kind}
    (Path(directory) / MARKER).write_text(json.dumps(payload) + "\n", encoding="utf-8")


@contextmanager
def replacing_file(target: str | Path, key: str) -> Iterator[TextIO]:
    """A text stream whose content replaces the file ``target`` when the block ends without error.

    A new file gets the permissions the umask gives any new file (0644 under umask 022); a file
    that is replaced keeps its permission bits, as the shell's ``>`` does. A directory is never replaced.
    """
    target = Path(target)
    if target.is_dir():
        raise ConfigError(f"{key}={target}: is a directory, expected a file path")
    created = _make_parents(target, key)
    for path, _ in _stale_siblings(target):
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
    mode = target.stat().st_mode & 0o7777 if target.is_file() else None
    tmp = _sibling(target, "tmp")
    with _scratch(tmp, created):
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as err:
            raise _cannot_write(key, target, err) from None
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, target)
