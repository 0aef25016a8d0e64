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

"""``adapter-switcher adapters``: the release workflow and the robot-side commands."""

from pathlib import Path

from adapter_switcher.cli import main
from adapter_switcher.fleet.bundle import read_bundle
from adapter_switcher.fleet.store import StoreInUse
from adapter_switcher.fleet.store import StoreLock
from fleet_fixtures import install
from fleet_fixtures import make_fleet
from fleet_fixtures import write_adapter
import pytest


def _run(capsys, *argv):
    code = main(['adapters'] + [str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_keygen_pack_sign_verify_inspect_install(tmp_path, capsys):
    robot, shop, installer, controller = make_fleet(tmp_path)
    source = write_adapter(shop.base, tmp_path / 'src' / 'hazard', seed=5)
    keys, trusted = tmp_path / 'keys', tmp_path / 'trusted'
    assert _run(capsys, 'keygen', 'ops', '--dir', keys)[0] == 0
    assert (keys / 'ops.key').stat().st_mode & 0o777 == 0o600
    trusted.mkdir()
    (trusted / 'ops.pub').write_bytes((keys / 'ops.pub').read_bytes())
    bundle = tmp_path / 'hazard@1.1.0.adapter.tar'
    code, out, _ = _run(capsys, 'pack', source, '--version', '1.1.0', '--base-fingerprint',
                        robot.engine.fingerprint, '--metric', 'success=0.9', '--out', bundle)
    assert code == 0 and 'hazard@1.1.0' in out

    code, _, err = _run(capsys, 'verify', bundle, '--trusted-keys', trusted)
    assert code == 1 and 'not signed' in err and err.count('\n') == 1
    assert _run(capsys, 'sign', bundle, '--key', keys / 'ops.key')[0] == 0
    code, out, _ = _run(capsys, 'verify', bundle, '--trusted-keys', trusted,
                        '--base-fingerprint', robot.engine.fingerprint)
    assert code == 0 and "signed by 'ops'" in out
    code, _, err = _run(capsys, 'verify', bundle, '--trusted-keys', trusted,
                        '--base-fingerprint', 'sha256:' + '1' * 64)
    assert code == 1 and 'wrong base fingerprint' in err
    code, _, err = _run(capsys, 'verify', bundle, '--trusted-keys', shop.trusted)
    assert code == 1 and 'unknown key' in err

    code, out, _ = _run(capsys, 'inspect', bundle)
    manifest = read_bundle(bundle).manifest
    assert code == 0
    for text in ("'ops' key", robot.engine.fingerprint, 'r 4', "['body', 'head']",
                 'body: 4', 'head: 4', manifest.files['adapter_model.safetensors'],
                 '"success": 0.9'):
        assert text in out, text

    inbox = tmp_path / 'inbox'
    code, out, _ = _run(capsys, 'install', bundle, '--inbox', inbox)
    assert code == 0 and [p.name for p in inbox.iterdir()] == [bundle.name]
    robot.engine.close()


def test_list_promote_rollback_on_a_store(tmp_path, capsys):
    robot, shop, installer, controller = make_fleet(tmp_path)
    for version, seed in (('1.0.0', 1), ('1.1.0', 2), ('1.2.0', 3)):
        install(installer, controller, shop.bundle('nav', version, seed=seed))
    robot.engine.close()
    store = robot.store.root
    code, out, _ = _run(capsys, 'list', '--store', store)
    assert code == 0 and 'nav: 1.0.0*  1.1.0  1.2.0' in out
    assert _run(capsys, 'promote', 'nav@1.2.0', '--store', store)[0] == 0
    code, _, err = _run(capsys, 'promote', 'nav@1.1.0', '--store', store)
    assert code == 1 and 'downgrade needs force' in err
    code, out, _ = _run(capsys, 'rollback', 'nav', '--store', store)
    assert code == 0 and 'nav@1.2.0 rolled back to nav@1.0.0' in out
    code, _, err = _run(capsys, 'rollback', 'nav', '--store', store)
    assert code == 1 and 'no previous promoted version' in err
    code, _, err = _run(capsys, 'promote', 'nav@9.9.9', '--store', Path(store))
    assert code == 1 and 'not installed' in err


def test_store_edits_are_refused_while_a_node_holds_the_store(tmp_path, capsys):
    robot, shop, installer, controller = make_fleet(tmp_path)
    for version, seed in (('1.0.0', 1), ('1.1.0', 2)):
        install(installer, controller, shop.bundle('nav', version, seed=seed))
    robot.engine.close()
    store = robot.store.root
    state = (store / 'state.json').read_bytes()
    in_progress = store / '.staging' / 'nav@1.2.0.tmp1234'
    in_progress.mkdir()
    with StoreLock(store, '/robot1/inference_node'):    # what a running node holds
        for argv in (('promote', 'nav@1.1.0'), ('rollback', 'nav')):
            code, _, err = _run(capsys, *argv, '--store', store)
            assert code == 1 and 'in use by /robot1/inference_node (pid' in err, err
            assert '--node' in err and len(err.strip().splitlines()) == 1, err
        assert (store / 'state.json').read_bytes() == state, 'state.json untouched'
        code, out, _ = _run(capsys, 'list', '--store', store)
        assert code == 0 and 'nav: 1.0.0*  1.1.0' in out
        assert in_progress.is_dir(), "listing leaves the node's install in progress alone"
        with pytest.raises(StoreInUse, match='in use by /robot1/inference_node'):
            StoreLock(store, '/robot2/inference_node')
    code, out, _ = _run(capsys, 'promote', 'nav@1.1.0', '--store', store)
    assert code == 0 and 'nav@1.1.0 promoted' in out, 'the edit goes through once released'
