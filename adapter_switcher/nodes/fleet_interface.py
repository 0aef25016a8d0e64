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
The inference node's adapter-version lifecycle: inbox, promotion services, health, reporting.

A thin ROS layer over :mod:`adapter_switcher.fleet`. Enabled by ``fleet_store_dir``; then the
store is scanned as one more adapters directory, bundles dropped into ``fleet_inbox_dir`` are
verified against ``trusted_keys_dir`` and installed in the loader's idle gaps, and each name
follows its ``promotion_policies`` entry. Commands are std_srvs services acting on the
``fleet_target`` parameter (``name@version``, or a name; a trailing ``!`` forces a downgrade)::

    ros2 param set /inference_node fleet_target navigation@1.2.0
    ros2 service call /inference_node/promote std_srvs/srv/Trigger

``~/promote`` promotes the target (a plain name: its candidate or newest version), ``~/demote``
drops the name's candidate or goes back to its previous version, ``~/pin`` holds the name at
``name@version`` (a plain name unpins), ``~/next_episode`` starts a canary window for
episode-based policies. Every decision, automatic rollbacks included, is logged and published
on ``~/fleet_events``; versions, candidates and shadow divergence are on /diagnostics and in
``~/list_adapters``. The node holds the store's lock (:class:`StoreLock`) while it runs, so a
second node on the same store fails to start, and ``adapter-switcher adapters promote|rollback
--store`` is refused with the node's name (``--node`` goes through these services instead).
"""

from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterError
from adapter_switcher.core import StepResult
from adapter_switcher.fleet.controller import FleetController
from adapter_switcher.fleet.inbox import Inbox
from adapter_switcher.fleet.installer import Installer
from adapter_switcher.fleet.keys import Keyring
from adapter_switcher.fleet.policy import parse_policies
from adapter_switcher.fleet.store import StoreInUse
from adapter_switcher.fleet.store import StoreLock
from adapter_switcher.fleet.store import VersionStore
from adapter_switcher.nodes.params import ParamSpec
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.resolve import resolve_path
from adapter_switcher.nodes.runner import StartupError

from std_msgs.msg import Bool
from std_msgs.msg import String
from std_srvs.srv import Trigger

FLEET_PARAMETERS = (
    ParamSpec('fleet_store_dir', '',
              'Directory of installed adapter versions (NAME@VERSION/ and state.json), scanned '
              'as one more adapters directory; empty: no version lifecycle.', read_only=True),
    ParamSpec('fleet_inbox_dir', '',
              'Watched directory for signed bundles (*.adapter.tar); rejected ones move to '
              'its quarantine/ with a .reason file. Empty: no inbox.', read_only=True),
    ParamSpec('trusted_keys_dir', '',
              'Directory of trusted ed25519 public keys (*.pub); keys moved into its revoked/ '
              'are refused.', read_only=True),
    ParamSpec('bundle_max_mb', 256.0, 'Largest bundle accepted, in MB.',
              read_only=True, value_range=(0.001, 1e6)),
    ParamSpec('robot_id', '',
              'Key of the deterministic canary split (empty: the node namespace).',
              read_only=True),
    ParamSpec('promotion_policies', '',
              'YAML mapping adapter name (or default) -> {mode: manual|canary|shadow, share, '
              'window: time|episode, window_s, promote_after, threshold, min_ticks, '
              'max_share}.', read_only=True),
    ParamSpec('health_topic', '',
              'std_msgs/Bool topic: false reports a fault, which rolls the active version '
              'back if it is a candidate or has a previous version. Empty: none.',
              read_only=True),
    ParamSpec('fleet_target', '',
              "Target of ~/promote, ~/demote and ~/pin: 'name@version' or 'name' (a trailing "
              "'!' forces a downgrade)."),
)


def with_fleet_store(params: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the node parameters with the version store added to the adapters directories."""
    params = dict(params)
    if params['fleet_store_dir']:
        store = str(resolve_path(params['fleet_store_dir']))
        Path(store).mkdir(parents=True, exist_ok=True)
        known = [str(resolve_path(d)) for d in params['adapters_dirs'] if d]
        if store not in known:
            params['adapters_dirs'] = list(params['adapters_dirs']) + [store]
    return params


