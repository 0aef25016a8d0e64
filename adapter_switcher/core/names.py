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
Adapter names: plain identifiers that can never be read as paths.

Names arrive from manifests, topics, parameters and service calls; a name such as ``../x`` or
``a/b`` must never reach the file system, so every entry point checks names here first.
"""

import re

from adapter_switcher.core.errors import InvalidAdapterName

MAX_NAME_LENGTH = 128
_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.\-]*')


def check_adapter_name(name) -> str:
    """Return ``name`` if it is a valid adapter name, else raise InvalidAdapterName."""
    if not isinstance(name, str):
        raise InvalidAdapterName(f'adapter name must be a string, got {type(name).__name__}')
    if not name:
        raise InvalidAdapterName('adapter name is empty')
    if '/' in name or '\\' in name or '..' in name:
        raise InvalidAdapterName(
            f"invalid adapter name {name!r}: names may not contain path separators or '..'")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidAdapterName(
            f'invalid adapter name {name[:16]!r}...: longer than {MAX_NAME_LENGTH} characters')
    if not _NAME.fullmatch(name):
        raise InvalidAdapterName(
            f'invalid adapter name {name!r}: use letters, digits, _, - and ., '
            'starting with a letter or digit')
    return name
