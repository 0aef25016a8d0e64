# Copyright 2026 The adapter_switcher Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
The on-robot store of installed adapter versions, and which version of each name is promoted.

Layout under the store root::

    NAME@VERSION/     one installed version (a complete adapter directory, manifest included)
    .staging/         installs in progress; anything here after a crash is discarded
    state.json        per name: the promoted version, the earlier promoted ones, pinned,
                      the candidate under evaluation (written atomically)
    .lock             locked (flock) by the process serving from the store: see StoreLock

A version appears under its final name only by one ``rename`` of a fully written, fsynced
directory, so a crash at any moment leaves either the old set of versions or the new one.
The engine scans the root like any adapter directory.
"""

from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
import fcntl
import json
import os
from pathlib import Path
import shutil
from typing import Dict, List, Optional

from adapter_switcher.core.adapter_files import is_adapter_dir
from adapter_switcher.core.names import split_adapter_ref
from adapter_switcher.core.names import VERSION_SEPARATOR
from adapter_switcher.fleet.semver import parse_version

STAGING_DIR = '.staging'
STATE_FILE = 'state.json'
LOCK_FILE = '.lock'


class StoreInUse(ValueError):
    """Another process holds the store (a running node); the message names it."""


class StoreLock:
    """
    A hold on a store by the one process that serves from it or edits it.

    An exclusive ``flock`` on ``.lock``, holding the holder's name: the inference node takes it
    for as long as it runs (the kernel drops it when the process ends, even by ``kill -9``), and
    a command-line edit of ``state.json`` takes it for the edit. A running node keeps the
    promotion state in memory and writes it back on every decision, so an edit beside it would
    be lost or undone; it is refused instead, naming the node, whose services do the same.
    """

    def __init__(self, root: Path, holder: str):
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held_by = os.read(fd, 1024).decode('utf-8', 'replace').strip() or 'another process'
            os.close(fd)
            raise StoreInUse(f'store {root} is in use by {held_by}') from None
        os.ftruncate(fd, 0)
        os.write(fd, f'{holder} (pid {os.getpid()})\n'.encode('utf-8'))
        self._fd: Optional[int] = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> 'StoreLock':
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@dataclass
class NameState:
    """What the fleet decided about one adapter name."""

    promoted: Optional[str] = None
    history: List[str] = field(default_factory=list)
    pinned: bool = False
    candidate: Optional[str] = None
    candidate_mode: str = ''


class VersionStore:
    """Installed versions on disk plus the promotion state; see the module docstring."""

    def __init__(self, root: Path, recover: bool = True):
        """
        Open the store at ``root`` (created if missing).

        ``recover`` discards what a crashed install left in .staging/; only the process that
        installs (the holder of the :class:`StoreLock`) may do that, so a reader passes False.
        """
        self.root = Path(root)
        self.staging = self.root / STAGING_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        if recover:
            shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(exist_ok=True)
        self.state: Dict[str, NameState] = self._read_state()

    def installed(self) -> Dict[str, List[str]]:
        """Return name -> installed versions, from the ``NAME@VERSION`` directories."""
        versions: Dict[str, List[str]] = {}
        for path in sorted(self.root.iterdir()):
            if VERSION_SEPARATOR in path.name and is_adapter_dir(path):
                name, version = split_adapter_ref(path.name)
                versions.setdefault(name, []).append(version)
        return versions

    def is_installed(self, ref: str) -> bool:
        return (self.root / ref).is_dir()

    def path(self, ref: str) -> Path:
        """Return the directory of an installed version (``name@version``)."""
        split_adapter_ref(ref)
        return self.root / ref

    def name_state(self, name: str) -> NameState:
        return self.state.setdefault(name, NameState())

    def promote(self, name: str, version: str, force: bool = False) -> None:
        """Record ``version`` as promoted (the old one joins the history); not saved yet."""
        self.check_promotion(name, version, force)
        state = self.name_state(name)
        if state.promoted and state.promoted != version:
            state.history.append(state.promoted)
        state.promoted = version
        if state.candidate == version:
            state.candidate, state.candidate_mode = None, ''

    def check_promotion(self, name: str, version: str, force: bool) -> None:
        """Raise ValueError if ``version`` is not installed, or a downgrade without force."""
        installed = self.installed().get(name, [])
        if version not in installed:
            known = ', '.join(sorted(installed, key=parse_version)) or 'none'
            raise ValueError(f'{name}@{version} is not installed (installed: {known})')
        state = self.name_state(name)
        if (state.promoted and not force
                and parse_version(version) < parse_version(state.promoted)):
            raise ValueError(f'{name}@{version} is older than the promoted {state.promoted}: '
                             'a downgrade needs force')

    def rollback(self, name: str) -> str:
        """Record the previous promoted version as promoted again; return the dropped one."""
        state = self.name_state(name)
        if not state.history:
            raise ValueError(f'{name} has no previous promoted version to go back to')
        dropped, state.promoted = state.promoted, state.history.pop()
        state.pinned = False
        return dropped

    def save(self) -> None:
        """Write state.json atomically (temp file, fsync, rename)."""
        body = {name: asdict(s) for name, s in sorted(self.state.items())}
        tmp = self.root / f'.{STATE_FILE}.tmp'
        with open(tmp, 'w', encoding='utf-8') as stream:
            json.dump(body, stream, indent=2, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, self.root / STATE_FILE)

    def _read_state(self) -> Dict[str, NameState]:
        path = self.root / STATE_FILE
        if not path.exists():
            return {}
        try:
            raw = json.loads(path.read_text(encoding='utf-8'))
            return {name: NameState(**body) for name, body in raw.items()}
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(f'{path} is unreadable: {error}') from None


def fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
