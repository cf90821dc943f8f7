"""Where snapshot files live: a folder (plain os calls; a file is written whole through a temporary
file and a rename), or, for workers on several machines, an fsspec URL such as `s3://bucket/prefix`
or `gs://bucket/prefix` (an object is written whole in one request: an object store has no rename,
and never shows half an object).

History names a file by its path relative to the config's folder (absolute for a folder outside
it), or by its full URL. So a reader needs no idea where snapshots are written today: the files a
pass wrote to a folder stay readable after the config moves to a bucket, and the other way round.

Credentials never go through here: the backend reads its usual environment (AWS_* or ~/.aws for
s3fs, GOOGLE_APPLICATION_CREDENTIALS for gcsfs), and fsspec adds `FSSPEC_<PROTOCOL>_<OPTION>`
variables (e.g. FSSPEC_S3_ENDPOINT_URL) to the options of `[snapshots] storage_options`."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from .fsutil import replace_with

# The pip extras that bring a backend in (pyproject.toml); other protocols name their own package.
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
_WEB = "a web address is read-only to fsspec (where the config's folder is served goes in [report] base_url)"
_NOT_SHARED = {"http": _WEB, "https": _WEB,
               "memory": "memory:// lives in one process only; workers would not see each other's snapshots"}


def is_url(stored: str) -> bool:
    """A snapshot named by its URL (a stored path, or `[snapshots] path`) rather than a path."""
    return "://" in stored


def local_folder(location: str) -> str | None:
    """The folder `location` names on this machine (a path, or a file:// URL), or None for remote storage."""
    if not is_url(location):
        return location
    parts = urlsplit(location)
    return unquote(parts.path) if parts.scheme == "file" and parts.netloc in ("", "localhost") else None


def href(prefix: str, stored: str) -> str:
    """A link to a stored snapshot: its URL as it is (a bucket is not below the config's folder, so
    no prefix can reach it), or `prefix` + its path relative to the config's folder."""
    return stored if is_url(stored) else prefix + stored


def location_problem(location: str) -> str:
    """Why `[snapshots] path` cannot be written to, or "". No request is made: a URL's backend
    is imported, so a missing one is a configuration error rather than the first pass's failure."""
    if local_folder(location) is not None:
        return "" if location.strip() else "expected a folder or a URL, got an empty string"
    protocol, _, rest = location.partition("://")
    protocol = protocol.lower()
    if protocol == "file":
        return f"{location!r}: a file:// URL names a folder on this machine, e.g. file:///srv/snapshots"
    if protocol in _NOT_SHARED:
        return f"{location!r}: {_NOT_SHARED[protocol]}"
    if not rest.strip("/"):
        return f"{location!r} names no bucket or folder, e.g. {protocol}://bucket/snapshots"
    import fsspec

    try:
        fsspec.get_filesystem_class(protocol)
    except ValueError:
        return (f"{protocol}:// is not a storage protocol fsspec knows; use a folder, s3://bucket/prefix, "
                f"gs://bucket/prefix or another of fsspec's protocols")
    except ImportError as exc:
        extra = EXTRAS.get(protocol)
        how = f"pip install 'linkcheck-citations[{extra}]'" if extra else str(exc)
        return f"{protocol}:// needs its fsspec backend, which is not installed: {how}"
    return ""


@functools.lru_cache(maxsize=16)
def _place(root: Path, folder: str) -> tuple[Path, Path]:
    """Where the files of a local `folder` go, and what names them for history: their path relative
    to `root` when they are below it, else the absolute one. Once a process: the worker that writes
    a snapshot gets the Storage afresh with every page."""
    path = root / Path(folder).expanduser()
    return path, path.relative_to(root) if path.is_relative_to(root) else path


@dataclass(frozen=True)
class Storage:
    """The config's snapshot storage. Picklable: it goes to the worker processes that write."""

    root: Path  # the config's folder: local paths are named relative to it
    location: str = "snapshots"  # `[snapshots] path`: a folder (relative to `root`) or a URL
    options: Mapping[str, Any] = field(default_factory=dict)  # `[snapshots] storage_options`

    @property
    def local(self) -> bool:
        return local_folder(self.location) is not None

    def write(self, relative: str, data: bytes) -> str:
        """Write the file `relative` (below the location) whole; its name for history."""
        folder = local_folder(self.location)
        if folder is None:
            url = f"{self.location.rstrip('/')}/{relative}"
            fs, key = self._fs(url)
            fs.pipe_file(key, data)
            return url
        below, named = _place(self.root, folder)
        # Not durable: a killed process cannot leave a half file behind the rename, and history (not
        # this file) is the source of truth; an fsync per page cost more than the fetch itself.
        replace_with(below / relative, data, durable=False)
        return str(named / relative)

    def exists(self, stored: str) -> bool:
        if not is_url(stored):
            return (self.root / stored).is_file()
        fs, path = self._fs(stored)
        return bool(fs.exists(path))

    async def exists_async(self, stored: str) -> bool:
        """`exists` from the event loop: a request to a bucket waits in a thread, a local stat does not."""
        return self.exists(stored) if not is_url(stored) else await asyncio.to_thread(self.exists, stored)

    def open(self, stored: str) -> IO[bytes]:
        if not is_url(stored):
            return (self.root / stored).open("rb")
        fs, path = self._fs(stored)
        file: IO[bytes] = fs.open(path, "rb")
        return file

    def remove(self, stored: Iterable[str]) -> None:
        """Delete these files; those already gone are no error. A bucket's in one request per thousand."""
        remote: dict[str, list[str]] = {}
        for name in stored:
            if is_url(name):
                remote.setdefault(name.partition("://")[0], []).append(name)
            else:
                (self.root / name).unlink(missing_ok=True)
        for urls in remote.values():
            fs, _ = self._fs(urls[0])
            paths = [self._fs(url)[1] for url in urls]
            try:
                fs.rm(paths)
            except FileNotFoundError:  # a backend that says so for one missing file of the batch
                for path in paths:
                    if fs.exists(path):
                        fs.rm_file(path)

    def _fs(self, url: str) -> tuple[Any, str]:
        """fsspec's file system for `url` (one per process and options: fsspec caches them), and the
        path within it. The options are the configured protocol's only."""
        from fsspec.core import url_to_fs

        same = url.partition("://")[0] == self.location.partition("://")[0]
        fs, path = url_to_fs(url, **(self.options if same else {}))
        return fs, str(path)
