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
Every way a bundle can be bad is refused with a one-line reason, and changes nothing.

Each bad bundle is dropped into a real inbox; the test checks that it lands in quarantine/
with a .reason naming the problem, that the installed versions and the promotion state are
unchanged, that nothing is left in the staging area, and that the active version keeps
producing the same output.
"""

import io
import shutil
import tarfile

from adapter_switcher.fleet.bundle import BundleRejected
from adapter_switcher.fleet.bundle import check_payload
from adapter_switcher.fleet.bundle import read_bundle
from adapter_switcher.fleet.bundle import verify_signature
from adapter_switcher.fleet.controller import FleetController
from adapter_switcher.fleet.inbox import Inbox
from adapter_switcher.fleet.installer import Installer
from adapter_switcher.fleet.keys import generate_key_pair
from adapter_switcher.fleet.policy import Policies
from fleet_fixtures import observations
from fleet_fixtures import ReluPolicy
from fleet_fixtures import Robot
from fleet_fixtures import Workshop
import pytest


@pytest.fixture
def setup(tmp_path):
    robot = Robot(tmp_path / 'robot', ReluPolicy(), tmp_path / 'shop' / 'trusted')
    (tmp_path / 'shop').mkdir(exist_ok=True)
    shop = Workshop(tmp_path / 'shop', ReluPolicy(), robot.engine.fingerprint)
    robot.keyring.reload()
    installer = Installer(robot.engine, robot.store, robot.keyring, max_bytes=1 << 20)
    controller = FleetController(robot.engine, robot.store, Policies())
    inbox = Inbox(tmp_path / 'inbox', installer, controller, settle_s=0.0)
    _drop(inbox, shop.bundle('nav', '1.0.0', seed=1))
    robot.engine.activate('nav')
    yield robot, shop, inbox, controller
    robot.engine.close()


def _drop(inbox, bundle):
    target = inbox.directory / bundle.name
    shutil.copyfile(bundle, inbox.directory / ('.' + bundle.name + '.part'))
    (inbox.directory / ('.' + bundle.name + '.part')).rename(target)
    assert inbox.process_ready() == 0, 'a bundle must settle before it is taken'
    assert inbox.process_ready() == 1
    return target


def _rewrite(bundle, out, edit):
    """Copy a bundle's members through ``edit(list of (TarInfo, bytes))`` into ``out``."""
    with tarfile.open(bundle) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else b'') for m in tar]
    members = edit(members)
    with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return out


def _extra(info_kwargs, data=b''):
    def edit(members):
        info = tarfile.TarInfo(info_kwargs.pop('name'))
        for key, value in info_kwargs.items():
            setattr(info, key, value)
        info.size = len(data) if info.isfile() else 0
        return [(info, data)] + members
    return edit


def _flip_weights(members):
    out = []
    for info, data in members:
        if info.name.endswith('.safetensors'):
            data = data[:-1] + bytes([data[-1] ^ 1])
        out.append((info, data))
    return out


def _bad_signature(members):
    out = []
    for info, data in members:
        if info.name == 'signature.json':
            body = data.decode()
            key = '"signature": "'
            start = body.index(key) + len(key)
            flipped = 'B' if body[start] != 'B' else 'C'
            data = (body[:start] + flipped + body[start + 1:]).encode()
            info.size = len(data)
        out.append((info, data))
    return out


CASES = {
    'bad signature': (lambda shop, robot, b, out: _rewrite(b, out, _bad_signature),
                      'bad signature'),
    'hash mismatch': (lambda shop, robot, b, out: _rewrite(b, out, _flip_weights),
                      'hash mismatch: adapter_model.safetensors'),
    'absolute path': (lambda shop, robot, b, out: _rewrite(
        b, out, _extra({'name': '/etc/evil'}, b'x')), 'absolute path'),
    'dot-dot': (lambda shop, robot, b, out: _rewrite(
        b, out, _extra({'name': 'adapter/../../evil'}, b'x')), 'contains ..'),
    'symlink': (lambda shop, robot, b, out: _rewrite(
        b, out, _extra({'name': 'adapter/link', 'type': tarfile.SYMTYPE,
                        'linkname': '/etc/passwd'})), 'is a link'),
    'device': (lambda shop, robot, b, out: _rewrite(
        b, out, _extra({'name': 'adapter/dev', 'type': tarfile.CHRTYPE,
                        'devmajor': 1, 'devminor': 3})), 'device or fifo'),
    'unlisted member': (lambda shop, robot, b, out: _rewrite(
        b, out, _extra({'name': 'adapter/extra.txt'}, b'x')), 'not listed in the manifest'),
    'unsigned': (lambda shop, robot, b, out: _rewrite(
        b, out, lambda ms: [m for m in ms if m[0].name != 'signature.json']), 'not signed'),
}


