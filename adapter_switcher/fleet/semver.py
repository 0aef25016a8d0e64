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
Semantic versions (semver.org 2.0): parsing and precedence, to order adapter versions.

A fleet decides "newer" and "downgrade" by precedence: 1.10.0 > 1.9.0, a pre-release sorts
before its release (1.2.0-rc.1 < 1.2.0), build metadata (+...) is ignored for ordering.
"""

from dataclasses import dataclass
import functools
import re
from typing import Tuple, Union

_IDENT = r'(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)'
_SEMVER = re.compile(
    r'(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)'
    rf'(?:-({_IDENT}(?:\.{_IDENT})*))?'
    r'(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?')


class VersionError(ValueError):
    """A version string is not a semantic version."""


@functools.total_ordering
@dataclass(frozen=True)
class SemVer:
    """One parsed semantic version; compares by semver precedence."""

    major: int
    minor: int
    patch: int
    prerelease: Tuple[Union[int, str], ...] = ()
    text: str = ''

    def _key(self):
        # A release sorts after its pre-releases; numeric identifiers before alphanumeric ones.
        pre = tuple((0, p, '') if isinstance(p, int) else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __lt__(self, other: 'SemVer') -> bool:
        return self._key() < other._key()

    def __eq__(self, other) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text


def parse_version(text: str) -> SemVer:
    """Parse ``MAJOR.MINOR.PATCH[-pre][+build]``; raise VersionError naming the problem."""
    match = _SEMVER.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise VersionError(f'{text!r} is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.2.0)')
    pre = tuple(int(p) if p.isdigit() else p for p in (match.group(4) or '').split('.') if p)
    return SemVer(int(match.group(1)), int(match.group(2)), int(match.group(3)), pre, text)
