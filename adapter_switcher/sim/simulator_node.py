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
The simulator node: the embedded warehouse simulator behind the topics Gazebo's bridge offers.

Publishes /clock, /scan, /camera/image_raw + /camera/camera_info, /odom, /tf (odom ->
base_link, when tf2_msgs is installed), /diagnostics, the latched /plan (the episode's route
as a nav_msgs/Path in the odom frame, as a global planner hands it to a controller; again at
every reset) and the latched ``~/collision`` and ``~/on_spill`` flags; drives the robot from
/cmd_vel (Twist, or TwistStamped with ``enable_stamped_cmd_vel``); ``~/reset``
(std_srvs/Trigger) starts a new episode with the ``seed`` parameter.

QoS: sensor topics are published reliable with depth 10 (``publish_depth``), as ros_gz_bridge
does, so both reliable subscribers and sensor-data (best-effort) subscribers receive them.

The simulation runs in its own thread, on the sim clock, in one of two modes:

* free-running (the default, as Gazebo): ``real_time_factor`` times real time (0: as fast as
  possible), the latest /cmd_vel applied, /clock at ``clock_rate_hz`` of sim time (20 Hz by
  default, the control rate: each /clock message costs every node on sim time a callback, about
  0.4 ms of CPU in rclpy, so one per physics step would cost each node 4 % of a core; Gazebo
  Classic's ``gazebo_ros_init`` throttles it too, to 10 Hz);
* lock-step (``lockstep`` true, as CARLA's synchronous mode): every ``1 / lockstep_rate_hz`` of
  sim time it publishes the sensors due and then /clock, and waits (at most
  ``lockstep_timeout_s`` of wall time) for the controller's command for that tick before it
  steps on (:mod:`adapter_switcher.sim.lockstep`). Results then do not depend on machine load.

A reset first calls the ``reset_services`` (std_srvs/Trigger, e.g. the context manager's
``~/reset``, so the controller's episodic state starts afresh too), then publishes every sensor
at once, so that nodes never act on the previous episode's data, and restarts the sensor
schedules. In lock-step this all happens between two ticks: after the controller has answered
the current tick (its command is dropped) and before the new episode's first data goes out.

The executor thread serves /cmd_vel, the service and parameter changes. The node itself does
not use sim time: it is the clock. If the simulation thread fails, the node logs FATAL and the
process exits with status 1.
"""

import sys
import threading
import time
from typing import List, Tuple

from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.nodes.resolve import resolve_path
from adapter_switcher.nodes.runner import run_node
from adapter_switcher.nodes.runner import StartupError
from adapter_switcher.paths import share_path
from adapter_switcher.sim import gl_backend
from adapter_switcher.sim import messages
from adapter_switcher.sim import topics
from adapter_switcher.sim.lockstep import LockstepGate
from adapter_switcher.sim.scenario import DEFAULT_SCENARIO
from adapter_switcher.sim.scenario import load_scenario
from adapter_switcher.sim.scenario import ScenarioError
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD
from adapter_switcher.sim.sdf_world import load_world
from adapter_switcher.sim.sdf_world import WorldError
from adapter_switcher.sim.simulator import SimulationError
from adapter_switcher.sim.simulator import WarehouseSim
from adapter_switcher.sim.timing import RateSchedule
from adapter_switcher.sim.timing import RealTimePacer

from diagnostic_msgs.msg import DiagnosticArray
from diagnostic_msgs.msg import DiagnosticStatus
from diagnostic_msgs.msg import KeyValue
from geometry_msgs.msg import Twist
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path
from rcl_interfaces.msg import FloatingPointRange
from rcl_interfaces.msg import IntegerRange
from rcl_interfaces.msg import ParameterDescriptor
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo
from sensor_msgs.msg import Image
from sensor_msgs.msg import LaserScan
from std_msgs.msg import Bool
from std_msgs.msg import Header
from std_srvs.srv import Trigger

try:
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage
except ImportError:  # tf2_msgs has no PyPI wheel; a ROS 2 install has it
    TFMessage = None

# Sensors go out reliable with depth 10, as ros_gz_bridge publishes them: reliable and
# sensor-data (best-effort) subscribers both receive them.
SIM_QOS = COMMAND_QOS
DIAGNOSTICS_RATE_HZ = 1.0


def _descriptor(description: str, read_only: bool = False, floats=None, integers=None):
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if floats:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=floats[0], to_value=floats[1], step=0.0)]
    if integers:
        descriptor.integer_range = [IntegerRange(
            from_value=integers[0], to_value=integers[1], step=1)]
    return descriptor


class SimulatorNode(Node):
    """Run WarehouseSim and expose it with Gazebo's topics."""

    def __init__(self):
        super().__init__('simulator')
        self._stop = threading.Event()
        self._thread = None
        self._gate = None
        self.failure = None
        try:
            self._declare_and_start()
        except InvalidParameterValueException as error:
            raise StartupError(str(error).splitlines()[0]) from None

    def _declare_and_start(self):
        world_path = self.declare_parameter(
            'world', str(share_path(DEFAULT_WORLD)),
            _descriptor('SDF world file', read_only=True)).value
        scenario_path = self.declare_parameter(
            'scenario', str(share_path(DEFAULT_SCENARIO)),
            _descriptor('scenario YAML (start, route, spill, randomization)',
                        read_only=True)).value
        seed = self.declare_parameter(
            'seed', 0, _descriptor('episode seed used at start-up and by ~/reset',
                                   integers=(0, 2**31 - 1))).value
        rtf = self.declare_parameter(
            'real_time_factor', 1.0,
            _descriptor('sim seconds per wall second; 0 runs as fast as possible',
                        floats=(0.0, 1000.0))).value
        physics_rate = self.declare_parameter(
            'physics_rate_hz', 100.0,
            _descriptor('physics update rate', True, floats=(10.0, 1000.0))).value
        lidar_rate = self.declare_parameter(
            'lidar_rate_hz', 10.0, _descriptor('/scan rate in sim time', True,
                                               floats=(0.1, 1000.0))).value
        camera_rate = self.declare_parameter(
            'camera_rate_hz', 15.0, _descriptor('/camera/image_raw rate in sim time', True,
                                                floats=(0.1, 1000.0))).value
        clock_rate = self.declare_parameter(
            'clock_rate_hz', 20.0,
            _descriptor('free-running /clock rate in sim time, at most physics_rate_hz. Every '
                        'message wakes every node on use_sim_time, and their timers fire only '
                        'when /clock advances: keep it a multiple of the fastest timer (the '
                        "inference node's rate_hz)", True, floats=(0.1, 1000.0))).value
        odom_rate = self.declare_parameter(
            'odom_rate_hz', 50.0, _descriptor('/odom and /tf rate in sim time', True,
                                              floats=(0.1, 1000.0))).value
        self._cmd_timeout_ns = round(1e9 * self.declare_parameter(
            'cmd_vel_timeout_s', 0.5,
            _descriptor('stop when no /cmd_vel arrived for this long (sim time); 0: never',
                        floats=(0.0, 60.0))).value)
        stamped = self.declare_parameter(
            'enable_stamped_cmd_vel', False,
            _descriptor('subscribe to /cmd_vel as TwistStamped instead of Twist', True)).value
        lockstep = self.declare_parameter(
            'lockstep', False,
            _descriptor('wait for the command of every control tick before stepping on '
                        '(CARLA synchronous mode); false: free-running', True)).value
        lockstep_rate = self.declare_parameter(
            'lockstep_rate_hz', 20.0,
            _descriptor('lock-step control rate in sim time (/clock advances by its period); '
                        'must divide physics_rate_hz', True, floats=(0.1, 1000.0))).value
        timeout = self.declare_parameter(
            'lockstep_timeout_s', 30.0,
            _descriptor("lock-step: wall seconds to wait for a tick's command before failing",
                        True, floats=(0.1, 3600.0))).value
        first_timeout = self.declare_parameter(
            'lockstep_startup_timeout_s', 300.0,
            _descriptor('lock-step: wall seconds to wait for the first command (the '
                        'controller starting up)', True, floats=(0.1, 3600.0))).value
        if clock_rate > physics_rate:
            raise StartupError(f'clock_rate_hz {clock_rate:g} is above physics_rate_hz '
                               f'{physics_rate:g}: /clock can advance at most once per step')
        steps = physics_rate / lockstep_rate
        if lockstep and abs(steps - round(steps)) > 1e-9:
            raise StartupError(f'lockstep_rate_hz {lockstep_rate:g} must divide physics_rate_hz '
                               f'{physics_rate:g} (a whole number of physics steps per tick)')
        depth = self.declare_parameter(
            'publish_depth', 10,
            _descriptor('history depth of every published topic (reliable): how far a slow '
                        'subscriber may fall behind without losing messages', True,
                        integers=(1, 100000))).value
        reset_services = self.declare_parameter(
            'reset_services', Parameter.Type.STRING_ARRAY,
            _descriptor('std_srvs/Trigger services to call at every episode reset, before the '
                        "episode's first data (e.g. /context_manager/reset)", True)).value or []
        self._steps_per_tick = max(1, round(steps))
        self._gate = LockstepGate(timeout, first_timeout) if lockstep else None

        try:
            gl_backend.require()
            world_path, scenario_path = resolve_path(world_path), resolve_path(scenario_path)
            self._world = load_world(world_path)
            self._sim = WarehouseSim(self._world, load_scenario(scenario_path), physics_rate,
                                     seed)
        except (WorldError, ScenarioError, SimulationError, gl_backend.GLBackendError) as exc:
            raise StartupError(str(exc)) from None
        self._pacer = RealTimePacer(rtf, sleep=self._stop.wait)  # a stop cuts a pause short
        now = self._sim.time_ns
        self._rates = {'lidar': lidar_rate, 'camera': camera_rate, 'odom': odom_rate,
                       'diagnostics': DIAGNOSTICS_RATE_HZ, 'clock': clock_rate}
        self._anchor_schedules(now)
        self._resets = self._resets_hooked = self._resets_published = 0
        self._lidar_period = 1.0 / lidar_rate
        self._lock = threading.Lock()
        self._command: Tuple[float, float, int] = (0.0, 0.0, now)
        self._flags = (None, None)

        sim_qos = QoSProfile(depth=depth, reliability=SIM_QOS.reliability,
                             durability=SIM_QOS.durability)
        self._clock_pub = self.create_publisher(Clock, topics.CLOCK, sim_qos)
        self._scan_pub = self.create_publisher(LaserScan, topics.SCAN, sim_qos)
        self._image_pub = self.create_publisher(Image, topics.IMAGE, sim_qos)
        self._info_pub = self.create_publisher(CameraInfo, topics.CAMERA_INFO, sim_qos)
        self._odom_pub = self.create_publisher(Odometry, topics.ODOM, sim_qos)
        self._tf_pub = None
        if TFMessage is None:
            self.get_logger().info('tf2_msgs is not installed: /tf (odom -> base_link) is off')
        else:
            self._tf_pub = self.create_publisher(TFMessage, topics.TF, sim_qos)
        self._collision_pub = self.create_publisher(Bool, '~/collision', LATCHED_QOS)
        self._spill_pub = self.create_publisher(Bool, '~/on_spill', LATCHED_QOS)
        self._plan_pub = self.create_publisher(Path, topics.PLAN, LATCHED_QOS)
        self._plan_pub.publish(self._plan_message(now))
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics',
                                                      COMMAND_QOS)
        if stamped:
            self.create_subscription(TwistStamped, topics.CMD_VEL,
                                     lambda msg: self._on_cmd_vel(msg.twist, msg.header.stamp),
                                     COMMAND_QOS)
        else:
            self.create_subscription(Twist, topics.CMD_VEL, self._on_cmd_vel, COMMAND_QOS)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self._reset_clients = [self.create_client(Trigger, name) for name in reset_services]
        self._call_timeout_s = timeout
        self.add_on_set_parameters_callback(self._on_parameters)

        self._wall_mark = (time.monotonic(), now)
        self._thread = threading.Thread(target=self._run, name='simulation', daemon=True)
        self._thread.start()
        mode = (f'lock-step at {lockstep_rate:g} Hz' if lockstep else
                f'real_time_factor {rtf} (0: as fast as possible)')
        self.get_logger().info(f'simulating {world_path} with {scenario_path}, {mode}, episode '
                               f'seed {seed}')

    def _on_parameters(self, parameters) -> SetParametersResult:
        """Apply run-time changes; the descriptors' ranges have already been checked."""
        changes = {p.name: p.value for p in parameters}
        for name in ('real_time_factor', 'cmd_vel_timeout_s'):
            if name in changes and not 0.0 <= changes[name] <= 1000.0:
                return SetParametersResult(successful=False,
                                           reason=f'{name} must be >= 0, got {changes[name]}')
        if 'real_time_factor' in changes:
            self._pacer.set_factor(changes['real_time_factor'])
        if 'cmd_vel_timeout_s' in changes:
            self._cmd_timeout_ns = round(1e9 * changes['cmd_vel_timeout_s'])
        return SetParametersResult(successful=True)

    def _on_cmd_vel(self, twist: Twist, stamp=None):
        if self._gate is not None:
            stamp_ns = None if stamp is None else stamp.sec * 10**9 + stamp.nanosec
            self._gate.answer(twist.linear.x, twist.angular.z, stamp_ns)
            return
        with self._lock:
            self._command = (twist.linear.x, twist.angular.z, self._sim.time_ns)

    def _on_reset(self, request, response):
        seed = self.get_parameter('seed').value
        with self._lock:
            try:
                episode = self._sim.reset(seed)
            except SimulationError as exc:
                response.success, response.message = False, str(exc)
                return response
            now = self._sim.time_ns
            self._command = (0.0, 0.0, now)
            self._anchor_schedules(now)
            self._resets += 1   # the simulation thread takes it from here
            if self._gate is not None:
                self._gate.lock()   # an episode starts: from now on every tick waits
        spill = episode.spill.position if episode.spill else None
        response.success = True
        response.message = (f'reset episode with seed {seed} at sim time {now * 1e-9:.3f} s: '
                            f'start {episode.start}, spill at {spill}')
        self.get_logger().info(response.message)
        return response

    def _after_reset(self) -> List[tuple]:
        """Every sensor at the reset instant, once after a reset (call with the lock held)."""
        if self._resets_published == self._resets:
            return []
        self._resets_published = self._resets
        now = self._sim.time_ns
        # The plan after the sensors: a follower that starts it places the robot with the new
        # episode's odometry, not the last one's.
        return self._sensor_messages(now, due=lambda _: True) + \
            [(self._plan_pub, self._plan_message(now))]

    def _plan_message(self, now: int):
        """Return the episode's route as a Path in the odometry's frame (a new one restarts it)."""
        return messages.path_message(self._sim.scenario.waypoints, topics.ODOM_FRAME, now)

    def _prepare_reset(self) -> bool:
        """
        Call the reset services if a reset came in; return True once none is left uncalled.

        This runs outside the lock: the services' answers need the executor, which a reset
        holds the lock from.
        """
        resets = self._resets
        if resets != self._resets_hooked:
            self._call_reset_services()
            self._resets_hooked = resets
        return self._resets == self._resets_hooked

    def _call_reset_services(self) -> None:
        """Call every reset service and wait for it (bounded); a failure is logged, not fatal."""
        for client in self._reset_clients:
            if not client.wait_for_service(timeout_sec=self._call_timeout_s):
                self.get_logger().error(f'reset: service {client.srv_name} is not available')
                continue
            future = client.call_async(Trigger.Request())
            done = threading.Event()
            future.add_done_callback(lambda _: done.set())
            if not done.wait(self._call_timeout_s) or not future.result().success:
                self.get_logger().error(f'reset: {client.srv_name} did not succeed')

    def _anchor_schedules(self, now: int) -> None:
        self._schedules = {name: RateSchedule(rate, now) for name, rate in self._rates.items()}

    def _run(self):
        try:
            if self._gate is None:
                self._run_free()
            else:
                self._run_lockstep()
        except Exception as exc:  # noqa: B902 - any failure must end the process
            if not self.context.ok() or self._stop.is_set():
                return  # shutting down: publishers went away under this thread
            # End the process rather than spin on without a simulation: run_node sees the
            # failure and exits with status 1, so bringup and launch stop the graph.
            self.failure = f'simulation stopped: {exc}'
            self.get_logger().fatal(self.failure)
            self.context.try_shutdown()
        finally:
            self._sim.close()  # the GL context belongs to this thread

    def _run_free(self):
        while not self._stop.is_set():
            if not self._prepare_reset():
                continue
            with self._lock:
                v, w, received = self._command
                if self._cmd_timeout_ns and self._sim.time_ns - received > self._cmd_timeout_ns:
                    v = w = 0.0
                outgoing = self._after_reset() + self._step(v, w, with_clock=True)
            for publisher, msg in outgoing:
                publisher.publish(msg)
            self._pacer.wait(self._sim.time)

    def _run_lockstep(self):
        """Each tick: step with the last command, publish sensors then /clock, await the answer."""
        command = (0.0, 0.0)
        while not self._stop.is_set():
            if not self._prepare_reset():
                continue
            with self._lock:
                if self._resets != self._resets_published:
                    command = (0.0, 0.0)
                outgoing = self._after_reset()
                for _ in range(self._steps_per_tick):
                    outgoing += self._step(*command, with_clock=False)
                tick = self._sim.time_ns
                outgoing.append((self._clock_pub, messages.clock_message(tick)))
                self._gate.expect(tick)
                for publisher, msg in outgoing:
                    publisher.publish(msg)
            command = self._gate.wait(self._stop)
            if command is None:
                return

    def _step(self, v: float, w: float, with_clock: bool) -> List[tuple]:
        """Advance one physics step; return the (publisher, message) pairs now due."""
        sim = self._sim
        sim.step(v, w)
        now = sim.time_ns
        outgoing = []
        if with_clock and self._schedules['clock'].due(now):
            outgoing.append((self._clock_pub, messages.clock_message(now)))
        outgoing += self._sensor_messages(now, lambda name: self._schedules[name].due(now))
        flags = (sim.collision, sim.on_spill)
        if flags[0] != self._flags[0]:
            outgoing.append((self._collision_pub, Bool(data=flags[0])))
        if flags[1] != self._flags[1]:
            outgoing.append((self._spill_pub, Bool(data=flags[1])))
        self._flags = flags
        if self._schedules['diagnostics'].due(now):
            outgoing.append((self._diagnostics_pub, self._diagnostics(now)))
        return outgoing

    def _sensor_messages(self, now: int, due) -> List[tuple]:
        """Return the sensor (publisher, message) pairs for which ``due(sensor)`` is true."""
        sim = self._sim
        outgoing = []
        robot = self._world.robot
        if due('odom'):
            odometry = sim.odometry()
            outgoing.append((self._odom_pub, messages.odometry_message(
                odometry, topics.ODOM_FRAME, robot.base_frame, now)))
            if self._tf_pub is not None:
                outgoing.append((self._tf_pub, self._transform(odometry, now)))
        if due('lidar'):
            outgoing.append((self._scan_pub, messages.scan_message(
                sim.scan(), robot.lidar, now, self._lidar_period)))
        if due('camera'):
            outgoing.append((self._image_pub, messages.image_message(
                sim.image(), robot.camera.frame_id, now)))
            outgoing.append((self._info_pub, messages.camera_info_message(robot.camera, now)))
        return outgoing

    def _transform(self, odometry, time_ns: int):
        transform = TransformStamped()
        transform.header.stamp = messages.stamp(time_ns)
        transform.header.frame_id = topics.ODOM_FRAME
        transform.child_frame_id = self._world.robot.base_frame
        transform.transform.translation.x = odometry.x
        transform.transform.translation.y = odometry.y
        transform.transform.rotation = messages.yaw_quaternion(odometry.yaw)
        return TFMessage(transforms=[transform])

    def _diagnostics(self, time_ns: int) -> DiagnosticArray:
        sim = self._sim
        wall, sim_ns = time.monotonic(), time_ns
        achieved = (sim_ns - self._wall_mark[1]) * 1e-9 / max(wall - self._wall_mark[0], 1e-9)
        self._wall_mark = (wall, sim_ns)
        odometry = sim.odometry()
        level, message = DiagnosticStatus.OK, 'running'
        if sim.collision:
            level, message = DiagnosticStatus.WARN, 'the robot is blocked by an obstacle'
        elif sim.on_spill:
            level, message = DiagnosticStatus.WARN, 'the robot is on the spill'
        values = {
            'seed': sim.episode.seed, 'sim_time': f'{sim.time:.3f}',
            'real_time_factor': f'{achieved:.2f}', 'collisions': sim.stats.collisions,
            'spill_entries': sim.stats.spill_entries, 'distance': f'{sim.stats.distance:.3f}',
            'x': f'{odometry.x:.3f}', 'y': f'{odometry.y:.3f}', 'yaw': f'{odometry.yaw:.3f}',
        }
        status = DiagnosticStatus(
            level=level, name=f'{self.get_name()}: episode', message=message,
            hardware_id=self._world.name,
            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        return DiagnosticArray(header=Header(stamp=messages.stamp(time_ns)), status=[status])

    def destroy_node(self):
        """Stop the simulation thread before the node goes away."""
        self._stop.set()
        if self._gate is not None:
            self._gate.stop()
        if (self._thread is not None and self._thread.is_alive()
                and self._thread is not threading.current_thread()):
            self._thread.join(timeout=5.0)
        return super().destroy_node()


def main(args=None):
    return run_node('simulator', SimulatorNode, args)


if __name__ == '__main__':
    sys.exit(main())
