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

Where the registry holds several versions of one adapter, a reference ``name@version`` names
one version exactly, and the plain ``name`` means the version the registry serves for it.
"""

import re
from typing import Optional, Tuple

from adapter_switcher.core.errors import InvalidAdapterName

MAX_NAME_LENGTH = 128
_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.\-]*')
_VERSION = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.+\-]*')
VERSION_SEPARATOR = '@'


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


def check_adapter_ref(ref) -> str:
    """Return ``ref`` if it is a valid ``name`` or ``name@version``, else raise."""
    split_adapter_ref(ref)
    return ref


def split_adapter_ref(ref) -> Tuple[str, Optional[str]]:
    """Split ``name@version`` into ``(name, version)``; a plain name gives ``(name, None)``."""
    if not isinstance(ref, str) or VERSION_SEPARATOR not in ref:
        return check_adapter_name(ref), None
    name, version = ref.split(VERSION_SEPARATOR, 1)
    check_adapter_name(name)
    if not _VERSION.fullmatch(version) or '..' in version or len(version) > MAX_NAME_LENGTH:
        raise InvalidAdapterName(
            f'invalid adapter version {version!r} in {ref!r}: use letters, digits, _, -, + '
            'and ., starting with a letter or digit')
    return name, version
