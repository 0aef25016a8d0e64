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
The on-disk adapter format: a PEFT LoRA directory plus an optional manifest.

A directory is what ``PeftModel.save_pretrained`` writes (``adapter_config.json`` and
``adapter_model.safetensors``), optionally with ``manifest.json`` (name, version, sha256 of the
files, base fingerprint, tags, metrics, probe). Weights are only ever read from safetensors:
pickle files (``.bin``, ``.pt``, ...) can run code when loaded, so they are refused, never opened.
"""

from dataclasses import dataclass
from dataclasses import field
import hashlib
import json
import os
from pathlib import Path
from typing import Collection, Dict, List, Optional

from adapter_switcher.core.gap_slices import SLICE_BYTES
from adapter_switcher.core.gap_slices import Slices
from adapter_switcher.core.gap_slices import unpaced
from adapter_switcher.core.lora_config import LoraConfigError
from adapter_switcher.core.lora_config import LoraSettings
from adapter_switcher.core.names import check_adapter_name

ADAPTER_CONFIG = 'adapter_config.json'
ADAPTER_WEIGHTS = 'adapter_model.safetensors'
MANIFEST = 'manifest.json'
# adapter_config.json and manifest.json are small; a larger one is refused before it is read.
MAX_JSON_BYTES = 1 << 20
PICKLE_SUFFIXES = ('.bin', '.pt', '.pth', '.pkl', '.pickle', '.ckpt')
MANIFEST_KEYS = {'name', 'version', 'files', 'base_fingerprint', 'tags', 'metrics', 'probe'}


class AdapterFormatError(ValueError):
    """The directory is not a readable PEFT LoRA adapter; the message says what is wrong."""


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` declares about an adapter."""

    name: Optional[str] = None
    version: str = ''
    files: Dict[str, str] = field(default_factory=dict)
    base_fingerprint: Optional[str] = None
    tags: List[str] = field(default_factory=list)
    metrics: Dict[str, float] = field(default_factory=dict)
    probe: Optional[dict] = None


@dataclass(frozen=True)
class AdapterFiles:
    """The files of one adapter directory, checked to exist and be of the accepted kinds."""

    directory: Path
    config_path: Path
    weights_path: Path
    manifest: Optional[Manifest]


def is_adapter_dir(path: Path) -> bool:
    """Return whether ``path`` looks like an adapter directory (to discover and report)."""
    if not path.is_dir():
        return False
    if any((path / name).exists() for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS, MANIFEST)):
        return True
    return any(p.suffix in PICKLE_SUFFIXES for p in path.iterdir() if p.is_file())


