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
The inference node: the frozen base model with hot-swapped LoRA adapters, driving /cmd_vel.

A thin wrapper over :class:`adapter_switcher.core.AdapterEngine`. Each tick encodes the latest
sensor features, calls ``engine.step`` (which applies a ready adapter request between ticks,
never mid-forward) and publishes the decoded velocity.

Light on the robot: the node spins rclpy's EventsExecutor (callbacks dispatched from C++, no
wait set rebuilt in Python per wake-up, which cost most of the node's CPU at ~100 callbacks a
second), takes its sensor messages itself in the tick (no executor wake-up per message; only
the newest usable one of each sensor is read, straight from its bytes), publishes /cmd_vel as
its serialized bytes, and freezes the configured heap out of the garbage collector's reach; its
timers' callbacks declare their signature (:mod:`timer_callback`). Adapter loads
and probes run on the engine's own loader thread, so a single-threaded executor never waits on
the disk; a synchronous ``adapter_override`` holds the ticks for a copy and a switch (the probe
ran ahead, when the adapter was registered).

Which adapter runs:

* auto mode (``auto_mode`` true, ``adapter_override`` empty): every ``desired_adapter`` message
  becomes ``engine.request(name)``; ``predicted_adapter`` retargets the prefetcher.
* manual: ``adapter_override`` set to a name activates it synchronously in the set-parameters
  callback (refused with the engine's reason if unknown or broken; nothing changes), and the
  context manager is ignored until ``~/set_auto`` true (or the override is cleared).
* ``~/rollback`` returns to the previous adapter and switches to manual so it sticks.

When ticks come from the context manager (``tick_source: context``, for a lock-step simulator;
:mod:`adapter_switcher.nodes.context_tick`), each evaluation starts one tick with the decision
for that instant; a load it needs is waited for, as sim time stands still meanwhile.

Safety: if a required sensor has been silent for ``sensor_timeout_s``, the node publishes zero
velocity and reports ERROR on /diagnostics until data returns.

Observation (:mod:`adapter_switcher.nodes.observation`): ``features`` feeds the
``observation_encoder`` the context features; ``visuomotor`` feeds the visuomotor policy what
the closed loop trained it on (image, pooled lidar, odometry speeds, and the carrot ahead on the
route it follows along the nav_msgs/Path of ``plan``, :mod:`route_plan`). Until a plan arrives
it publishes zero velocity and reports WARN naming the missing plan.

Offload (``inference_backend: serve``, :mod:`adapter_switcher.nodes.serve_backend`): the engine
still picks the adapter between ticks, the forward runs on the policy server; on a server
failure the tick runs on board (``serve_fallback: local``) or stops the robot with ERROR.

Lifecycle (:class:`ManagedNode`): configure loads the model and the registry (a missing adapters
directory or a bad rules file fails it with one line), activate starts the control loop,
deactivate stops it after one zero velocity, cleanup releases the model.
"""

import gc
import math
import sys
import threading
import time
from typing import Dict, Optional

from adapter_switcher.context.features import FeatureExtractor
from adapter_switcher.core import AdapterError
from adapter_switcher.nodes.adapter_report import describe_swap
from adapter_switcher.nodes.adapter_report import list_adapters_message
from adapter_switcher.nodes.adapter_report import scan_message
from adapter_switcher.nodes.adapter_report import SwapStats
from adapter_switcher.nodes.adapter_report import tier_lists
from adapter_switcher.nodes.command_cdr import twist_cdr
from adapter_switcher.nodes.context_tick import context_tick
from adapter_switcher.nodes.context_tick import FEATURES_TOPIC
from adapter_switcher.nodes.context_tick import TICK_SOURCES
from adapter_switcher.nodes.diagnostics import ERROR
from adapter_switcher.nodes.diagnostics import make_array
from adapter_switcher.nodes.diagnostics import make_status
from adapter_switcher.nodes.diagnostics import OK
from adapter_switcher.nodes.diagnostics import WARN
from adapter_switcher.nodes.engine_setup import build_engine
from adapter_switcher.nodes.fleet_interface import FLEET_PARAMETERS
from adapter_switcher.nodes.fleet_interface import open_fleet
from adapter_switcher.nodes.fleet_interface import with_fleet_store
from adapter_switcher.nodes.handover_param import effective_ticks
from adapter_switcher.nodes.handover_param import handover_param
from adapter_switcher.nodes.handover_param import MESSAGE as HANDOVER_MESSAGE
from adapter_switcher.nodes.handover_param import TOPIC as HANDOVER_TOPIC
from adapter_switcher.nodes.inference_state import InferenceState
from adapter_switcher.nodes.inference_state import StateFile
from adapter_switcher.nodes.managed_node import AUTOSTART
from adapter_switcher.nodes.managed_node import ManagedNode
from adapter_switcher.nodes.observation import DEFAULT_RANGE_MAX
from adapter_switcher.nodes.observation import GOAL_REACHED
from adapter_switcher.nodes.observation import PLAN_TOPIC
from adapter_switcher.nodes.observation import VisuomotorInput
from adapter_switcher.nodes.params import current_values
from adapter_switcher.nodes.params import declare_all
from adapter_switcher.nodes.params import ParamSpec
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.nodes.resolve import load_rules_parameter
from adapter_switcher.nodes.route_plan import path_waypoints
from adapter_switcher.nodes.route_plan import PlanFollower
from adapter_switcher.nodes.runner import run_node
from adapter_switcher.nodes.runner import StartupError
from adapter_switcher.nodes.sensor_inputs import SENSOR_TOPICS
from adapter_switcher.nodes.sensor_inputs import SensorInputs
from adapter_switcher.nodes.sensor_inputs import stale_sensors
from adapter_switcher.nodes.serve_backend import make_offload
from adapter_switcher.nodes.serve_backend import offload_diagnostics
from adapter_switcher.nodes.serve_backend import SERVE_PARAMETERS
from adapter_switcher.nodes.timer_callback import NoArgumentCallback

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Path
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import ClockType
from rclpy.duration import Duration
from rclpy.experimental import EventsExecutor
from rclpy.parameter import Parameter
from rclpy.time import Time
from std_msgs.msg import String
from std_srvs.srv import SetBool
from std_srvs.srv import Trigger

PARAMETERS = (
    AUTOSTART,
    ParamSpec('model_factory', 'adapter_switcher.demo.policy_model:build_policy',
              "Base model factory 'package.module:function' (used when model_hf_dir is "
              'empty).', read_only=True),
    ParamSpec('model_hf_dir', '',
              'Local Hugging Face model directory for the base model (safetensors, offline); '
              'empty uses model_factory.', read_only=True),
    ParamSpec('model_weights', 'models/demo/base_policy.safetensors',
              'Safetensors state dict loaded into the base model; empty keeps the factory '
              'weights. Relative paths are relative to the package share directory.',
              read_only=True),
    ParamSpec('observation', 'features',
              "What the model is fed: 'features' (observation_encoder over the context "
              "features and the lidar) or 'visuomotor' (camera image, pooled lidar, odometry "
              'speeds and the route carrot 1.5 m ahead on the nav_msgs/Path of the plan topic, '
              'as adapter_switcher.demo.visuomotor was trained; no plan: zero velocity, WARN).',
              read_only=True),
    ParamSpec('observation_encoder', 'adapter_switcher.demo.policy_model:encode_observation',
              'Function (features, ranges, range_max) -> model input (observation '
              "'features').", read_only=True),
    ParamSpec('plan_tolerance_m', 0.4,
              "observation 'visuomotor': a plan pose counts as reached within this distance "
              "(the route progress the carrot is measured from; the scenario's tolerance).",
              read_only=True, value_range=(0.01, 10.0)),
    ParamSpec('action_decoder', 'adapter_switcher.demo.policy_model:decode_action',
              "Function model output -> (linear_x, angular_z); with command 'route_offset', "
              '-> (speed limit, offset from the plan).', read_only=True),
    ParamSpec('command', 'velocity',
              "What the decoded output is: 'velocity' (published as it is) or 'route_offset' "
              '(a speed limit in m/s and an offset in m, left positive, from the plan, which '
              'the tracking law of adapter_switcher.demo.visuomotor turns into the velocity, '
              "as the visuomotor policy was trained; needs observation 'visuomotor').",
              read_only=True),
    ParamSpec('rules_file', 'config/context_rules.yaml',
              'Context rules YAML; its feature settings (spill colour, lidar sectors) are '
              'used to compute the observation features.', read_only=True),
    ParamSpec('adapters_dirs', ['models/demo/adapters'],
              'Directories whose subdirectories are PEFT LoRA adapters; ~/reload_adapters '
              'rescans them.', read_only=True),
    ParamSpec('num_slots', 4, 'Adapters resident in the model at once.', read_only=True,
              value_range=(1, 64)),
    ParamSpec('max_rank', 16, 'Largest LoRA rank a slot holds; higher ranks are rejected.',
              read_only=True, value_range=(1, 1024)),
    ParamSpec('host_cache_mb', 256, 'Host RAM for prefetched adapters, in MiB.',
              read_only=True, value_range=(0, 1 << 20)),
    ParamSpec('prefetch', True,
              'Load the predicted_adapter into a slot in the background before it is asked '
              'for.', read_only=True),
    ParamSpec('rate_hz', 20.0, 'Control rate: model ticks and /cmd_vel messages per second.',
              read_only=True, value_range=(0.1, 1000.0)),
    ParamSpec('tick_source', 'timer',
              "What starts a control tick: 'timer' (rate_hz on the node's clock) or "
              "'context' (each context_manager/features message: the decision for that "
              'instant, answered with a command stamped the same; for lock-step simulation).',
              read_only=True),
    ParamSpec('sensor_timeout_s', 0.5,
              'A required sensor silent this long stops the robot (zero velocity, ERROR).',
              value_range=(0.01, 60.0)),
    ParamSpec('required_sensors', ['scan', 'camera', 'odom'],
              'Sensors whose silence stops the robot: any of scan, camera, odom.',
              read_only=True),
    ParamSpec('enable_stamped_cmd_vel', False,
              'Publish geometry_msgs/TwistStamped instead of Twist on cmd_vel (as Nav2).',
              read_only=True),
    ParamSpec('cmd_vel_frame_id', 'base_link', 'frame_id of stamped velocity commands.'),
    ParamSpec('auto_mode', True,
              'Follow desired_adapter from the context manager (false: stay on the current '
              'adapter).'),
    handover_param("the context manager's handover_ticks, when larger, wins"),
    ParamSpec('adapter_override', '',
              'Set to an adapter name to activate it now and stay on it (manual); refused '
              'with the reason if the adapter is unknown or broken. Empty: no override.'),
    ParamSpec('torch_threads', 1,
              'CPU threads for the model (0: torch default). One suits small models on a '
              'shared CPU: no waiting for a second core in the middle of a tick.',
              read_only=True, value_range=(0, 256)),
    ParamSpec('diagnostics_period_s', 1.0, 'Period of the /diagnostics status.',
              read_only=True, value_range=(0.05, 60.0)),
    ParamSpec('state_file', '',
              'JSON file keeping the active adapter, its version and the mode across crashes '
              '(written atomically on change, restored at configure; a corrupt file is '
              'reported and ignored). Empty: nothing is kept.', read_only=True),
) + FLEET_PARAMETERS + SERVE_PARAMETERS
STATE_SAVE_PERIOD_S = 0.1
STOP_ACK_TIMEOUT_S = 1.0        # bound on waiting for subscribers to acknowledge the stop
CONTEXT_TICK_LOAD_TIMEOUT_S = 30.0
SENSOR_STARTUP_GRACE_S = 10.0   # wall time after activation: sensors not yet received are normal
SENSOR_LOG_PERIOD_S = 5.0       # at most one timeout / back line per this many seconds


class InferenceNode(ManagedNode):
    """
    Runs the policy on a timer, swaps adapters between ticks, publishes cmd_vel.

    A managed node: configure loads the model and the adapter registry, activate starts the
    control loop, deactivate stops it and sends one zero velocity, cleanup releases the model.
    """

    def __init__(self, **kwargs):
        super().__init__('inference_node', **kwargs)
        declare_all(self, PARAMETERS)
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._control_group = MutuallyExclusiveCallbackGroup()
        self._setup = None
        self._engine = None
        self._state_file = None
        self._fleet = None
        self._offload = None
        self._running = False
        self._activated_at = 0.0
        self._waiting_for_sensors = False
        self._desired: Optional[str] = None
        self._predicted = ''
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def configure_resources(self) -> None:
        params = current_values(self, PARAMETERS)
        unknown = sorted(set(params['required_sensors']) - set(SENSOR_TOPICS))
        if unknown:
            raise StartupError(f'required_sensors: unknown sensor(s) {unknown}, use '
                               f'{sorted(SENSOR_TOPICS)}')
        if params['tick_source'] not in TICK_SOURCES:
            raise StartupError(f"tick_source: expected one of {', '.join(TICK_SOURCES)}, got "
                               f"{params['tick_source']!r}")
        features = load_rules_parameter(params['rules_file']).features
        self._setup = build_engine(with_fleet_store(params))
        self._engine = self._setup.engine
        self._fleet = open_fleet(self, self._engine, params)
        self._offload = make_offload(params)
        self._required = tuple(params['required_sensors'])
        self._stats = SwapStats()
        self._desired = None
        self._predicted = ''
        self._last_error = ''
        self._stale: Dict[str, Optional[float]] = {}
        self._plan = self._visuomotor = None
        self._blocked = ''
        if params['observation'] == 'visuomotor':
            self._plan = PlanFollower(params['plan_tolerance_m'])
            self._visuomotor = VisuomotorInput(self._plan)
        self._route_offset = params['command'] == 'route_offset'
        self._published_active: Optional[str] = None
        self._apply_initial_override(params['adapter_override'])
        self._state_file = StateFile(params['state_file']) if params['state_file'] else None
        self._restore_state()

        self._stamped = params['enable_stamped_cmd_vel']
        keep = self.keep_until_cleanup
        self._cmd_pub = keep(self.create_lifecycle_publisher(
            TwistStamped if self._stamped else Twist, 'cmd_vel', COMMAND_QOS))
        self._active_pub = keep(self.create_lifecycle_publisher(
            String, 'active_adapter', LATCHED_QOS))
        self._diag_pub = keep(self.create_lifecycle_publisher(
            DiagnosticArray, '/diagnostics', COMMAND_QOS))
        # The tick takes the sensor messages itself (no callback per message), so a tick on
        # the context manager sees whatever of its instant's sensor data has arrived.
        self._on_context = params['tick_source'] == 'context'
        self._sensors = SensorInputs(self, FeatureExtractor(features))
        for subscription in self._sensors.subscriptions:
            keep(subscription)
        if self._plan is not None:
            keep(self.create_subscription(Path, PLAN_TOPIC, self._on_plan, LATCHED_QOS))
        keep(self.create_subscription(String, 'desired_adapter', self._on_desired, LATCHED_QOS))
        keep(self.create_subscription(String, 'predicted_adapter', self._on_predicted,
                                      LATCHED_QOS))
        self._context_handover = 0
        keep(self.create_subscription(HANDOVER_MESSAGE, HANDOVER_TOPIC, self._on_handover,
                                      LATCHED_QOS))
        keep(self.create_service(Trigger, '~/reload_adapters', self._on_reload))
        keep(self.create_service(Trigger, '~/rollback', self._on_rollback))
        keep(self.create_service(Trigger, '~/list_adapters', self._on_list))
        keep(self.create_service(SetBool, '~/set_auto', self._on_set_auto))
        infos = self._engine.adapters()
        self.get_logger().info(
            f'{len(infos)} adapter(s) in {self._setup.adapters_dirs}: '
            f'{", ".join(sorted(i.name for i in infos)) or "none"}; '
            f"{params['rate_hz']:g} Hz, {params['num_slots']} slots")
        for directory, reason in sorted(self._engine.rejections().items()):
            self.get_logger().warning(f'adapter directory {directory} rejected: {reason}')
        self._stamped_msg = TwistStamped()
        # The model, registry and message types are loaded: keep them out of every later
        # collection (a full one walks the whole heap, torch's modules included).
        gc.collect()
        gc.freeze()

    def activate_resources(self) -> None:
        keep = self.keep_until_deactivate
        keep(self.create_timer(self.get_parameter('diagnostics_period_s').value,
                               NoArgumentCallback(self.publish_diagnostics)))
        if self._state_file is not None:
            keep(self.create_timer(STATE_SAVE_PERIOD_S, NoArgumentCallback(self._save_state)))
        if self._on_context:
            keep(self.create_subscription(DiagnosticArray, FEATURES_TOPIC, self._on_context_tick,
                                          COMMAND_QOS, callback_group=self._control_group))
        else:
            keep(self.create_control_timer(1.0 / self.get_parameter('rate_hz').value,
                                           self._tick, callback_group=self._control_group))
        with self._tick_lock:
            self._activated_at = time.monotonic()
            self._waiting_for_sensors = False
            self._running = True
            self._published_active = None
            self._publish_active()

    def deactivate_resources(self) -> None:
        """Stop the control loop (the timer is cancelled already) and stop the robot once."""
        with self._tick_lock:
            self._running = False
            self._publish_cmd(self.get_clock().now(), 0.0, 0.0)
        # At shutdown the process ends next: the stop must have reached the robot by then.
        acked = self._cmd_pub.wait_for_all_acked(Duration(seconds=STOP_ACK_TIMEOUT_S))
        self.get_logger().info('deactivated: sent zero velocity'
                               + ('' if acked else ' (not acknowledged by every subscriber)')
                               + ', control loop stopped')

    def release_resources(self) -> None:
        if self._engine is not None:
            self._save_state()
        if self._fleet is not None:
            self._fleet.close()
            self._fleet = None
        if self._offload is not None:
            self._offload.close()
        if self._setup is not None:
            self._setup.close()
        self._setup = self._engine = self._offload = None
        gc.unfreeze()       # what configure froze may now be collected

    def _apply_initial_override(self, name: str) -> None:
        if not name:
            return
        try:
            self._stats.record(self._engine.activate(name))
        except AdapterError as error:
            raise StartupError(f'adapter_override: {error}') from None

    # -------------------------------------------------------------------- crash recovery
    def _restore_state(self) -> None:
        """Go back to the adapter and mode the state file holds; a bad file changes nothing."""
        if self._state_file is None:
            return
        state, problem = self._state_file.load()
        if problem:
            self.get_logger().warning(problem)
        if state is None or not state.active:
            return
        try:
            self._stats.record(self._engine.activate(state.active))
        except AdapterError as error:
            self.get_logger().warning(f'state file {self._state_file.path}: cannot restore '
                                      f"'{state.active}': {error}; starting as configured")
            return
        version = self._version(state.active)
        self.set_parameters([Parameter('adapter_override', value=state.override),
                             Parameter('auto_mode', value=state.auto_mode)])
        self.get_logger().info(
            f"restored from {self._state_file.path}: '{state.active}' "
            + (f'v{version}' if version else '')
            + (f' (saved as v{state.adapter_version})' if state.adapter_version != version
               else '')
            + f", {'auto' if self._following() else 'manual'}")

    def _save_state(self) -> None:
        if self._state_file is None or self._engine is None:
            return
        active = self._engine.active or ''
        state = InferenceState(active=active, adapter_version=self._version(active),
                               auto_mode=bool(self.get_parameter('auto_mode').value),
                               override=self.get_parameter('adapter_override').value)
        try:
            self._state_file.save(state)
        except OSError as error:
            self._note_error(f'cannot write the state file {self._state_file.path}: {error}')

    def _version(self, name: str) -> str:
        return next((info.version for info in self._engine.adapters() if info.name == name),
                    '') if name else ''

    # ------------------------------------------------------------------ mode and selection
    def _following(self, auto_mode: Optional[bool] = None, override: Optional[str] = None):
        auto_mode = self.get_parameter('auto_mode').value if auto_mode is None else auto_mode
        override = self.get_parameter('adapter_override').value if override is None else override
        return bool(auto_mode) and not override

    def _on_desired(self, msg: String) -> None:
        with self._lock:
            self._desired = msg.data or None
        if self._desired and self._following():
            self._request(self._desired)

    def _on_handover(self, msg) -> None:
        self._context_handover = msg.data

    def _handover_ticks(self) -> int:
        return effective_ticks(self.get_parameter('handover_ticks').value,
                               self._context_handover)

    def _request(self, name: str) -> None:
        try:
            self._engine.request(name, blend_ticks=self._handover_ticks())
        except AdapterError as error:
            self._note_error(f"desired adapter '{name}' refused: {error}")

    def _on_predicted(self, msg: String) -> None:
        """
        Prefetch the predicted adapter; an empty prediction changes nothing.

        The context manager publishes a name only when it is confident, so a name is prefetched
        into a slot at full confidence. A prediction fading to '' must not cancel a load that
        is still queued for a change that is on its way: what is loaded stays until evicted.
        """
        with self._lock:
            self._predicted = msg.data
        if msg.data and self._setup.prefetcher is not None:
            self._setup.prefetcher.retarget([(msg.data, 1.0)])
        if msg.data and self._offload is not None:
            self._offload.hint(msg.data)

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        """
        Validate and apply mode changes; an override swaps now or is refused unchanged.

        Only the swap itself happens here: no publishing, no waiting for other callbacks.
        """
        new = {p.name: p.value for p in parameters}
        if self._engine is None:
            return SetParametersResult(successful=True)  # checked when configure applies it
        override = new.get('adapter_override')
        if override is not None and override != self.get_parameter('adapter_override').value:
            if override:
                try:
                    report = self._engine.activate(override)
                except AdapterError as error:
                    return SetParametersResult(successful=False, reason=str(error))
                self._stats.record(report)
                self.get_logger().info(f'adapter_override: {describe_swap(report)}')
        was_following = self._following()
        now_following = self._following(new.get('auto_mode'), override)
        if now_following and not was_following and self._desired:
            self._request(self._desired)
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------------ control loop
    def _tick(self) -> None:
        with self._tick_lock:
            if self._running:
                self._control_step()

    def _on_context_tick(self, msg: DiagnosticArray) -> None:
        tick = context_tick(msg)
        if tick is None:
            return
        with self._tick_lock:
            if not self._running:
                return
            if tick.desired and self._following():
                with self._lock:
                    self._desired = tick.desired
                self._request(tick.desired)
                self._engine.worker.wait_idle(CONTEXT_TICK_LOAD_TIMEOUT_S)
            self._control_step(Time(nanoseconds=tick.stamp_ns, clock_type=ClockType.ROS_TIME))

    def _control_step(self, now: Optional[Time] = None) -> None:
        clock_now = now is None
        now = self.get_clock().now() if clock_now else now
        seconds = now.nanoseconds * 1e-9
        reading = self._sensors.read(seconds, seconds if clock_now else None)
        stale = stale_sensors(self._required, reading.last_seen, seconds,
                              self.get_parameter('sensor_timeout_s').value)
        linear = angular = 0.0
        blocked = self._blocked
        try:
            obs, blocked = self._observe(reading)
            if obs is not None:
                linear, angular = self._run_model(obs, stale)
        except Exception as error:  # noqa: B902 - a control loop must fail safe, never die
            self._note_error(f'control tick failed: {type(error).__name__}: {error}')
            linear = angular = 0.0
        self._publish_cmd(now, linear, angular)
        self._publish_active()
        changed = bool(stale) != bool(self._stale)
        self._stale = stale
        if changed or (stale and self._waiting_for_sensors and not self._starting()):
            self._log_sensor_state(stale)
        if blocked != self._blocked:
            self._blocked = blocked
            self._log_blocked(blocked)
            changed = True
        if changed:
            self.publish_diagnostics()

    def _observe(self, reading):
        """Return ``(model input, '')``, or ``(None, why the robot must stand)``."""
        if self._visuomotor is not None:
            return self._visuomotor.observe(reading)
        scan = reading.scan
        return self._setup.encode(reading.snapshot.values, scan.ranges if scan else None,
                                  scan.range_max if scan else DEFAULT_RANGE_MAX), ''

    def _run_model(self, obs, stale):
        """Step the engine on ``obs``; return the decoded command (zero with stale sensors)."""
        result = (self._offload.step(self._engine, obs) if self._offload
                  else self._engine.step(obs))
        if self._fleet is not None:
            self._fleet.after_step(result, ((obs,), {}))
        if result.swap is not None:
            self._stats.record(result.swap)
            self.get_logger().info(f'swapped {describe_swap(result.swap)}')
        if result.error:
            self._note_error(result.error)
        if stale:
            return 0.0, 0.0
        linear, angular = self._setup.decode(result.output)
        if self._route_offset and math.isfinite(linear) and math.isfinite(angular):
            # The decoded pair is a speed limit and an offset from the plan: track them.
            linear, angular = self._plan.track(self._visuomotor.pose, linear, angular)
        if not (math.isfinite(linear) and math.isfinite(angular)):
            self._note_error('the model produced a non-finite command; sent zero')
            return 0.0, 0.0
        return linear, angular

    def _log_blocked(self, blocked: str) -> None:
        """Say when the visuomotor input stops or comes back (calm while starting, as sensors)."""
        logger = self.get_logger()
        if not blocked:
            logger.info(f'plan followed ({self._plan.frame_id or "no frame"}): driving')
        elif blocked == GOAL_REACHED or self._starting():
            logger.info(f'{blocked}: zero velocity')
        else:
            logger.warning(f'{blocked}: publishing zero velocity')

    def _on_plan(self, msg: Path) -> None:
        """Follow a new plan from its start; an unusable one is refused and the old one kept."""
        try:
            self._plan.set_plan(path_waypoints(msg), msg.header.frame_id)
        except ValueError as error:
            self._note_error(f'plan refused: {error}')
            return
        self.get_logger().info(f'plan: {len(msg.poses)} poses in frame '
                               f"'{msg.header.frame_id}'")

    def _starting(self) -> bool:
        return time.monotonic() - self._activated_at < SENSOR_STARTUP_GRACE_S

    def _log_sensor_state(self, stale: Dict[str, Optional[float]]) -> None:
        """
        Say when the sensors stop or come back: throttled, and calm during start-up.

        A sensor never received within SENSOR_STARTUP_GRACE_S of activation is the usual
        start-up order (a simulator or a driver starting later), not a fault: that is INFO. A
        sensor flickering around the timeout logs at most once per SENSOR_LOG_PERIOD_S.
        """
        logger = self.get_logger()
        self._waiting_for_sensors = bool(stale) and self._starting() and all(
            age is None for age in stale.values())
        if self._waiting_for_sensors:
            logger.info(f'waiting for the first message of: {", ".join(sorted(stale))} '
                        '(zero velocity until then)', throttle_duration_sec=SENSOR_LOG_PERIOD_S)
        elif stale:
            logger.error(f'sensor timeout: {_describe_stale(stale)}; publishing zero velocity',
                         throttle_duration_sec=SENSOR_LOG_PERIOD_S)
        else:
            logger.info('all required sensors are back', throttle_duration_sec=SENSOR_LOG_PERIOD_S)

    def _publish_cmd(self, now, linear: float, angular: float) -> None:
        """Publish the command: a Twist as its bytes, a TwistStamped in one reused message."""
        if not self._stamped:
            self._cmd_pub.publish(twist_cdr(float(linear), float(angular)))
            return
        msg = self._stamped_msg
        msg.twist.linear.x = float(linear)
        msg.twist.angular.z = float(angular)
        msg.header.stamp = now.to_msg()
        msg.header.frame_id = self.get_parameter('cmd_vel_frame_id').value
        self._cmd_pub.publish(msg)

    def _publish_active(self) -> None:
        active = self._engine.active or ''
        if active != self._published_active:
            self._active_pub.publish(String(data=active))
            self._published_active = active

    def _note_error(self, text: str) -> None:
        with self._lock:
            self._last_error = text
        self.get_logger().warning(text, throttle_duration_sec=2.0)

    # ---------------------------------------------------------------------------- services
    def _on_reload(self, _request, response):
        report = self._engine.scan()
        response.success = True
        response.message = scan_message(report)
        self.get_logger().info(f'reload_adapters: {response.message}')
        return response

    def _on_rollback(self, _request, response):
        try:
            report = self._engine.rollback()
        except AdapterError as error:
            response.success = False
            response.message = str(error)
            return response
        self._stats.record(report)
        self.set_parameters_atomically([Parameter('adapter_override', value=''),
                                        Parameter('auto_mode', value=False)])
        response.success = True
        response.message = (f'rolled back: {describe_swap(report)}; manual mode (call '
                            '~/set_auto true to follow the context manager again)')
        self.get_logger().info(response.message)
        return response

    def _on_list(self, _request, response):
        response.success = True
        response.message = list_adapters_message(self._engine.adapters(),
                                                 self._engine.rejections())
        if self._fleet is not None:
            response.message += '\n' + self._fleet.list_lines()
        return response

    def _on_set_auto(self, request, response):
        updates = [Parameter('auto_mode', value=bool(request.data))]
        if request.data:
            updates.append(Parameter('adapter_override', value=''))
        result = self.set_parameters_atomically(updates)
        response.success = result.successful
        if not result.successful:
            response.message = result.reason
        elif request.data:
            response.message = ('auto: following desired_adapter'
                                + (f" ('{self._desired}')" if self._desired else ''))
        else:
            response.message = f"manual: staying on '{self._engine.active or '<base>'}'"
        return response

    # ------------------------------------------------------------------------- diagnostics
    def publish_diagnostics(self) -> None:
        """Publish the engine's health: adapter, mode, cache, swap latency, errors."""
        infos = self._engine.adapters()
        rejections = self._engine.rejections()
        with self._lock:
            stale, desired, predicted, last_error, blocked = (
                dict(self._stale), self._desired, self._predicted, self._last_error,
                self._blocked)
        values = {
            'active': self._engine.active or '',
            'mode': 'auto' if self._following() else 'manual',
            'desired': desired or '',
            'predicted': predicted,
            'pending': self._engine.pending() or '',
            'handover_ticks': self._handover_ticks(),
        }
        values.update(tier_lists(infos))
        values.update(self._stats.summary())
        values['rejections'] = len(rejections)
        values['rejected'] = '; '.join(f'{k}: {v}' for k, v in sorted(rejections.items()))
        values['stale_sensors'] = ','.join(sorted(stale))
        values.update({f'dropped.{sensor}': count
                       for sensor, count in self._sensors.dropped().items()})
        values['last_error'] = last_error
        values.update({f'engine.{k}': v for k, v in self._engine.metrics_dict().items()})
        if self._fleet is not None:
            values.update(self._fleet.diagnostic_values())
        backend_level, backend_values = offload_diagnostics(self._offload)
        values.update(backend_values)
        values['observation'] = self.get_parameter('observation').value
        values['blocked'] = blocked
        if stale:
            level, message = ERROR, f'sensor timeout: {_describe_stale(stale)}; stopped'
        elif blocked and blocked != GOAL_REACHED:
            level, message = WARN, f'{blocked}; zero velocity'
        elif backend_level and backend_level[0] != OK:
            level, message = backend_level
        elif rejections:
            level, message = WARN, f'{len(rejections)} adapter(s) rejected'
        else:
            level, message = OK, f"running '{values['active'] or '<base>'}'"
        status = make_status(f'{self.get_name()}: adapters', level, message, values,
                             hardware_id=self.get_fully_qualified_name())
        self._diag_pub.publish(make_array(self.get_clock().now().to_msg(), status))


def _describe_stale(stale: Dict[str, Optional[float]]) -> str:
    return ', '.join(f'{name} never received' if age is None else f'{name} silent {age:.2f} s'
                     for name, age in sorted(stale.items()))


def main(args=None):
    return run_node('inference_node', InferenceNode, args, executor_factory=EventsExecutor)


if __name__ == '__main__':
    sys.exit(main())
