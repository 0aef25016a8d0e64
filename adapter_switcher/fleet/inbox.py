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
The over-the-air inbox: a watched directory where bundles are dropped.

A bundle is taken only when complete: files whose names start with ``.`` or end in ``.part``
or ``.tmp`` are being written and are ignored (write under such a name, then rename), and a
file is only taken once its size and mtime stayed the same for ``settle_s``. File events come
from ``watchdog`` (inotify on Linux); a slow poll catches anything an event missed. Each
bundle is installed on the inbox's own thread (copies and probes wait for the engine's idle
gaps); an installed bundle is deleted from the inbox and handed to the controller's policy, a
rejected one moves to ``quarantine/`` with a ``.reason`` file holding the one-line reason.
"""

import logging
import os
from pathlib import Path
import threading
import time
from typing import Callable, Dict, Optional, Tuple

from adapter_switcher.core import AdapterError
from adapter_switcher.fleet.bundle import BUNDLE_SUFFIX
from adapter_switcher.fleet.bundle import BundleRejected
from adapter_switcher.fleet.controller import FleetController
from adapter_switcher.fleet.installer import InstallDeferred
from adapter_switcher.fleet.installer import Installer

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

QUARANTINE_DIR = 'quarantine'
TEMPORARY_SUFFIXES = ('.part', '.tmp')
_LOG = logging.getLogger(__name__)


def is_complete_name(path: Path) -> bool:
    """Return whether a file name marks a finished bundle (not a temporary name)."""
    return (path.name.endswith(BUNDLE_SUFFIX) and not path.name.startswith('.')
            and not path.name.endswith(TEMPORARY_SUFFIXES))


def quarantine(path: Path, reason: str) -> Path:
    """Move a rejected bundle to ``quarantine/`` beside it, with ``NAME.reason``."""
    folder = path.parent / QUARANTINE_DIR
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    count = 1
    while target.exists():
        target = folder / f'{path.name}.{count}'
        count += 1
    os.replace(path, target)
    target.with_name(target.name + '.reason').write_text(reason + '\n', encoding='utf-8')
    return target


class _Wake(FileSystemEventHandler):
    def __init__(self, event: threading.Event):
        self._event = event

    def on_any_event(self, event) -> None:
        self._event.set()


class Inbox:
    """Watches one directory and installs the bundles that arrive; see the module docstring."""

    def __init__(self, directory: Path, installer: Installer,
                 controller: Optional[FleetController] = None, settle_s: float = 0.5,
                 poll_s: float = 2.0, on_event: Callable[[str], None] = lambda text: None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.installer = installer
        self.controller = controller
        self.settle_s = settle_s
        self.poll_s = poll_s
        self.on_event = on_event
        self.installed = 0
        self.rejected = 0
        self._seen: Dict[Path, Tuple[int, int, float]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._observer: Optional[Observer] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Start watching (file events plus the slow poll)."""
        self._observer = Observer()
        self._observer.schedule(_Wake(self._wake), str(self.directory), recursive=False)
        self._observer.start()
        self._thread = threading.Thread(target=self._loop, name='adapter-inbox', daemon=True)
        self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5.0)
        if self._thread is not None:
            self._thread.join(timeout=60.0)

    def wait_processed(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` bundles were installed or rejected; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self.installed + self.rejected >= count,
                                       timeout)

    def process_ready(self) -> int:
        """Install or quarantine every complete, settled bundle now; return how many."""
        now = time.monotonic()
        done = 0
        for path in sorted(self.directory.iterdir()):
            if not path.is_file() or not is_complete_name(path):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            seen = self._seen.get(path)
            signature = (stat.st_size, stat.st_mtime_ns)
            if seen is None or seen[:2] != signature:
                self._seen[path] = signature + (now,)
                continue
            if now - seen[2] < self.settle_s:
                continue
            done += self._process(path)
        return done

    def _process(self, path: Path) -> int:
        try:
            ref = self.installer.install(path)
        except InstallDeferred as error:
            _LOG.info('install of %s deferred: %s', path.name, error)
            return 0
        except BundleRejected as error:
            quarantine(path, str(error))
            self._seen.pop(path, None)
            self._count('rejected', f'{path.name} rejected: {error}')
            return 1
        path.unlink()
        self._seen.pop(path, None)
        message = f'{path.name} installed as {ref}'
        if self.controller is not None:
            try:
                self.controller.on_installed(ref)   # announces what its policy did
                message = None
            except AdapterError as error:
                message = f'{ref} installed, but its policy could not start: {error}'
        self._count('installed', message)
        return 1

    def _count(self, kind: str, message: Optional[str]) -> None:
        with self._idle:
            setattr(self, kind, getattr(self, kind) + 1)
            self._idle.notify_all()
        if message is not None:
            self.on_event(message)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=self.settle_s if self._seen else self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.process_ready()
            except Exception:  # noqa: B902 - the inbox thread must survive any bundle
                _LOG.exception('inbox %s: processing failed', self.directory)