def locate_files(directory: Path) -> AdapterFiles:
    """Check the directory's files and read its manifest; raise AdapterFormatError if unusable."""
    config_path = directory / ADAPTER_CONFIG
    weights_path = directory / ADAPTER_WEIGHTS
    for path in (config_path, weights_path, directory / MANIFEST):
        check_inside(path, directory)
    if not config_path.is_file():
        raise AdapterFormatError(f'{ADAPTER_CONFIG} is missing in {directory}')
    if not weights_path.is_file():
        pickles = sorted(p.name for p in directory.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise AdapterFormatError(
                f'pickle weights refused ({", ".join(pickles)}): pickle can execute code when '
                f'loaded; save the adapter as {ADAPTER_WEIGHTS} (safe_serialization=True)')
        raise AdapterFormatError(f'{ADAPTER_WEIGHTS} is missing in {directory}')
    manifest_path = directory / MANIFEST
    manifest = read_manifest(manifest_path) if manifest_path.exists() else None
    return AdapterFiles(directory, config_path, weights_path, manifest)


def read_lora_config(path: Path) -> LoraSettings:
    """Read ``adapter_config.json`` by PEFT's LoraConfig rules, refusing other PEFT types."""
    raw = _read_json_object(path)
    peft_type = raw.get('peft_type')
    if peft_type != 'LORA':
        raise AdapterFormatError(
            f'{path.name}: peft_type is {peft_type!r}, only LORA is supported')
    try:
        return LoraSettings.from_dict(raw)
    except LoraConfigError as error:
        raise AdapterFormatError(f'{path.name} is not a valid LoraConfig: {error}') from None


def check_inside(path: Path, directory: Path) -> None:
    """
    Raise AdapterFormatError if ``path`` (followed through symlinks) lies outside ``directory``.

    A symlink out of an adapter directory would let whoever can write the link make the engine
    read any file the robot can read, and it escapes the signature and hash checks that cover
    the directory.
    """
    if not (path.is_symlink() or path.exists()):
        return
    real, home = path.resolve(), directory.resolve()
    if real != home and home not in real.parents:
        raise AdapterFormatError(f'{path.name} is a link to {real}, outside {home}')


def _read_json_object(path: Path) -> dict:
    try:
        with open(path, 'rb') as stream:
            data = stream.read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            raise AdapterFormatError(f'{path.name} is larger than a config needs '
                                     f'({MAX_JSON_BYTES} bytes)')
        raw = json.loads(data.decode('utf-8'))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AdapterFormatError(f'{path.name} is not readable JSON: {error}') from None
    if not isinstance(raw, dict):
        raise AdapterFormatError(f'{path.name} is not a JSON object')
    return raw


def read_manifest(path: Path) -> Manifest:
    """Read and check ``manifest.json``."""
    return manifest_from_dict(_read_json_object(path))


def manifest_from_dict(raw: dict) -> Manifest:
    """Check a parsed ``manifest.json`` (from a file or an archive) and return it."""
    unknown = sorted(set(raw) - MANIFEST_KEYS)
    if unknown:
        raise AdapterFormatError(f'{MANIFEST} has unknown keys {unknown}')
    name = raw.get('name')
    if name is not None:
        check_adapter_name(name)
    files = raw.get('files', {})
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise AdapterFormatError(f'{MANIFEST}: files must map file names to sha256 hex digests')
    for filename in files:
        if os.path.basename(filename) != filename or filename in ('', '.', '..'):
            raise AdapterFormatError(f'{MANIFEST}: file entry {filename!r} is not a plain name')
    tags = raw.get('tags', [])
    metrics = raw.get('metrics', {})
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise AdapterFormatError(f'{MANIFEST}: tags must be a list of strings')
    if not isinstance(metrics, dict) or not all(
            isinstance(v, (int, float)) for v in metrics.values()):
        raise AdapterFormatError(f'{MANIFEST}: metrics must map names to numbers')
    return Manifest(name=name, version=str(raw.get('version', '')), files=dict(files),
                    base_fingerprint=raw.get('base_fingerprint'), tags=list(tags),
                    metrics=dict(metrics), probe=raw.get('probe'))


def sha256_file(path: Path, slices: Slices = unpaced) -> str:
    """Return the hex sha256 of a file, read in blocks (each one slice of ``slices``)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        left = os.fstat(stream.fileno()).st_size
        while left > 0:
            with slices('hash', min(left, SLICE_BYTES)):
                block = stream.read(SLICE_BYTES)
                digest.update(block)
            left = left - len(block) if block else 0
        digest.update(stream.read())    # bytes appended meanwhile: a mismatch, as it should be
    return digest.hexdigest()


def verify_manifest_files(files: AdapterFiles, slices: Slices = unpaced,
                          skip: Collection[str] = ()) -> None:
    """Check every file the manifest lists, except those in ``skip``, against its sha256."""
    if files.manifest is None:
        return
    for filename, expected in files.manifest.files.items():
        path = files.directory / filename
        if not path.is_file():
            raise AdapterFormatError(f'{MANIFEST} lists {filename}, which is missing')
        if filename in skip:
            continue
        actual = sha256_file(path, slices)
        if actual != expected.lower():
            raise AdapterFormatError(
                f'{filename} does not match its sha256 in {MANIFEST} '
                f'(expected {expected[:12]}..., found {actual[:12]}...): corrupt or modified')


def manifest_text(directory: Path, name: Optional[str] = None, version: str = '',
                  base_fingerprint: Optional[str] = None, tags=(), metrics=None,
                  probe: Optional[dict] = None) -> str:
    """Return the ``manifest.json`` text listing the sha256 of every file in the directory."""
    directory = Path(directory)
    files = {p.name: sha256_file(p) for p in sorted(directory.iterdir())
             if p.is_file() and p.name != MANIFEST}
    body = {'name': name or directory.name, 'version': version, 'files': files,
            'base_fingerprint': base_fingerprint, 'tags': list(tags),
            'metrics': dict(metrics or {})}
    if probe is not None:
        body['probe'] = probe
    return json.dumps(body, indent=2, sort_keys=True) + '\n'


def write_manifest(directory: Path, *args, **kwargs) -> Path:
    """Write ``manifest.json`` (see :func:`manifest_text`) into the adapter directory."""
    path = Path(directory) / MANIFEST
    tmp = path.with_suffix('.json.tmp')
    tmp.write_text(manifest_text(directory, *args, **kwargs), encoding='utf-8')
    os.replace(tmp, path)
    return path
