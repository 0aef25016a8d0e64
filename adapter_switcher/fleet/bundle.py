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
The over-the-air bundle: one signed, uncompressed tar file per adapter version.

Layout (nothing else is accepted)::

    adapter/manifest.json          name, version (semver), sha256 of every other file,
                                   base fingerprint, tags, metrics (the adapter's own manifest)
    adapter/adapter_config.json    the PEFT directory, as save_pretrained wrote it
    adapter/adapter_model.safetensors
    adapter/...                    other plain files the manifest lists (README.md, probe)
    signature.json                 {"algorithm": "ed25519", "key_id", "signer", "signature"}

The signature is over the exact bytes of ``adapter/manifest.json``; the manifest binds every
other file by its sha256, so one signature check plus the hashes cover the whole bundle.
Reading a bundle never trusts it: members are checked for tar-slip (absolute paths, ``..``,
links, devices) and size before any byte is written, and hashes while the bytes are copied.
"""

import base64
from dataclasses import dataclass
import hashlib
import io
import json
import os
from pathlib import Path
import shutil
import tarfile
import tempfile
from typing import Dict, Optional

from adapter_switcher.core.adapter_files import AdapterFormatError
from adapter_switcher.core.adapter_files import MANIFEST
from adapter_switcher.core.adapter_files import Manifest
from adapter_switcher.core.adapter_files import manifest_from_dict
from adapter_switcher.core.adapter_files import manifest_text
from adapter_switcher.core.adapter_files import read_manifest
from adapter_switcher.core.errors import InvalidAdapterName
from adapter_switcher.core.gap_slices import SLICE_BYTES
from adapter_switcher.core.gap_slices import Slices
from adapter_switcher.core.gap_slices import unpaced
from adapter_switcher.fleet.keys import key_id
from adapter_switcher.fleet.keys import Keyring
from adapter_switcher.fleet.keys import TrustedKey
from adapter_switcher.fleet.semver import parse_version
from adapter_switcher.fleet.semver import VersionError
from adapter_switcher.fleet.store import fsync_dir

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

BUNDLE_SUFFIX = '.adapter.tar'
PAYLOAD_DIR = 'adapter'
MANIFEST_MEMBER = f'{PAYLOAD_DIR}/{MANIFEST}'
SIGNATURE_MEMBER = 'signature.json'
MAX_MANIFEST_BYTES = 1 << 20
DEFAULT_MAX_BYTES = 256 << 20


class BundleRejected(ValueError):
    """The bundle is refused; the message is the one-line reason."""


@dataclass(frozen=True)
class Bundle:
    """A bundle whose structure and manifest were checked (its trust and hashes not yet)."""

    path: Path
    size: int
    manifest: Manifest
    manifest_bytes: bytes
    signature: Optional[dict]
    members: Dict[str, tarfile.TarInfo]

    @property
    def ref(self) -> str:
        return f'{self.manifest.name}@{self.manifest.version}'

    @property
    def signer_id(self) -> str:
        return str(self.signature.get('key_id', '')) if self.signature else ''


def pack_bundle(adapter_dir: Path, out: Path, version: str, name: Optional[str] = None,
                base_fingerprint: Optional[str] = None, tags=None, metrics=None) -> Path:
    """
    Write an unsigned bundle of a PEFT adapter directory, with a fresh manifest.

    Name, base fingerprint, tags, metrics and probe default to those of the directory's own
    manifest, if it has one; the directory itself is not modified.
    """
    adapter_dir = Path(adapter_dir)
    _check_version(version)
    old = read_manifest(adapter_dir / MANIFEST) if (adapter_dir / MANIFEST).exists() else None
    files = sorted(p for p in adapter_dir.iterdir() if p.name != MANIFEST)
    for path in files:
        if path.is_symlink() or not path.is_file():
            raise BundleRejected(f'{path} is not a plain file; a bundle holds plain files only')
    fingerprint = base_fingerprint or (old.base_fingerprint if old else None)
    if not fingerprint:
        raise BundleRejected(f'{adapter_dir} has no manifest with a base fingerprint: give '
                             'the base fingerprint (sha256:...) it was trained for')
    text = manifest_text(adapter_dir, name=name or (old.name if old else None),
                         version=version, base_fingerprint=fingerprint,
                         tags=tags if tags is not None else (old.tags if old else ()),
                         metrics=metrics if metrics is not None else (old.metrics if old else {}),
                         probe=old.probe if old else None)
    manifest_from_dict(json.loads(text))
    return _write_tar(Path(out), [(MANIFEST_MEMBER, text.encode())]
                      + [(f'{PAYLOAD_DIR}/{p.name}', p) for p in files])


def sign_bundle(path: Path, private_key: Ed25519PrivateKey, signer: str) -> str:
    """Add ``signature.json`` (ed25519 over the manifest) to a bundle; return the key id."""
    bundle = read_bundle(path)
    if bundle.signature is not None:
        raise BundleRejected(f'{path} is already signed by key {bundle.signer_id}')
    public = private_key.public_key()
    body = {'algorithm': 'ed25519', 'key_id': key_id(public), 'signer': signer,
            'signature': base64.b64encode(private_key.sign(bundle.manifest_bytes)).decode()}
    with tempfile.NamedTemporaryFile(dir=Path(path).parent, prefix='.signing-',
                                     delete=False) as tmp:
        pass
    try:
        shutil.copyfile(path, tmp.name)
        with tarfile.open(tmp.name, 'a', format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, SIGNATURE_MEMBER, json.dumps(body, sort_keys=True).encode())
        os.replace(tmp.name, path)
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    return body['key_id']


def read_bundle(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Bundle:
    """Check a bundle's size, members (tar-slip) and manifest; raise BundleRejected."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise BundleRejected(f'cannot read {path.name}: {error.strerror}') from None
    if size > max_bytes:
        raise BundleRejected(f'oversized: {size / 1e6:.1f} MB, over the limit of '
                             f'{max_bytes / 1e6:.1f} MB')
    try:
        with tarfile.open(path, 'r:') as tar:
            members = _checked_members(tar, max_bytes)
            manifest_bytes = _read_small(tar, members, MANIFEST_MEMBER)
            signature = None
            if SIGNATURE_MEMBER in members:
                signature = _parse_signature(_read_small(tar, members, SIGNATURE_MEMBER))
    except (tarfile.TarError, EOFError) as error:
        raise BundleRejected(f'not an uncompressed tar bundle: {error}') from None
    manifest = _parse_manifest(manifest_bytes)
    listed = {f'{PAYLOAD_DIR}/{name}' for name in manifest.files}
    payload = {m for m in members if m.startswith(PAYLOAD_DIR + '/') and m != MANIFEST_MEMBER}
    unlisted, missing = sorted(payload - listed), sorted(listed - payload)
    if unlisted:
        raise BundleRejected(f'member {unlisted[0]} is not listed in the manifest')
    if missing:
        raise BundleRejected(f'the manifest lists {missing[0]}, which the bundle lacks')
    return Bundle(path, size, manifest, manifest_bytes, signature, members)


def verify_signature(bundle: Bundle, keyring: Keyring) -> TrustedKey:
    """Return the trusted key that signed the manifest; raise BundleRejected."""
    if bundle.signature is None:
        raise BundleRejected('not signed (no signature.json): sign it with '
                             '`adapter-switcher adapters sign`')
    try:
        raw = base64.b64decode(bundle.signature['signature'], validate=True)
        return keyring.verify(bundle.signer_id, raw, bundle.manifest_bytes)
    except (ValueError, TypeError) as error:
        raise BundleRejected(str(error)) from None


def extract_payload(bundle: Bundle, target: Path, slices: Slices = unpaced) -> None:
    """
    Write the adapter files into the empty directory ``target``, checking every sha256.

    Each block of about a megabyte, and each file's fsync, is one slice of ``slices`` (to
    run in the control loop's idle gaps). On a hash mismatch BundleRejected is raised (the
    caller discards ``target``).
    """
    with tarfile.open(bundle.path, 'r:') as tar:
        for name, expected in sorted(bundle.manifest.files.items()):
            member = bundle.members[f'{PAYLOAD_DIR}/{name}']
            source = tar.extractfile(member)
            fd = os.open(target / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, 'wb') as sink:
                digest = _copy_hashing(source, member.size, sink, slices)
                with slices('fsync', member.size):
                    sink.flush()
                    os.fsync(sink.fileno())
            _check_digest(name, expected, digest)
        (target / MANIFEST).write_bytes(bundle.manifest_bytes)
    fsync_dir(target)


def check_payload(bundle: Bundle) -> None:
    """Check every file's sha256 against the manifest without writing anything."""
    with tarfile.open(bundle.path, 'r:') as tar:
        for name, expected in sorted(bundle.manifest.files.items()):
            member = bundle.members[f'{PAYLOAD_DIR}/{name}']
            digest = _copy_hashing(tar.extractfile(member), member.size, None, unpaced)
            _check_digest(name, expected, digest)


def _copy_hashing(source, size: int, sink, slices: Slices) -> str:
    """Hash ``size`` bytes of ``source`` (and write them to ``sink``), a block per slice."""
    digest = hashlib.sha256()
    left = size
    while left > 0:
        with slices('extract', min(left, SLICE_BYTES)):
            block = source.read(SLICE_BYTES)
            digest.update(block)
            if sink is not None:
                sink.write(block)
        left = left - len(block) if block else 0
    return digest.hexdigest()


def _check_digest(name: str, expected: str, actual: str) -> None:
    if actual != expected.lower():
        raise BundleRejected(f'hash mismatch: {name} has sha256 {actual[:12]}..., the manifest '
                             f'says {expected[:12]}...')


def _checked_members(tar: tarfile.TarFile, max_bytes: int) -> Dict[str, tarfile.TarInfo]:
    """Return the members by name after the tar-slip, type, layout and size checks."""
    members: Dict[str, tarfile.TarInfo] = {}
    total = 0
    for member in tar:
        name = member.name
        parts = name.split('/')
        if name.startswith(('/', '\\')) or (len(name) > 1 and name[1] == ':'):
            raise BundleRejected(f'member {name!r} has an absolute path (tar-slip)')
        if '..' in parts or '\\' in name:
            raise BundleRejected(f'member {name!r} contains .. (tar-slip)')
        if member.issym() or member.islnk():
            raise BundleRejected(f'member {name!r} is a link to {member.linkname!r} (tar-slip)')
        if member.ischr() or member.isblk() or member.isfifo():
            raise BundleRejected(f'member {name!r} is a device or fifo')
        if not (member.isfile() or member.isdir()):
            raise BundleRejected(f'member {name!r} is not a regular file')
        if member.isdir():
            if name.rstrip('/') != PAYLOAD_DIR:
                raise BundleRejected(f'unexpected directory {name!r} in the bundle')
            continue
        if not (name == SIGNATURE_MEMBER
                or (len(parts) == 2 and parts[0] == PAYLOAD_DIR and parts[1])):
            raise BundleRejected(f'unexpected member {name!r}: a bundle holds adapter/<file> '
                                 f'and {SIGNATURE_MEMBER} only')
        if name in members:
            raise BundleRejected(f'member {name!r} appears twice')
        total += member.size
        if total > max_bytes:
            raise BundleRejected(f'oversized: its files exceed the limit of '
                                 f'{max_bytes / 1e6:.1f} MB')
        members[name] = member
    return members


def _read_small(tar: tarfile.TarFile, members: Dict[str, tarfile.TarInfo], name: str) -> bytes:
    member = members.get(name)
    if member is None:
        raise BundleRejected(f'{name} is missing')
    if member.size > MAX_MANIFEST_BYTES:
        raise BundleRejected(f'{name} is larger than {MAX_MANIFEST_BYTES} bytes')
    return tar.extractfile(member).read()


def _parse_manifest(data: bytes) -> Manifest:
    try:
        raw = json.loads(data.decode('utf-8'))
        if not isinstance(raw, dict):
            raise ValueError('not a JSON object')
        manifest = manifest_from_dict(raw)
    except (UnicodeDecodeError, ValueError, AdapterFormatError, InvalidAdapterName) as error:
        raise BundleRejected(f'bad {MANIFEST_MEMBER}: {error}') from None
    if not manifest.name:
        raise BundleRejected(f'{MANIFEST_MEMBER} has no name')
    _check_version(manifest.version)
    return manifest


def _parse_signature(data: bytes) -> dict:
    try:
        body = json.loads(data.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as error:
        raise BundleRejected(f'bad {SIGNATURE_MEMBER}: {error}') from None
    if (not isinstance(body, dict) or body.get('algorithm') != 'ed25519'
            or not isinstance(body.get('key_id'), str)
            or not isinstance(body.get('signature'), str)):
        raise BundleRejected(f'bad {SIGNATURE_MEMBER}: need algorithm ed25519, key_id and '
                             'signature')
    return body


def _check_version(version: str) -> None:
    try:
        parse_version(version)
    except VersionError as error:
        raise BundleRejected(f'bad version: {error}') from None


def _write_tar(out: Path, entries) -> Path:
    """Write ``(member name, bytes or file path)`` entries as a tar, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f'.{out.name}.part')
    with tarfile.open(tmp, 'w', format=tarfile.PAX_FORMAT) as tar:
        for name, source in entries:
            if isinstance(source, bytes):
                _add_bytes(tar, name, source)
            else:
                info = tar.gettarinfo(str(source), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ''
                info.mode = 0o644
                with open(source, 'rb') as stream:
                    tar.addfile(info, stream)
    os.replace(tmp, out)
    return out


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
