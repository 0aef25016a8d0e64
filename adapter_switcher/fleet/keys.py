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
Ed25519 signing keys and the keyring of trusted public keys, with ``cryptography``.

A key pair is two files: ``NAME.key`` (PKCS#8 PEM, private, mode 0600) and ``NAME.pub``
(SubjectPublicKeyInfo PEM). A key is known by its id, the first 16 hex digits of the sha256 of
its raw public bytes. A robot trusts the ``*.pub`` files in its trusted-keys directory; moving
a key into the ``revoked/`` sub-directory revokes it (bundles it signed are refused).
"""

from dataclasses import dataclass
import hashlib
import os
from pathlib import Path
from typing import Dict, Optional, Tuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

REVOKED_DIR = 'revoked'


class KeyFileError(ValueError):
    """A key file is missing, unreadable or not an ed25519 key."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """Return the key's id: 16 hex digits of the sha256 of its raw public bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key_pair(directory: Path, name: str) -> Tuple[Path, Path]:
    """Write ``NAME.key`` (0600) and ``NAME.pub`` into ``directory``; refuse to overwrite."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / f'{name}.key', directory / f'{name}.pub'
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(f'{path} already exists; not overwriting a key')
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as stream:
        stream.write(pem)
    public_path.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a ``NAME.key`` file."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise KeyFileError(f'cannot read private key {path}: {error}') from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f'{path} is not an ed25519 private key')
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a ``NAME.pub`` file."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as error:
        raise KeyFileError(f'cannot read public key {path}: {error}') from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f'{path} is not an ed25519 public key')
    return key


@dataclass(frozen=True)
class TrustedKey:
    """A public key from the trusted-keys directory, by file stem."""

    name: str
    key_id: str
    key: Ed25519PublicKey
    revoked: bool


class Keyring:
    """The trusted (and revoked) public keys of one directory, re-read on :meth:`reload`."""

    def __init__(self, directory: Optional[Path]):
        self.directory = Path(directory) if directory else None
        self._keys: Dict[str, TrustedKey] = {}
        self.reload()

    def reload(self) -> None:
        """Read ``*.pub`` and ``revoked/*.pub`` again (a revocation wins)."""
        keys: Dict[str, TrustedKey] = {}
        if self.directory is not None:
            for revoked, folder in ((False, self.directory),
                                    (True, self.directory / REVOKED_DIR)):
                for path in sorted(folder.glob('*.pub')) if folder.is_dir() else ():
                    public = load_public_key(path)
                    keys[key_id(public)] = TrustedKey(path.stem, key_id(public), public, revoked)
        self._keys = keys

    def verify(self, signer_id: str, signature: bytes, data: bytes) -> TrustedKey:
        """Return the signer's key if ``signature`` over ``data`` is valid; raise ValueError."""
        trusted = self._keys.get(signer_id)
        if trusted is None:
            raise ValueError(f'signed by unknown key {signer_id} (not in the trusted keys '
                             f'{self.directory})')
        if trusted.revoked:
            raise ValueError(f"signed by revoked key {signer_id} ('{trusted.name}')")
        try:
            trusted.key.verify(signature, data)
        except InvalidSignature:
            raise ValueError('bad signature: the manifest was not signed by key '
                             f"'{trusted.name}' ({signer_id}), or was modified") from None
        return trusted