@pytest.mark.parametrize('case', sorted(CASES) + [
    'unknown key', 'revoked key', 'wrong base', 'oversized', 'already installed',
    'non-finite weights'])
def test_bad_bundle_is_quarantined_with_its_reason(setup, case, tmp_path):
    robot, shop, inbox, controller = setup
    x = observations(1)[0]
    before = robot.engine.step(x).output.clone()
    state_before = (robot.store.root / 'state.json').read_text()
    good = shop.bundle('nav', '1.1.0', seed=2)
    out = tmp_path / 'nav@1.1.0.adapter.tar'
    if case in CASES:
        make, expected = CASES[case]
        bundle = make(shop, robot, good, out)
    elif case == 'unknown key':
        stranger, _ = generate_key_pair(tmp_path / 'stranger', 'mallory')
        bundle, expected = shop.bundle('nav', '1.1.1', seed=2, key=stranger), 'unknown key'
    elif case == 'revoked key':
        key, public = generate_key_pair(tmp_path / 'former', 'former')
        (shop.trusted / 'revoked').mkdir()
        shutil.copyfile(public, shop.trusted / 'revoked' / 'former.pub')
        bundle, expected = shop.bundle('nav', '1.1.1', seed=2, key=key), 'revoked key'
    elif case == 'wrong base':
        bundle = shop.bundle('nav', '1.1.1', seed=2, fingerprint='sha256:' + '0' * 64)
        expected = 'wrong base fingerprint'
    elif case == 'oversized':
        inbox.installer.max_bytes = 4096
        bundle, expected = good, 'oversized'
    elif case == 'already installed':
        bundle, expected = shop.bundle('nav', '1.0.0', seed=3), 'already installed: nav@1.0.0'
    else:
        bundle = shop.bundle('nav', '1.1.1', seed=2, scale=float('inf'))
        expected = 'non-finite'
    target = _drop(inbox, bundle)

    quarantined = inbox.directory / 'quarantine' / target.name
    reason = (inbox.directory / 'quarantine' / (target.name + '.reason')).read_text()
    assert quarantined.is_file() and not target.exists()
    assert expected in reason and reason.count('\n') == 1, reason
    assert robot.store.installed() == {'nav': ['1.0.0']}
    assert (robot.store.root / 'state.json').read_text() == state_before
    assert list(robot.store.staging.iterdir()) == []
    assert robot.engine.active == 'nav@1.0.0'
    assert robot.engine.step(x).output.equal(before)
    assert not (tmp_path / 'evil').exists()


def test_good_bundle_verifies_and_installs(setup):
    robot, shop, inbox, controller = setup
    bundle = shop.bundle('nav', '1.1.0', seed=2)
    opened = read_bundle(bundle)
    assert verify_signature(opened, robot.keyring).name == 'release'
    check_payload(opened)
    _drop(inbox, bundle)
    assert robot.store.installed() == {'nav': ['1.0.0', '1.1.0']}
    assert sorted(i.name for i in robot.engine.adapters()) == ['nav@1.0.0', 'nav@1.1.0']
    assert robot.engine.active == 'nav@1.0.0', 'a manual policy never switches by itself'


def test_verify_reports_a_modified_manifest(setup, tmp_path):
    robot, shop, inbox, controller = setup
    bundle = shop.bundle('nav', '1.2.0', seed=4)

    def edit(members):
        return [(i, d.replace(b'"1.2.0"', b'"1.3.0"')) for i, d in members]
    opened = read_bundle(_rewrite(bundle, tmp_path / 'x.adapter.tar', edit))
    with pytest.raises(BundleRejected, match='bad signature'):
        verify_signature(opened, robot.keyring)
