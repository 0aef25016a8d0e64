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
Installing a bundle: verify, extract to a staging directory, probe with the engine, rename.

Steps, in order (the names are those passed to ``on_step``)::

    verified    size, members, signature, base fingerprint and version checked
    extracted   files written under .staging/ with every sha256 checked, fsynced
    probed      the engine validated the directory and ran its probe forward on it
    renamed     the directory is now NAME@VERSION in the store (one atomic rename)
    registered  the engine's registry lists the new version (the others are not re-read)

Before ``renamed`` nothing is visible, and the store's start-up clears .staging/, so a crash
anywhere leaves the previous versions and the promotion state exactly as they were.

An install runs beside the control loop without delaying a tick: every step is cut into
slices (reading the bundle's index, one megabyte of extraction, one file's fsync, and in the
engine one hash block, one tensor check, a few megabytes of slot copy, the probe forward) and
each slice starts only in an idle gap between ticks that fits it (``AdapterEngine.idle_slice``,
the mechanism prefetch copies use). The weights are read and checked once, at ``probed``:
registration reuses that check because the renamed file is the very file tried.
"""

import os
from pathlib import Path
import shutil
import tempfile
from typing import Callable

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterError
from adapter_switcher.core import SlotsBusy
from adapter_switcher.fleet.bundle import Bundle
from adapter_switcher.fleet.bundle import BundleRejected
from adapter_switcher.fleet.bundle import DEFAULT_MAX_BYTES
from adapter_switcher.fleet.bundle import extract_payload
from adapter_switcher.fleet.bundle import read_bundle
from adapter_switcher.fleet.bundle import verify_signature
from adapter_switcher.fleet.keys import Keyring
from adapter_switcher.fleet.store import fsync_dir
from adapter_switcher.fleet.store import VersionStore


class InstallDeferred(Exception):
    """The install cannot run now (every slot busy); the bundle is kept for a later try."""


class Installer:
    """Verifies and installs bundles into a :class:`VersionStore` for one engine."""

    def __init__(self, engine: AdapterEngine, store: VersionStore, keyring: Keyring,
                 max_bytes: int = DEFAULT_MAX_BYTES,
                 on_step: Callable[[str], None] = lambda step: None):
        self.engine = engine
        self.store = store
        self.keyring = keyring
        self.max_bytes = max_bytes
        self.on_step = on_step

    def verify(self, path: Path) -> Bundle:
        """Check a bundle without installing it; raise BundleRejected with the reason."""
        with self.engine.idle_slice('bundle index', 1):
            bundle = read_bundle(path, self.max_bytes)
        with self.engine.idle_slice('signature', 1):
            self.keyring.reload()
            verify_signature(bundle, self.keyring)
        wanted = bundle.manifest.base_fingerprint
        if wanted != self.engine.fingerprint:
            raise BundleRejected(f'wrong base fingerprint: trained for {str(wanted)[:19]}..., '
                                 f'this base is {self.engine.fingerprint[:19]}...')
        if self.store.is_installed(bundle.ref):
            raise BundleRejected(f'version already installed: {bundle.ref}')
        return bundle

    def install(self, path: Path) -> str:
        """Install a bundle and return its ``name@version``; raise BundleRejected."""
        bundle = self.verify(path)
        self.on_step('verified')
        staging = Path(tempfile.mkdtemp(prefix=bundle.ref + '.', dir=self.store.staging))
        try:
            extract_payload(bundle, staging, self.engine.idle_slice)
            self.on_step('extracted')
            try:
                tried = self.engine.trial(staging, bundle.ref)
            except SlotsBusy as error:
                raise InstallDeferred(str(error)) from None
            except AdapterError as error:
                raise BundleRejected(str(error)) from None
            self.on_step('probed')
            os.rename(staging, self.store.path(bundle.ref))
            fsync_dir(self.store.root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.on_step('renamed')
        self.engine.add(self.store.path(bundle.ref), tried)
        self.on_step('registered')
        return bundle.ref
