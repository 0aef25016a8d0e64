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
Reading safetensors files: checked headers, library loads, and zero-copy views for slot writes.

``load_tensors`` is the library path (``safetensors.safe_open``) used to validate adapters
and fill the host cache. ``MappedSafetensors`` maps the file and hands out tensors that alias the
page cache, so a cold load can copy each weight straight into its resident slot with one copy,
where ``load_file`` followed by a slot copy would cost two. test_core_safetensors_io.py proves
the views equal ``load_file``'s tensors.
"""

import json
import mmap
import os
import struct
from typing import BinaryIO, Dict, Iterator, Tuple

from adapter_switcher.core.gap_slices import in_groups
from adapter_switcher.core.gap_slices import SLICE_BYTES
from adapter_switcher.core.gap_slices import Slices
from adapter_switcher.core.gap_slices import unpaced
from safetensors import safe_open
from safetensors import SafetensorError
import torch

_DTYPES = {
    'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
    'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8,
    'U8': torch.uint8, 'BOOL': torch.bool,
}
_ITEMSIZE = {name: torch.empty((), dtype=dtype).element_size() for name, dtype in _DTYPES.items()}
_MAX_HEADER_BYTES = 100 << 20


class SafetensorsFormatError(ValueError):
    """The file is not a complete, well-formed safetensors file."""


def read_header(path: str) -> Tuple[Dict[str, dict], int]:
    """
    Parse and check a safetensors header.

    Return ``(entries, data_start)`` where entries maps tensor names to their ``dtype``,
    ``shape`` and ``data_offsets``. Raise SafetensorsFormatError for a truncated file, a
    malformed header, an unknown dtype or offsets that do not match the shapes.
    """
    with open(path, 'rb') as stream:
        return _parse_header(stream, os.fstat(stream.fileno()).st_size, path)


def _unique_keys(pairs) -> dict:
    """Build a JSON object, raising KeyError on a key that appears twice (json keeps the last)."""
    result = {}
    for key, value in pairs:
        if key in result:
            raise KeyError(key)
        result[key] = value
    return result


def _parse_header(stream: BinaryIO, size: int, path: str) -> Tuple[Dict[str, dict], int]:
    prefix = stream.read(8)
    if len(prefix) < 8:
        raise SafetensorsFormatError(f'{path}: {size} bytes, too short for a safetensors file')
    (header_len,) = struct.unpack('<Q', prefix)
    if header_len > min(_MAX_HEADER_BYTES, size - 8):
        raise SafetensorsFormatError(
            f'{path}: header length {header_len} exceeds the file ({size} bytes): truncated '
            'or not a safetensors file')
    raw = stream.read(header_len)
    try:
        header = json.loads(raw, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SafetensorsFormatError(f'{path}: header is not valid JSON ({error})') from None
    except KeyError as error:
        raise SafetensorsFormatError(f'{path}: header has duplicate key {error}: which tensor '
                                     'is meant is ambiguous') from None
    if not isinstance(header, dict):
        raise SafetensorsFormatError(f'{path}: header is not a JSON object')
    data_start = 8 + header_len
    entries = {k: v for k, v in header.items() if k != '__metadata__'}
    for name, entry in entries.items():
        _check_entry(path, name, entry, size - data_start)
    return entries, data_start


def _check_entry(path: str, name: str, entry, data_size: int) -> None:
    if not isinstance(entry, dict) or entry.get('dtype') not in _DTYPES:
        dtype = entry.get('dtype') if isinstance(entry, dict) else entry
        raise SafetensorsFormatError(f'{path}: tensor {name!r} has unsupported dtype {dtype!r}')
    shape, offsets = entry.get('shape'), entry.get('data_offsets')
    if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
            or not isinstance(offsets, list) or len(offsets) != 2):
        raise SafetensorsFormatError(f'{path}: tensor {name!r} has a malformed shape or offsets')
    begin, end = offsets
    numel = 1
    for dim in shape:
        numel *= dim
    if end - begin != numel * _ITEMSIZE[entry['dtype']] or begin < 0:
        raise SafetensorsFormatError(
            f'{path}: tensor {name!r} offsets {offsets} do not match shape {shape}')
    if end > data_size:
        raise SafetensorsFormatError(
            f'{path}: tensor {name!r} ends at byte {end} but the data section has only '
            f'{data_size} bytes: the file is truncated')


def load_tensors(path: str, slices: Slices = unpaced) -> Dict[str, torch.Tensor]:
    """
    Load every tensor with the library after checking the header.

    ``safe_open`` and ``get_tensor`` per tensor, which is what ``load_file`` does, so about
    a megabyte of tensors at a time can be one slice of ``slices`` (see :mod:`gap_slices`).
    """
    entries, _ = read_header(path)
    tensors = {}
    try:
        with safe_open(path, framework='pt') as stream:
            for keys, nbytes in in_groups(stream.offset_keys(), lambda k: _nbytes(entries[k]),
                                          SLICE_BYTES):
                with slices('read', nbytes):
                    tensors.update((key, stream.get_tensor(key)) for key in keys)
    except SafetensorError as error:
        raise SafetensorsFormatError(f'{path}: {error}') from None
    return tensors


def _nbytes(entry: dict) -> int:
    begin, end = entry['data_offsets']
    return end - begin


class MappedSafetensors:
    """
    A safetensors file mapped into memory, handing out tensors that alias the mapping.

    The views are only read (copied into slots); the mapping is private (copy-on-write), so
    nothing can ever be written back to the file. ``identity`` is (size, mtime_ns, inode) of
    the file actually mapped, so a caller can tell it is still the file it validated. The
    mapping lives as long as any view does.
    """

    def __init__(self, path: str):
        self.path = path
        with open(path, 'rb') as stream:
            stat = os.fstat(stream.fileno())
            self.identity = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            self._map = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_COPY)
        self._entries, self._data_start = _parse_header(self._map, stat.st_size, path)

    def keys(self) -> Iterator[str]:
        """Return the tensor names, in file order."""
        return iter(self._entries)

    def view(self, name: str) -> torch.Tensor:
        """Return a tensor that aliases the mapped file (no copy)."""
        entry = self._entries[name]
        dtype = _DTYPES[entry['dtype']]
        begin, end = entry['data_offsets']
        if end == begin:
            return torch.empty(entry['shape'], dtype=dtype)
        flat = torch.frombuffer(self._map, dtype=dtype,
                                count=(end - begin) // _ITEMSIZE[entry['dtype']],
                                offset=self._data_start + begin)
        return flat.view(entry['shape'])
