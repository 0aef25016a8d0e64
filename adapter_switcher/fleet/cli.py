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
``adapter-switcher adapters ...``: keys, bundles, and the versions installed on a robot.

The release side: ``keygen``, ``pack``, ``sign``, ``verify``, ``inspect``. The robot side:
``install`` (an atomic drop into the node's inbox), ``list``, and ``promote`` / ``rollback``:
with ``--node NODE`` through the running node's ``~/promote`` / ``~/demote`` services (the
switch happens at once), with ``--store DIR`` on the store's ``state.json`` when no node runs
on it (a running node holds the store's lock, and the edit is refused with its name).
Every failure prints one line naming the problem and exits non-zero.
"""

from contextlib import contextmanager
import json
import os
from pathlib import Path
import shutil
import struct
import sys
import tarfile
from typing import Iterator

from adapter_switcher.fleet.bundle import BUNDLE_SUFFIX
from adapter_switcher.fleet.bundle import BundleRejected
from adapter_switcher.fleet.bundle import check_payload
from adapter_switcher.fleet.bundle import DEFAULT_MAX_BYTES
from adapter_switcher.fleet.bundle import pack_bundle
from adapter_switcher.fleet.bundle import PAYLOAD_DIR
from adapter_switcher.fleet.bundle import read_bundle
from adapter_switcher.fleet.bundle import sign_bundle
from adapter_switcher.fleet.bundle import verify_signature
from adapter_switcher.fleet.keys import generate_key_pair
from adapter_switcher.fleet.keys import key_id
from adapter_switcher.fleet.keys import KeyFileError
from adapter_switcher.fleet.keys import Keyring
from adapter_switcher.fleet.keys import load_private_key
from adapter_switcher.fleet.keys import load_public_key
from adapter_switcher.fleet.semver import parse_version
from adapter_switcher.fleet.store import StoreInUse
from adapter_switcher.fleet.store import StoreLock
from adapter_switcher.fleet.store import VersionStore

FAILURES = (BundleRejected, KeyFileError, ValueError, OSError)


def register(subparsers) -> None:
    """Add ``adapters`` and its subcommands to the ``adapter-switcher`` command line."""
    parser = subparsers.add_parser(
        'adapters', help='adapter versions: keys, signed bundles, install, promote',
        description='Make signing keys, pack and sign adapter bundles, check them, and manage '
                    'the versions installed on a robot (see docs/fleet.md).')
    commands = parser.add_subparsers(dest='adapters_command', metavar='ACTION', required=True)

    keygen = commands.add_parser('keygen', help='make an ed25519 key pair NAME.key, NAME.pub')
    keygen.add_argument('name', help='key name (file stem)')
    keygen.add_argument('--dir', default='.', help='where to write the key files')
    keygen.set_defaults(handler=run, action=_keygen)

    pack = commands.add_parser('pack', help='bundle a PEFT adapter directory (unsigned)')
    pack.add_argument('adapter_dir', help='directory save_pretrained wrote')
    pack.add_argument('--version', required=True, help='semantic version, e.g. 1.2.0')
    pack.add_argument('--name', default=None, help='adapter name (default: manifest or dir)')
    pack.add_argument('--base-fingerprint', default=None,
                      help="base model fingerprint 'sha256:...' (default: the adapter's "
                           'manifest)')
    pack.add_argument('--tag', action='append', default=None, help='tag (repeatable)')
    pack.add_argument('--metric', action='append', default=None, metavar='KEY=VALUE',
                      help='metric recorded in the manifest (repeatable)')
    pack.add_argument('--out', default=None,
                      help=f'bundle file (default: NAME@VERSION{BUNDLE_SUFFIX})')
    pack.set_defaults(handler=run, action=_pack)

    sign = commands.add_parser('sign', help='sign a bundle with a private key')
    sign.add_argument('bundle')
    sign.add_argument('--key', required=True, help='NAME.key from keygen')
    sign.add_argument('--signer', default=None, help='signer name (default: key file stem)')
    sign.set_defaults(handler=run, action=_sign)

    verify = commands.add_parser('verify', help='check a bundle as a robot would')
    verify.add_argument('bundle')
    verify.add_argument('--trusted-keys', required=True, help='directory of trusted *.pub')
    verify.add_argument('--base-fingerprint', default=None,
                        help='also require this base fingerprint')
    verify.add_argument('--max-mb', type=float, default=DEFAULT_MAX_BYTES / 1e6,
                        help='largest accepted bundle, MB')
    verify.set_defaults(handler=run, action=_verify)

    inspect = commands.add_parser('inspect', help='show what a bundle holds')
    inspect.add_argument('bundle')
    inspect.set_defaults(handler=run, action=_inspect)

    listing = commands.add_parser('list', help='versions installed in a store')
    listing.add_argument('--store', required=True, help="the node's fleet_store_dir")
    listing.set_defaults(handler=run, action=_list)

    install = commands.add_parser('install', help="drop a bundle into a node's inbox")
    install.add_argument('bundle')
    install.add_argument('--inbox', required=True, help="the node's fleet_inbox_dir")
    install.set_defaults(handler=run, action=_install)

    promote = commands.add_parser('promote', help='promote NAME@VERSION on a node or store')
    promote.add_argument('ref', help='NAME@VERSION')
    promote.add_argument('--force', action='store_true', help='allow a downgrade')
    _add_where(promote)
    promote.set_defaults(handler=run, action=_promote)

    rollback = commands.add_parser(
        'rollback', help='back to the previous promoted version (on a node: drop a candidate '
                         'first)')
    rollback.add_argument('name')
    _add_where(rollback)
    rollback.set_defaults(handler=run, action=_rollback)


def _add_where(parser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument('--node', help='running inference node, e.g. /robot1/inference_node: '
                                      'acts through its services')
    where.add_argument('--store', help='fleet_store_dir of a robot whose node is not running')
    parser.add_argument('--timeout', type=float, default=10.0,
                        help='seconds to wait for the node (with --node)')


def run(args) -> int:
    """Run one ``adapters`` action; print the one-line reason and return 1 on failure."""
    try:
        return args.action(args) or 0
    except FAILURES as error:
        print(f'adapter-switcher adapters {args.adapters_command}: {error}', file=sys.stderr)
        return 1


def _keygen(args) -> int:
    private, public = generate_key_pair(Path(args.dir), args.name)
    print(f'key id:      {key_id(load_public_key(public))}')
    print(f'private key: {private} (keep it secret)')
    print(f'public key:  {public} (copy it into the trusted-keys directory of each robot)')
    return 0


def _pack(args) -> int:
    metrics = {}
    for item in args.metric or ():
        key, _, value = item.partition('=')
        metrics[key] = float(value)
    name = args.name or _default_name(Path(args.adapter_dir))
    out = Path(args.out or f'{name}@{args.version}{BUNDLE_SUFFIX}')
    pack_bundle(Path(args.adapter_dir), out, args.version, name=name,
                base_fingerprint=args.base_fingerprint, tags=args.tag,
                metrics=metrics if args.metric else None)
    print(f'packed {name}@{args.version} into {out} (unsigned)')
    return 0


def _default_name(directory: Path) -> str:
    manifest = directory / 'manifest.json'
    if manifest.exists():
        name = json.loads(manifest.read_text(encoding='utf-8')).get('name')
        if name:
            return name
    return directory.resolve().name


def _sign(args) -> int:
    key_path = Path(args.key)
    key_id = sign_bundle(Path(args.bundle), load_private_key(key_path),
                         args.signer or key_path.stem)
    print(f'signed {args.bundle} with key {key_id}')
    return 0


def _verify(args) -> int:
    bundle = read_bundle(Path(args.bundle), int(args.max_mb * 1e6))
    signer = verify_signature(bundle, Keyring(Path(args.trusted_keys)))
    check_payload(bundle)
    wanted = bundle.manifest.base_fingerprint
    if args.base_fingerprint and wanted != args.base_fingerprint:
        raise BundleRejected(f'wrong base fingerprint: trained for {wanted}, '
                             f'not {args.base_fingerprint}')
    print(f"OK {bundle.ref}: signed by '{signer.name}' ({signer.key_id}), "
          f'{len(bundle.manifest.files)} files match their sha256')
    return 0


def _inspect(args) -> int:
    bundle = read_bundle(Path(args.bundle))
    manifest = bundle.manifest
    print(f'bundle:           {bundle.path} ({bundle.size / 1e6:.2f} MB)')
    print(f'adapter:          {bundle.ref}')
    signature = bundle.signature
    print('signer:           ' + (f"'{signature.get('signer', '')}' key {bundle.signer_id}"
                                  if signature else 'unsigned'))
    print(f'base fingerprint: {manifest.base_fingerprint}')
    print(f"tags:             {', '.join(manifest.tags) or '-'}")
    print(f'metrics:          {json.dumps(manifest.metrics, sort_keys=True)}')
    with tarfile.open(bundle.path, 'r:') as tar:
        config = json.loads(tar.extractfile(
            bundle.members[f'{PAYLOAD_DIR}/adapter_config.json']).read())
        weights = bundle.members.get(f'{PAYLOAD_DIR}/adapter_model.safetensors')
        header = _safetensors_header(tar.extractfile(weights)) if weights else {}
    print(f"config:           peft_type {config.get('peft_type')}, r {config.get('r')}, "
          f"lora_alpha {config.get('lora_alpha')}, rslora {config.get('use_rslora', False)}")
    targets = config.get('target_modules')
    print(f'targets:          {sorted(targets) if isinstance(targets, list) else targets}')
    ranks = {k.split('.lora_A')[0].removeprefix('base_model.model.'): v['shape'][0]
             for k, v in sorted(header.items()) if '.lora_A' in k and isinstance(v, dict)}
    print('ranks:')
    for module, rank in ranks.items():
        print(f'  {module}: {rank}')
    print('files:')
    for name, digest in sorted(manifest.files.items()):
        size = bundle.members[f'{PAYLOAD_DIR}/{name}'].size
        print(f'  {name:32s} {size:>12,d} B  sha256 {digest}')
    return 0


def _safetensors_header(stream) -> dict:
    """Read the JSON header of a safetensors stream (tensor names, dtypes, shapes)."""
    (length,) = struct.unpack('<Q', stream.read(8))
    header = json.loads(stream.read(min(length, 100 << 20)))
    header.pop('__metadata__', None)
    return header


def _list(args) -> int:
    store = VersionStore(Path(args.store), recover=False)
    installed = store.installed()
    if not installed:
        print(f'no versions installed in {store.root}')
    for name, versions in sorted(installed.items()):
        state = store.name_state(name)
        marks = []
        for version in sorted(versions, key=parse_version):
            tag = ('*' if version == state.promoted else
                   f' ({state.candidate_mode})' if version == state.candidate else '')
            marks.append(version + tag)
        extra = ' pinned' if state.pinned else ''
        print(f"{name}: {'  '.join(marks)}{extra}  (* promoted; previous: "
              f"{', '.join(state.history) or '-'})")
    return 0


def _install(args) -> int:
    source = Path(args.bundle)
    bundle = read_bundle(source)
    inbox = Path(args.inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    final = inbox / f'{bundle.ref}{BUNDLE_SUFFIX}'
    partial = inbox / f'.{final.name}.part'
    shutil.copyfile(source, partial)
    os.replace(partial, final)
    print(f'dropped {bundle.ref} into {inbox}; the node verifies and installs it')
    return 0


def _promote(args) -> int:
    name, _, version = args.ref.partition('@')
    if not version:
        raise ValueError(f'promote needs NAME@VERSION, got {args.ref!r}')
    if args.node:
        return _through_node(args, 'promote', args.ref + ('!' if args.force else ''))
    with _store_for_edit(args) as store:
        store.promote(name, version, args.force)
        store.save()
    print(f'{name}@{version} promoted in {store.root}')
    return 0


def _rollback(args) -> int:
    if args.node:
        return _through_node(args, 'demote', args.name)
    with _store_for_edit(args) as store:
        dropped = store.rollback(args.name)
        store.save()
    now = store.name_state(args.name).promoted
    print(f'{args.name}@{dropped} rolled back to {args.name}@{now}')
    return 0


@contextmanager
def _store_for_edit(args) -> Iterator[VersionStore]:
    """Yield the store while holding its lock; refuse if a running node holds it."""
    root = Path(args.store)
    try:
        lock = StoreLock(root, f'adapter-switcher adapters {args.adapters_command}')
    except StoreInUse as error:
        raise StoreInUse(f'{error}: its node keeps the promotion state, so act on it with '
                         '--node <node name> (or stop it first)') from None
    with lock:
        yield VersionStore(root, recover=False)


def _through_node(args, service: str, target: str) -> int:
    try:
        from adapter_switcher.nodes.fleet_client import call_fleet_service
        from adapter_switcher.nodes.fleet_client import NodeCallFailed
    except ImportError as error:
        raise OSError(f'--node needs ROS 2 (rclpy and its messages): {error}') from None
    try:
        print(call_fleet_service(args.node, service, target, args.timeout))
    except NodeCallFailed as error:
        raise OSError(str(error)) from None
    return 0
