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
File parameters: where a relative path in a node parameter points.

One rule for every node parameter and launch argument that names a file: a relative path is
looked up in the package share directory first (config/, models/, worlds/, ...), like a
package-relative resource, so the defaults work from a checkout and from an install alike; if
nothing is there, it is relative to the working directory (a file of your own next to where
you start the node). ``~`` is expanded; absolute paths are used as they are. Nodes log the
absolute path they use.
"""

import importlib
from pathlib import Path
from typing import Callable

from adapter_switcher.context.rules import load_rules
from adapter_switcher.nodes.runner import StartupError
from adapter_switcher.paths import share_dir


def resolve_path(value: str) -> Path:
    """Return the absolute path a file parameter names: share directory, else working dir."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    shared = share_dir() / path
    return shared if shared.exists() else Path.cwd() / path


def import_callable(reference: str) -> Callable:
    """Import ``package.module:function``; raise ValueError naming what is missing."""
    module_name, _, attribute = reference.partition(':')
    if not module_name or not attribute:
        raise ValueError(f"{reference!r} must look like 'package.module:function'")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f'cannot import {reference!r}: {error}') from None
    if not callable(function):
        raise ValueError(f'{reference!r} is not callable')
    return function


def load_rules_parameter(value: str):
    """Load the rules file a ``rules_file`` parameter names; raise StartupError saying why not."""
    path = resolve_path(value)
    try:
        return load_rules(path)
    except (OSError, ValueError) as error:
        detail = str(error)
        if detail.startswith(f'{path}: '):
            detail = detail[len(f'{path}: '):]
        raise StartupError(f'rules_file {path}: {detail}') from None