class FleetInterface:
    """Wires a :class:`FleetController` and an :class:`Inbox` into a managed node."""

    def __init__(self, node, engine: AdapterEngine, params: Mapping[str, Any]):
        self.node = node
        try:
            policies = parse_policies(params['promotion_policies'] or None)
        except ValueError as error:
            raise StartupError(f'promotion_policies: {error}') from None
        root = resolve_path(params['fleet_store_dir'])
        try:
            self._hold = StoreLock(root, node.get_fully_qualified_name())
        except StoreInUse as error:
            raise StartupError(f'fleet_store_dir: {error}; one node serves a store') from None
        try:
            self._open(node, engine, params, policies, VersionStore(root))
        except BaseException:
            self._hold.release()
            raise

    def _open(self, node, engine: AdapterEngine, params: Mapping[str, Any], policies,
              store: VersionStore) -> None:
        keys = params['trusted_keys_dir']
        self.keyring = Keyring(resolve_path(keys) if keys else None)
        keep = node.keep_until_cleanup
        self._events = keep(node.create_lifecycle_publisher(String, '~/fleet_events',
                                                            COMMAND_QOS))
        self.last_event = ''
        self.controller = FleetController(
            engine, store, policies, key=params['robot_id'] or node.get_namespace(),
            on_event=self._publish_event)
        self.inbox: Optional[Inbox] = None
        if params['fleet_inbox_dir']:
            installer = Installer(engine, store, self.keyring,
                                  max_bytes=int(params['bundle_max_mb'] * 1e6))
            self.inbox = Inbox(resolve_path(params['fleet_inbox_dir']), installer,
                               self.controller, on_event=self._publish_event)
            self.inbox.start()
        for name, handler in (('promote', self._on_promote), ('demote', self._on_demote),
                              ('pin', self._on_pin), ('next_episode', self._on_next_episode)):
            keep(node.create_service(Trigger, f'~/{name}', handler))
        if params['health_topic']:
            topic = params['health_topic']
            keep(node.create_subscription(
                Bool, topic, lambda msg: self.controller.report_health(msg.data, topic),
                COMMAND_QOS))

    # ------------------------------------------------------------------------- control loop
    def after_step(self, result: StepResult, inputs) -> None:
        """Call after every tick (cheap: counts, finiteness, shadow hand-over, canary)."""
        try:
            self.controller.after_step(result, inputs)
        except AdapterError as error:   # a refused switch must not cost the tick its command
            self.node.get_logger().warning(f'fleet: {error}', throttle_duration_sec=2.0)

    # ----------------------------------------------------------------------------- services
    def _target(self):
        target = self.node.get_parameter('fleet_target').value.strip()
        force = target.endswith('!')
        return target.rstrip('!'), force

    def _answer(self, response, action):
        try:
            response.message = action()
            response.success = True
        except (AdapterError, ValueError) as error:
            response.success, response.message = False, str(error)
        return response

    def _on_promote(self, _request, response):
        target, force = self._target()
        if not target:
            response.success, response.message = False, 'set fleet_target first'
            return response
        return self._answer(response, lambda: self.controller.promote(target, force))

    def _on_demote(self, _request, response):
        target, _ = self._target()
        target = target or self.controller.engine.active or ''
        if not target:
            response.success, response.message = False, 'set fleet_target first'
            return response
        return self._answer(response, lambda: self.controller.demote(target))

    def _on_pin(self, _request, response):
        target, _ = self._target()
        if '@' in target:
            return self._answer(response, lambda: self.controller.pin(target))
        return self._answer(response, lambda: self.controller.unpin(target))

    def _on_next_episode(self, _request, response):
        self.controller.next_episode()
        response.success, response.message = True, 'next canary window'
        return response

    # ---------------------------------------------------------------------------- reporting
    def _publish_event(self, text: str) -> None:
        self.last_event = text
        self.node.get_logger().info(f'fleet: {text}')
        self._events.publish(String(data=text))

    def diagnostic_values(self) -> Dict[str, Any]:
        """Return ``fleet.<name>.<key>`` values for /diagnostics."""
        values: Dict[str, Any] = {'fleet.last_event': self.last_event}
        for name, entry in self.controller.status().items():
            values.update({f'fleet.{name}.{k}': v for k, v in entry.items()})
        if self.inbox is not None:
            values['fleet.inbox_installed'] = self.inbox.installed
            values['fleet.inbox_rejected'] = self.inbox.rejected
        return values

    def list_lines(self) -> str:
        """Return one line per name for ``~/list_adapters``."""
        lines = []
        for name, entry in self.controller.status().items():
            text = ', '.join(f'{k} {v}' for k, v in entry.items() if v not in ('', None))
            lines.append(f'{name} [versions] {text}')
        return '\n'.join(lines)

    def close(self) -> None:
        if self.inbox is not None:
            self.inbox.stop()
        self.controller.close()
        self._hold.release()


def open_fleet(node, engine: AdapterEngine, params: Mapping[str, Any]):
    """Return the node's FleetInterface, or None when ``fleet_store_dir`` is empty."""
    return FleetInterface(node, engine, params) if params['fleet_store_dir'] else None
