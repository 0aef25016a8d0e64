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
The managed (lifecycle) node both robot nodes are, in the shape of Nav2's lifecycle nodes.

A robot stack brings its nodes up in order and takes them down cleanly, so each transition has
one job:

* configure: build everything from the parameters (model, registry, rules) and validate it. A
  bad configuration fails the transition with one line naming the problem, and nothing stays
  half-built: the node is unconfigured again, ready for a corrected configure;
* activate: start the timers and enable the publishers;
* deactivate: stop them (a subclass stops the robot here);
* cleanup and shutdown: release everything configure built.

Subclasses fill in :meth:`configure_resources`, :meth:`activate_resources`,
:meth:`deactivate_resources` and :meth:`release_resources`, and hand the subscriptions,
services, publishers and timers they create to :meth:`keep_until_cleanup` or
:meth:`keep_until_deactivate`, which destroy them at the right transition.

Each subclass lists :data:`AUTOSTART` in its parameter table. With it true (the default) the
node walks itself to active at start-up: the plain-node behaviour, where a bad configuration ends
the process with status 1 and one line. With it false the node waits, unconfigured, for a
lifecycle manager (the ``lifecycle_manager`` node, or ``ros2 lifecycle set``) to drive it.

Under ``use_sim_time`` the node follows /clock from its bytes (:mod:`sim_clock`): rclpy's
TimeSource with the same parameter behaviour, without a Python message per tick; a periodic
tick made with :meth:`ManagedNode.create_control_timer` then runs inside the /clock callback
(:mod:`control_timer`), one executor wake-up per tick fewer than an rclpy timer.
"""

from typing import List

from adapter_switcher.nodes.control_timer import ControlTimer
from adapter_switcher.nodes.params import ParamSpec
from adapter_switcher.nodes.runner import StartupError
from adapter_switcher.nodes.sim_clock import follow_clock_bytes
from adapter_switcher.nodes.taken_subscription import TakenSubscription

from rclpy.lifecycle import LifecycleNode
from rclpy.lifecycle import LifecyclePublisher
from rclpy.lifecycle import LifecycleState
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.publisher import Publisher
from rclpy.service import Service
from rclpy.subscription import Subscription
from rclpy.timer import Timer

AUTOSTART = ParamSpec(
    'autostart', True,
    'Configure and activate at start-up (a plain, self-starting node). False: stay '
    'unconfigured until a lifecycle manager (or `ros2 lifecycle set`) drives the node.',
    read_only=True)

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE
ERROR = TransitionCallbackReturn.ERROR


class ManagedNode(LifecycleNode):
    """A lifecycle node whose transitions build, start, stop and release its resources."""

    def __init__(self, node_name: str, **kwargs):
        super().__init__(node_name, **kwargs)
        self._clock_source = follow_clock_bytes(self)  # sim time, no Python message per /clock
        self.lifecycle_state = 'unconfigured'
        self.transition_error = ''
        self._starting_up = False
        self._until_cleanup: List[object] = []
        self._until_deactivate: List[object] = []

    # ------------------------------------------------------------------ for the subclasses
    def configure_resources(self) -> None:
        """Build and validate everything; raise StartupError naming the problem."""

    def activate_resources(self) -> None:
        """Start timers; the lifecycle publishers are enabled already."""

    def deactivate_resources(self) -> None:
        """Stop what activate started; the lifecycle publishers are still enabled."""

    def release_resources(self) -> None:
        """Release what configure built; also called after a configure that failed half-way."""

    def create_control_timer(self, period_s: float, callback, callback_group=None):
        """
        Return a periodic tick on the node's clock, ticked from /clock itself under sim time.

        A :class:`~adapter_switcher.nodes.control_timer.ControlTimer`: one executor wake-up
        per tick fewer than an rclpy timer on a node that follows /clock.
        """
        return ControlTimer(self, self._clock_source, period_s, callback, callback_group)

    def keep_until_cleanup(self, entity):
        """Destroy ``entity`` (subscription, service, publisher, timer) at cleanup/shutdown."""
        self._until_cleanup.append(entity)
        return entity

    def keep_until_deactivate(self, entity):
        """Destroy ``entity`` (typically a timer) at deactivate."""
        self._until_deactivate.append(entity)
        return entity

    @property
    def is_active(self) -> bool:
        return self.lifecycle_state == 'active'

    # ------------------------------------------------------------------------- transitions
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.configure_resources()
        except Exception as error:  # noqa: B902 - any failure fails the transition cleanly
            self._fail('configure', error)
            self._release()
            return FAILURE
        return self._done('inactive', super().on_configure(state))

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        if result != SUCCESS:
            return result
        try:
            self.activate_resources()
        except Exception as error:  # noqa: B902
            self._fail('activate', error)
            return ERROR
        return self._done('active', SUCCESS)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._deactivate()
        except Exception as error:  # noqa: B902
            self._fail('deactivate', error)
            return ERROR
        return self._done('inactive', super().on_deactivate(state))

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return self._done('unconfigured', super().on_cleanup(state))

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if state.label == 'active':
            self._deactivate()
            super().on_deactivate(state)
        self._release()
        return self._done('finalized', super().on_shutdown(state))

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f'error after {state.label}: releasing everything; the node is '
                                'unconfigured')
        try:
            self._deactivate()
        except Exception as error:  # noqa: B902 - a half-activated node may not deactivate
            self.get_logger().error(f'deactivating: {type(error).__name__}: {error}')
        self._release()
        return self._done('unconfigured', SUCCESS)

    # --------------------------------------------------------------------- process helpers
    def start_up(self) -> None:
        """
        Walk to active when ``autostart`` is true; raise StartupError if a transition fails.

        Called by :func:`adapter_switcher.nodes.runner.run_node` before spinning.
        """
        if not self.get_parameter('autostart').value:
            self.get_logger().info('unconfigured, waiting for a lifecycle manager '
                                   '(autostart is false)')
            return
        self._starting_up = True
        try:
            for transition in (self.trigger_configure, self.trigger_activate):
                if transition() != SUCCESS:
                    raise StartupError(self.transition_error or 'a transition failed')
        finally:
            self._starting_up = False

    def finalize(self) -> None:
        """
        Take the node through shutdown (deactivating and releasing) unless it was already.

        Called by the runner after the executor has stopped, with the context still valid (the
        runner handles the signals, not rclpy): an active node deactivates inside the shutdown
        transition, so a driving node stops the robot before the process ends.
        """
        if self.lifecycle_state == 'finalized':
            return
        try:
            self.trigger_shutdown()
        except Exception:  # noqa: B902 - rcl refused (no shutdown from here)
            pass
        if self.lifecycle_state != 'finalized':  # refused or failed: release by hand, so no
            self._release()                      # loader thread keeps the process alive

    # -------------------------------------------------------------------------- internals
    def _fail(self, transition: str, error: Exception) -> None:
        reason = str(error) if isinstance(error, StartupError) else (
            f'{type(error).__name__}: {error}')
        reason = ' '.join(reason.split())  # one line, whatever the error text holds
        self.transition_error = reason
        if not self._starting_up:  # else start_up raises it, and the runner logs it once
            self.get_logger().error(f'{transition} failed: {reason}')

    def _done(self, label: str, result: TransitionCallbackReturn) -> TransitionCallbackReturn:
        if result == SUCCESS:
            self.lifecycle_state = label
            self.transition_error = ''
        return result

    def _deactivate(self) -> None:
        for timer in self._until_deactivate:
            if isinstance(timer, (Timer, ControlTimer)):
                timer.cancel()
        self.deactivate_resources()
        self._destroy(self._until_deactivate)

    def _release(self) -> None:
        """Release everything; a failure here is logged, never raised: nothing may stay held."""
        self._destroy(self._until_deactivate)
        try:
            self.release_resources()
        except Exception as error:  # noqa: B902
            self.get_logger().error(f'releasing: {type(error).__name__}: {error}')
        finally:
            self._destroy(self._until_cleanup)

    def _destroy(self, entities: List[object]) -> None:
        while entities:
            entity = entities.pop()
            if isinstance(entity, Timer):
                self.destroy_timer(entity)
            elif isinstance(entity, LifecyclePublisher):
                self.destroy_lifecycle_publisher(entity)
            elif isinstance(entity, Publisher):
                self.destroy_publisher(entity)
            elif isinstance(entity, Subscription):
                self.destroy_subscription(entity)
            elif isinstance(entity, (TakenSubscription, ControlTimer)):
                entity.destroy()
            elif isinstance(entity, Service):
                self.destroy_service(entity)
            else:
                raise TypeError(f'cannot destroy {entity!r}')
