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
The lifecycle manager: brings managed nodes up in order and down in reverse, as Nav2's does.

``node_names`` lists the managed nodes (relative to this node's namespace) in start-up order.
Startup configures them all, then activates them all; pause deactivates and reset cleans up, in
reverse order; shutdown finalizes them. With ``autostart`` the manager starts them up as soon as
they answer. The commands are std_srvs/Trigger services (``~/startup``, ``~/pause``,
``~/resume``, ``~/reset``, ``~/shutdown``) plus ``~/is_active``, in place of Nav2's
ManageLifecycleNodes service, whose message package has no wheel. When the automatic startup
fails (a node's configure refused: a bad rules file, a missing adapters directory), the manager
exits with status 1, so the bringup and launch files stop instead of running half a robot; the
node's own log line says why.

Nav2 watches its nodes with bonds; here every ``check_period_s`` the manager asks each node for
its state. When the system should be active and a node answers "unconfigured", it was restarted
(``respawn``): the manager configures and activates it again, so a crashed node returns to
service without a person. A node that does not answer is reported, throttled.
"""

import sys
import threading
import time
from typing import List, Optional

from adapter_switcher.nodes.executor import BoundedThreadsExecutor
from adapter_switcher.nodes.params import declare_all
from adapter_switcher.nodes.params import ParamSpec
from adapter_switcher.nodes.runner import run_node
from adapter_switcher.nodes.runner import StartupError

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from lifecycle_msgs.srv import GetState
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from std_srvs.srv import Trigger

PARAMETERS = (
    ParamSpec('node_names', ['context_manager', 'inference_node'],
              'Managed nodes in start-up order (names relative to this namespace); shut down '
              'in reverse order.', read_only=True),
    ParamSpec('autostart', True,
              'Configure and activate the nodes as soon as they answer.', read_only=True),
    ParamSpec('service_timeout_s', 30.0,
              'How long one lifecycle service call may take (configure loads the model).',
              read_only=True, value_range=(0.1, 600.0)),
    ParamSpec('check_period_s', 1.0,
              'How often every node is asked for its state; a node found unconfigured while '
              'the system is active (it was restarted) is brought up again. 0 disables.',
              read_only=True, value_range=(0.0, 60.0)),
    ParamSpec('attempt_respawn_reconnection', True,
              'Bring a restarted (respawned) node back to active when it reappears.',
              read_only=True),
)

CHECK_TIMEOUT_S = 5.0
# A get_state unanswered this long is asked again: asking twice changes nothing, and a new
# client's first answer can be lost (the node's reply writer has not matched its reader yet).
QUERY_RESEND_S = 2.0

# Steps towards each command's goal: (state the node must be in, transition label).
UP_STEPS = (('unconfigured', 'configure'), ('inactive', 'activate'))
PAUSE_STEPS = (('active', 'deactivate'),)
RESET_STEPS = (('active', 'deactivate'), ('inactive', 'cleanup'))
SHUTDOWN_STEPS = (('active', 'shutdown'), ('inactive', 'shutdown'), ('unconfigured', 'shutdown'))
# Where each transition leaves a node: a node found there has made it, answer or not.
GOAL_STATES = {'configure': 'inactive', 'activate': 'active', 'deactivate': 'inactive',
               'cleanup': 'unconfigured', 'shutdown': 'finalized'}


class LifecycleError(RuntimeError):
    """A node did not answer or refused a transition; the message names it."""


class LifecycleManagerNode(Node):
    """Drives the managed nodes' transitions; reports and repairs restarted nodes."""

    def __init__(self, **kwargs):
        super().__init__('lifecycle_manager', **kwargs)
        params = declare_all(self, PARAMETERS)
        self._nodes: List[str] = list(params['node_names'])
        self._timeout = params['service_timeout_s']
        self._respawn = params['attempt_respawn_reconnection']
        self._active = False
        self._silent: set = set()
        # One command at a time; the lifecycle clients' responses arrive on another thread.
        self._commands = MutuallyExclusiveCallbackGroup()
        self._lifecycle_clients = {}
        for name in self._nodes:
            self._lifecycle_clients[name] = (
                self.create_client(GetState, f'{name}/get_state'),
                self.create_client(ChangeState, f'{name}/change_state'))
        for command, handler in (('startup', self.startup), ('pause', self.pause),
                                 ('resume', self.startup), ('reset', self.reset),
                                 ('shutdown', self.shutdown)):
            self.create_service(Trigger, f'~/{command}', self._service(command, handler),
                                callback_group=self._commands)
        self.create_service(Trigger, '~/is_active', self._on_is_active,
                            callback_group=self._commands)
        if params['autostart']:
            self._autostart = self.create_timer(0.0, self._on_autostart,
                                                callback_group=self._commands)
        if params['check_period_s'] > 0:
            self.create_timer(params['check_period_s'], self._check,
                              callback_group=self._commands)
        self.get_logger().info(f'managing {", ".join(self._nodes)}'
                               + (' (autostart)' if params['autostart'] else ''))

    # ------------------------------------------------------------------------- commands
    def startup(self) -> str:
        """Configure every node, then activate every node, in order."""
        self._drive(self._nodes, UP_STEPS[:1])
        self._drive(self._nodes, UP_STEPS[1:])
        self._active = True
        return f'active: {", ".join(self._nodes)}'

    def pause(self) -> str:
        self._active = False
        self._drive(reversed(self._nodes), PAUSE_STEPS)
        return f'inactive: {", ".join(self._nodes)}'

    def reset(self) -> str:
        self._active = False
        self._drive(reversed(self._nodes), RESET_STEPS)
        return f'unconfigured: {", ".join(self._nodes)}'

    def shutdown(self) -> str:
        self._active = False
        self._drive(reversed(self._nodes), RESET_STEPS[:1])
        self._drive(reversed(self._nodes), SHUTDOWN_STEPS)
        return f'finalized: {", ".join(self._nodes)}'

    def _service(self, command: str, handler):
        def serve(_request, response):
            try:
                response.message = handler()
                response.success = True
            except LifecycleError as error:
                response.success, response.message = False, f'{command} failed: {error}'
                self.get_logger().error(response.message)
            return response
        return serve

    def _on_is_active(self, _request, response):
        response.success = self._active
        response.message = 'active' if self._active else 'not active'
        return response

    def _on_autostart(self) -> None:
        self._autostart.cancel()
        try:
            self.get_logger().info(self.startup())
        except LifecycleError as error:
            raise StartupError(f'startup failed: {error}') from None

    # ----------------------------------------------------------------------- transitions
    def _drive(self, names, steps) -> None:
        """Take each node through the steps that apply to its current state, in order."""
        for name in names:
            for state, transition in steps:
                if self._state(name) == state:
                    self._change(name, transition)

    def _state(self, name: str, timeout: Optional[float] = None) -> str:
        client = self._lifecycle_clients[name][0]
        response = self._call(client, GetState.Request(), name, timeout, QUERY_RESEND_S)
        return response.current_state.label

    def _change(self, name: str, label: str) -> None:
        """
        Make one transition; a node found in its goal state has made it, answer or not.

        A change_state answer can be lost like any service answer, and asking again would ask
        for a second transition: the node's state says whether the first one ran.
        """
        request = ChangeState.Request(transition=Transition(label=label))
        try:
            response = self._call(self._lifecycle_clients[name][1], request, name)
        except LifecycleError as error:
            try:
                reached = self._state(name, timeout=CHECK_TIMEOUT_S) == GOAL_STATES[label]
            except LifecycleError:
                reached = False
            if not reached:
                raise error
            self.get_logger().warning(f'{name}: {label} done (found {GOAL_STATES[label]}; '
                                      'its answer was lost)')
            return
        if not response.success:
            raise LifecycleError(f"{name} refused '{label}' (its log says why)")
        self.get_logger().info(f'{name}: {label} done')

    def _call(self, client, request, name: str, timeout: Optional[float] = None,
              resend_after: Optional[float] = None):
        """Return the answer to ``request``, sent again every ``resend_after`` s if given."""
        timeout = self._timeout if timeout is None else timeout
        if not client.wait_for_service(timeout_sec=timeout):
            raise LifecycleError(f'{name} does not answer on {client.srv_name} '
                                 f'(waited {timeout:g} s)')
        deadline = time.monotonic() + timeout
        while True:
            done = threading.Event()
            future = client.call_async(request)
            future.add_done_callback(lambda _future: done.set())
            wait = min(resend_after or timeout, max(deadline - time.monotonic(), 0.0))
            if done.wait(wait) and future.result() is not None:
                return future.result()
            client.remove_pending_request(future)
            if time.monotonic() >= deadline:
                raise LifecycleError(f'{name}: no answer from {client.srv_name} '
                                     f'within {timeout:g} s')

    # ---------------------------------------------------------------------- supervision
    def _check(self) -> None:
        """Ask every node for its state; bring a restarted node back while the system is up."""
        if not self._active:
            return
        for name in self._nodes:
            try:
                state = self._state(name, timeout=CHECK_TIMEOUT_S)
            except LifecycleError as error:
                if name not in self._silent:
                    self._silent.add(name)
                    self.get_logger().warning(f'{error}; waiting for it to come back')
                continue
            self._silent.discard(name)
            if state == 'unconfigured' and self._respawn:
                self.get_logger().warning(f'{name} is unconfigured (it was restarted): '
                                          'bringing it up again')
                try:
                    self._drive([name], UP_STEPS)
                except LifecycleError as error:
                    self.get_logger().error(f'could not bring {name} back: {error}')


def main(args=None):
    return run_node('lifecycle_manager', LifecycleManagerNode, args,
                    executor_factory=lambda: BoundedThreadsExecutor(num_threads=2))


if __name__ == '__main__':
    sys.exit(main())
