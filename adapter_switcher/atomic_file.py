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
Write a small file so that a crash at any moment leaves either the old or the new content.

The text goes to a temporary file in the same directory, is flushed and fsync'ed, and replaces
the target with ``os.replace`` (atomic on POSIX); the directory is fsync'ed too, so the rename
itself survives a power cut. A reader therefore never sees half a file, whatever kills the
writer (``kill -9`` included). Plain Python: the state files of nodes and of the ROS-free
context policy use it alike.
"""

import os
from pathlib import Path
import tempfile
from typing import Union


def write_atomically(path: Union[str, os.PathLike], text: str) -> None:
    """Replace ``path`` with ``text`` atomically (creating its directory); raise OSError."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + '.', suffix='.tmp')
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # a platform without directory handles: the rename is still atomic
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
