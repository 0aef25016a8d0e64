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
The inference node's version lifecycle over real DDS: inbox, ~/promote, health rollback.

One inference node process with a version store, an inbox and trusted keys; bundles of the
shipped demo adapters are signed here and dropped into the inbox as a fleet server would, and
``adapter-switcher adapters promote|rollback --node`` acts on the running node.
"""

import dataclasses
import shutil
import subprocess
import sys

from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.fleet.bundle import pack_bundle
from adapter_switcher.fleet.bundle import sign_bundle
from adapter_switcher.fleet.keys import generate_key_pair
from adapter_switcher.fleet.keys import load_private_key
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.paths import share_path
from dds_harness import DdsHarness
from dds_harness import node_env
import pytest
from std_msgs.msg import Bool
from std_msgs.msg import String
from std_srvs.srv import Trigger

pytestmark = pytest.mark.dds

DOMAIN_ID = 60
START_TIMEOUT = 120.0
TIMEOUT = 60.0
NODE = '/inference_node'


def _bundle(tmp_path, source, version, key=None):
    out = tmp_path / 'bundles' / f'hazard@{version}.adapter.tar'
    pack_bundle(share_path(f'models/demo/adapters/{source}'), out, version, name='hazard')
    if key is not None:
        sign_bundle(out, key, 'release')
    return out


def _drop(inbox, bundle):
    partial = inbox / f'.{bundle.name}.part'
    shutil.copyfile(bundle, partial)
    partial.rename(inbox / bundle.name)


def test_node_installs_promotes_and_rolls_back_versions(tmp_path):
    private, public = generate_key_pair(tmp_path / 'keys', 'release')
    key = load_private_key(private)
    trusted, inbox, empty = tmp_path / 'trusted', tmp_path / 'inbox', tmp_path / 'adapters'
    for directory in (trusted, inbox, empty):
        directory.mkdir()
    shutil.copyfile(public, trusted / 'release.pub')
    first = _bundle(tmp_path, 'hazard', '1.0.0', key)
    second = _bundle(tmp_path, 'navigation', '1.1.0', key)
    unsigned = _bundle(tmp_path, 'navigation', '1.2.0')
    spec = {s.name: s for s in robot_node_specs(adapters_dir=empty)}['inference_node']
    spec = dataclasses.replace(spec, parameters=tuple(spec.parameters) + ({
        'fleet_store_dir': str(tmp_path / 'store'), 'fleet_inbox_dir': str(inbox),
        'trusted_keys_dir': str(trusted), 'health_topic': '/safety_ok',
        'sensor_timeout_s': 5.0},))

    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        active = dds.subscribe(String, '/active_adapter', LATCHED_QOS)
        events = dds.subscribe(String, f'{NODE}/fleet_events', COMMAND_QOS)
        health = dds.publisher(Bool, '/safety_ok', COMMAND_QOS)

        def event(text, what):
            dds.wait_for(lambda: any(text in m.data for m in events.messages()), TIMEOUT,
                         f'fleet event {what!r} (got {[m.data for m in events.messages()]})')

        def active_is(value):
            dds.wait_for(lambda: active.last() is not None and active.last().data == value,
                         TIMEOUT, f'active_adapter {value}')

        dds.start(spec)
        dds.wait_for(lambda: active.last() is not None, START_TIMEOUT, 'the node active')
        _drop(inbox, first)
        event('hazard@1.0.0 installed and promoted', 'first version promoted')
        result = dds.set_parameters(NODE, {'adapter_override': 'hazard'})[0]
        assert result.successful, result.reason
        active_is('hazard@1.0.0')

        _drop(inbox, second)
        event('hazard@1.1.0 installed; waiting to be promoted', 'second version waiting')
        _drop(inbox, unsigned)
        reason = inbox / 'quarantine' / (unsigned.name + '.reason')
        dds.wait_for(reason.exists, TIMEOUT, 'the unsigned bundle quarantined')
        assert 'not signed' in reason.read_text()
        active_is('hazard@1.0.0')

        assert dds.set_parameters(NODE, {'fleet_target': 'hazard@1.1.0'})[0].successful
        response = dds.call_service(Trigger, f'{NODE}/promote', Trigger.Request())
        assert response.success, response.message
        active_is('hazard@1.1.0')
        listing = dds.call_service(Trigger, f'{NODE}/list_adapters', Trigger.Request()).message
        assert 'hazard [versions]' in listing and 'promoted 1.1.0' in listing, listing

        dds.wait_for_subscribers(health)
        health.publish(Bool(data=False))
        active_is('hazard@1.0.0')
        event('automatic rollback: /safety_ok reported a fault', 'the rollback reason')
        response = dds.call_service(Trigger, f'{NODE}/demote', Trigger.Request())
        assert not response.success and 'no previous promoted version' in response.message

        # The command line reaches the running node through these services...
        code, text = _cli('promote', 'hazard@1.1.0', '--node', NODE, '--timeout', '30')
        assert code == 0 and 'hazard@1.1.0 promoted' in text, text
        active_is('hazard@1.1.0')
        code, text = _cli('rollback', 'hazard', '--node', NODE.lstrip('/'), '--timeout', '30')
        assert code == 0 and 'hazard@1.1.0 demoted to hazard@1.0.0' in text, text
        active_is('hazard@1.0.0')
        # ...and refuses to edit the store under it, or to call a node that is not there.
        code, text = _cli('promote', 'hazard@1.1.0', '--store', tmp_path / 'store')
        assert code == 1 and f'in use by {NODE} (pid' in text and '--node' in text, text
        code, text = _cli('promote', 'hazard@1.1.0', '--node', '/nobody', '--timeout', '2')
        assert code == 1 and 'no service /nobody/set_parameters' in text, text
        active_is('hazard@1.0.0')


def _cli(*argv):
    """Run ``adapter-switcher adapters ...`` as an operator would, on the test's domain."""
    done = subprocess.run([sys.executable, '-m', 'adapter_switcher.cli', 'adapters',
                           *map(str, argv)], env=node_env(DOMAIN_ID), capture_output=True,
                          text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr
