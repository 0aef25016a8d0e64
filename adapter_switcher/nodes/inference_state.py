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
What the inference node must find again after a crash: active adapter, its version, the mode.

A robot put on the ``hazard`` adapter by hand must not drive off on ``navigation`` because its
inference node was killed and respawned. The node writes this small JSON file whenever the
state changes (atomically, :func:`adapter_switcher.atomic_file.write_atomically`, so ``kill -9``
at any moment leaves the old or the new state) and reads it back at configure. A file that is
unreadable or malformed is reported and ignored: a bad state file must never stop the robot.
Plain Python, no ROS.
"""

from dataclasses import asdict
from dataclasses import dataclass
import json
import os
from pathlib import Path
from typing import Optional, Tuple, Union

from adapter_switcher.atomic_file import write_atomically

STATE_FORMAT = 'adapter_switcher.inference_state'
STATE_VERSION = 1


@dataclass(frozen=True)
class InferenceState:
    """The adapter the node runs ('' for the bare base) and how it was chosen."""

    active: str = ''
    adapter_version: str = ''
    auto_mode: bool = True
    override: str = ''

    def to_json(self) -> str:
        return json.dumps({'format': STATE_FORMAT, 'version': STATE_VERSION, **asdict(self)},
                          sort_keys=True) + '\n'

    @classmethod
    def from_json(cls, text: str) -> 'InferenceState':
        """Parse a state file's text; raise ValueError saying what is wrong with it."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f'not JSON ({error})') from None
        if not isinstance(data, dict) or data.get('format') != STATE_FORMAT:
            raise ValueError(f'not a {STATE_FORMAT} file')
        if data.get('version') != STATE_VERSION:
            raise ValueError(f'version {data.get("version")!r}, expected {STATE_VERSION}')
        fields = {}
        for name, kind in (('active', str), ('adapter_version', str), ('auto_mode', bool),
                           ('override', str)):
            value = data.get(name)
            if not isinstance(value, kind):
                raise ValueError(f'{name} must be a {kind.__name__}, got {value!r}')
            fields[name] = value
        if fields['override'] and fields['override'] != fields['active']:
            raise ValueError(f"override '{fields['override']}' is not the active adapter "
                             f"'{fields['active']}'")
        return cls(**fields)


class StateFile:
    """Reads and writes one node's InferenceState; writes only when the state changed."""

    def __init__(self, path: Union[str, os.PathLike]):
        self.path = Path(path)
        self._saved: Optional[InferenceState] = None

    def load(self) -> Tuple[Optional[InferenceState], Optional[str]]:
        """
        Return ``(state, None)``, ``(None, None)`` for no file, or ``(None, problem)``.

        ``problem`` is one line naming the file and what is wrong with it.
        """
        try:
            text = self.path.read_text(encoding='utf-8')
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeDecodeError) as error:
            return None, f'state file {self.path} is unreadable ({error}); ignoring it'
        try:
            state = InferenceState.from_json(text)
        except ValueError as error:
            return None, f'state file {self.path} is corrupt ({error}); ignoring it'
        self._saved = state
        return state, None

    def save(self, state: InferenceState) -> bool:
        """Write ``state`` if it differs from the last one written; return whether it wrote."""
        if state == self._saved:
            return False
        write_atomically(self.path, state.to_json())
        self._saved = state
        return True
