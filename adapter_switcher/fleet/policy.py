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
Promotion policies, per adapter name, and the deterministic canary split.

* ``manual``: a new version waits until an operator promotes it.
* ``canary``: the new version serves ``share`` of the windows (episodes, or ``window_s``
  seconds of time); which windows is decided by a hash of (key, name, version, window), the
  key being the robot id, so a robot and the fleet as a whole are reproducible. After
  ``promote_after`` clean candidate windows it is promoted (0: an operator decides).
* ``shadow``: the new version runs on the active version's inputs in idle time, its output is
  never used; the divergence is reported. With ``min_ticks`` > 0 it is promoted once that many
  ticks were compared and at most ``max_share`` of them diverged by more than ``threshold``.

Written in the parameters YAML as a mapping from name (or ``default``) to its settings, e.g.
``navigation: {mode: canary, share: 0.2, window: time, window_s: 30}``.
"""

from dataclasses import dataclass
from dataclasses import fields
import hashlib
from typing import Any, Dict, Mapping

import yaml

MODES = ('manual', 'canary', 'shadow')
WINDOWS = ('episode', 'time')


@dataclass(frozen=True)
class Policy:
    """How new versions of one adapter name are rolled out."""

    mode: str = 'manual'
    share: float = 0.1
    window: str = 'time'
    window_s: float = 60.0
    promote_after: int = 0
    threshold: float = 0.05
    min_ticks: int = 0
    max_share: float = 0.01

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f'mode {self.mode!r}: use one of {", ".join(MODES)}')
        if self.window not in WINDOWS:
            raise ValueError(f'window {self.window!r}: use one of {", ".join(WINDOWS)}')
        if not 0.0 <= self.share <= 1.0 or not 0.0 <= self.max_share <= 1.0:
            raise ValueError('share and max_share must be between 0 and 1')
        if self.window_s <= 0 or self.threshold < 0:
            raise ValueError('window_s must be > 0 and threshold >= 0')


class Policies:
    """The policy of every name: its own entry, else ``default``, else manual."""

    def __init__(self, entries: Mapping[str, Policy] = None):
        self.entries = dict(entries or {})

    def __getitem__(self, name: str) -> Policy:
        return self.entries.get(name) or self.entries.get('default') or Policy()


def parse_policies(source: Any) -> Policies:
    """Read policies from a mapping or YAML text; raise ValueError naming the bad entry."""
    raw = yaml.safe_load(source) if isinstance(source, str) else source
    if raw is None:
        return Policies()
    if not isinstance(raw, dict):
        raise ValueError('promotion policies must map adapter names to settings')
    known = {f.name for f in fields(Policy)}
    entries: Dict[str, Policy] = {}
    for name, body in raw.items():
        body = {'mode': body} if isinstance(body, str) else body
        if not isinstance(body, dict):
            raise ValueError(f'policy {name!r}: expected a mapping, got {body!r}')
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f'policy {name!r}: unknown setting(s) {unknown}')
        try:
            entries[str(name)] = Policy(**body)
        except (TypeError, ValueError) as error:
            raise ValueError(f'policy {name!r}: {error}') from None
    return Policies(entries)


def canary_serves_candidate(key: str, name: str, version: str, window: int,
                            share: float) -> bool:
    """Return whether window ``window`` goes to the candidate: a hash below ``share``."""
    digest = hashlib.sha256(f'{key}\0{name}\0{version}\0{window}'.encode()).digest()
    return int.from_bytes(digest[:8], 'big') < share * (1 << 64)
