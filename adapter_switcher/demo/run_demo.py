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
The closed-loop simulated demo: the README's main job, over real DDS.

Starts the embedded simulator on config/demo_scenario.yaml, the context manager and the
inference node (with the shipped demo models) as separate processes, then drives episodes: for
each seed it resets the simulator (``~/reset`` after setting its ``seed`` parameter), follows
/odom, the simulator's ``~/collision`` and ``~/on_spill`` flags and the inference node's
``active_adapter``, and ends the episode on the first odometry stamp at which the robot is at
the end of the aisle or the time limit has passed. All timing is sim time, from message stamps.

By default the simulator runs in lock-step (:mod:`adapter_switcher.sim.lockstep`): the context
manager evaluates once per control tick, the inference node answers each evaluation
(``tick_source: context``) and the simulator steps only then. The result then does not depend on
the machine's load, and each episode equals the ROS-free closed loop's
(:class:`adapter_switcher.demo.closed_loop.DemoLoop`) for the same seed. With a real-time factor
the simulator runs free, as in ``ros2 launch adapter_switcher sim.launch.py``.
"""

from collections import deque
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
import math
import os
import re
import threading
import time
from typing import Callable, Deque, Dict, List, Optional, Sequence, TextIO, Tuple

from adapter_switcher.bringup.node_spec import NodeSpec
from adapter_switcher.bringup.process_bringup import run_processes
from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.demo.closed_loop import CONTROL_HZ
from adapter_switcher.demo.closed_loop import EPISODE_TIME_LIMIT_S
from adapter_switcher.demo.closed_loop import EpisodeResult
from adapter_switcher.nodes.background_spin import BackgroundSpin
from adapter_switcher.nodes.diagnostics import status_values
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.paths import share_path
from adapter_switcher.sim.launch_nodes import simulator_node_spec
from adapter_switcher.sim.scenario import load_scenario

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.msg import ParameterValue
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy
from rclpy.qos import QoSProfile
from std_msgs.msg import Bool
from std_msgs.msg import String
from std_srvs.srv import Trigger

SCENARIO = 'config/demo_scenario.yaml'
STARTUP_TIMEOUT_S = 300.0      # wall: model loading on a busy machine
EPISODE_WALL_TIMEOUT_S = 900.0
CALL_TIMEOUT_S = 30.0
RECENT_ODOMETRY = 200  # 10 s of odometry at the control rate
RESET_TIME = re.compile(r'at sim time ([0-9.]+) s')
# The simulator keeps this many messages per topic for slow readers (the demo's recorders).
PUBLISH_DEPTH = 1000
# Every odometry message counts (the episode's end and its timing check): reliable, deep.
RELIABLE_DEEP = QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=1)
# The latched topics, without losing a change that comes before the last one is read.
LATCHED_ALL = QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=1,
                         durability=LATCHED_QOS.durability)


@dataclass
class EpisodeTrace:
    """What the monitor saw of one episode: odometry samples with the adapter active then."""

    start_ns: int
    samples: List[Tuple[float, float, float, float, str]] = field(default_factory=list)
    # (seconds into the episode, x, y, speed, active adapter)


@dataclass
class DemoRun:
    """The reports of a demo run, and the inference node's last /diagnostics values."""

    episodes: List[EpisodeResult]
    traces: List[EpisodeTrace]
    diagnostics: Dict[str, str]
    lockstep: bool
    active_messages: List[Tuple[int, str]] = field(default_factory=list)  # (stamp ns, adapter)
    observers: List[Node] = field(default_factory=list)


class DemoMonitor(Node):
    """Watches the robot on sim time (message stamps) and drives the simulator's episodes."""

    def __init__(self, goal: Tuple[float, float], tolerance: float, time_limit_s: float,
                 stamped_commands: bool):
        super().__init__('demo_monitor',
                         parameter_overrides=[Parameter('use_sim_time', value=True)])
        self.goal, self.tolerance, self.time_limit_s = goal, tolerance, time_limit_s
        self._lock = threading.Lock()
        self.pose: Optional[Tuple[float, float]] = None
        self.active = ''
        self.diagnostics: Dict[str, str] = {}
        self._episode: Optional[EpisodeResult] = None
        self._trace: Optional[EpisodeTrace] = None
        self._done = threading.Event()
        self._flags = {'collision': False, 'on_spill': False}
        self.active_messages: List[Tuple[int, str]] = []
        self._commands = 0
        self.create_subscription(TwistStamped if stamped_commands else Twist, '/cmd_vel',
                                 self._on_command, 10)
        self._last_ns = 0
        # The latest odometry, so an episode's first ticks are kept however late the reset's
        # reply is seen (start_episode); a few seconds of messages at the control rate.
        self._recent: Deque[Tuple[int, Tuple[float, float], float, str]] = deque(
            maxlen=RECENT_ODOMETRY)
        self.create_subscription(Odometry, '/odom', self._on_odom, RELIABLE_DEEP)
        self.create_subscription(String, '/active_adapter', self._on_active, LATCHED_ALL)
        self.create_subscription(Bool, '/simulator/collision',
                                 lambda m: self._on_flag('collision', m.data), LATCHED_ALL)
        self.create_subscription(Bool, '/simulator/on_spill',
                                 lambda m: self._on_flag('on_spill', m.data), LATCHED_ALL)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self._reset = self.create_client(Trigger, '/simulator/reset')
        self._set_params = self.create_client(SetParameters, '/simulator/set_parameters')

    def _on_odom(self, msg: Odometry) -> None:
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        twist = msg.twist.twist
        pose = (msg.pose.pose.position.x, msg.pose.pose.position.y)
        with self._lock:
            self._last_ns = stamp
            self.pose = pose
            sample = (stamp, pose, math.hypot(twist.linear.x, twist.linear.y), self.active)
            self._recent.append(sample)
            self._record(*sample)

    def _record(self, stamp: int, pose: Tuple[float, float], speed: float, active: str) -> None:
        """Add one odometry sample to the episode under way (the lock held)."""
        episode, trace = self._episode, self._trace
        # The last tick before the reset has the reset's stamp too: only later ones count.
        if episode is None or self._done.is_set() or stamp <= trace.start_ns:
            return
        elapsed = (stamp - trace.start_ns) * 1e-9
        trace.samples.append((elapsed, *pose, speed, active))
        # The scripted route's own test: the goal counts once strictly within tolerance.
        episode.reached_goal = math.dist(pose, self.goal) < self.tolerance
        if episode.reached_goal or elapsed >= self.time_limit_s:
            episode.sim_time, episode.final_pose = elapsed, pose
            self._done.set()

    def _on_active(self, msg: String) -> None:
        with self._lock:
            self.active = msg.data
            self.active_messages.append((self._last_ns, msg.data))
            if self._episode is not None and not self._done.is_set() and self._trace.samples:
                when, x = self._trace.samples[-1][0], self._trace.samples[-1][1]
                self._episode.switches.append((when, msg.data, x))

    def _on_flag(self, name: str, value: bool) -> None:
        with self._lock:
            if value and not self._flags[name] and self._episode is not None \
                    and not self._done.is_set():
                if name == 'collision':
                    self._episode.collisions += 1
                else:
                    self._episode.spill_entries += 1
            self._flags[name] = value

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.endswith('inference_node: adapters'):
                with self._lock:
                    self.diagnostics = status_values(status)

    def _on_command(self, _msg) -> None:
        with self._lock:
            self._commands += 1

    def ready(self) -> bool:
        """Return whether the robot's nodes are up and the controller answers ticks."""
        with self._lock:
            return (self.pose is not None and bool(self.active) and bool(self.diagnostics)
                    and self._commands > 0)

    def start_episode(self, seed: int) -> Tuple[EpisodeResult, EpisodeTrace]:
        """Set the simulator's seed and reset it; return the records that fill from now on."""
        value = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=seed)
        request = SetParameters.Request(parameters=[ParameterMsg(name='seed', value=value)])
        result = _call(self._set_params, request)
        if not result.results[0].successful:
            raise RuntimeError(f'the simulator refused seed {seed}: {result.results[0].reason}')
        with self._lock:
            self._done.clear()
            self._episode, self._trace = None, None
        reply = _call(self._reset, Trigger.Request())
        if not reply.success:
            raise RuntimeError(f'the simulator refused the reset: {reply.message}')
        found = RESET_TIME.search(reply.message)
        if found is None:
            raise RuntimeError(f'the simulator did not say when it reset: {reply.message}')
        return self.begin_episode(seed, round(float(found.group(1)) * 1e9))

    def begin_episode(self, seed: int, start_ns: int) -> Tuple[EpisodeResult, EpisodeTrace]:
        """
        Open the records of the episode the simulator started at ``start_ns`` (sim time).

        In lock-step the episode runs as soon as the simulator has reset: odometry that arrived
        before this thread saw the reset's reply (late, under load) belongs to it too.
        """
        with self._lock:
            self._done.clear()
            self._episode = EpisodeResult(seed)
            self._trace = EpisodeTrace(start_ns)
            for sample in list(self._recent):
                self._record(*sample)
            return self._episode, self._trace

    def episode_done(self) -> bool:
        return self._done.is_set()


def _call(client, request):
    if not client.wait_for_service(timeout_sec=CALL_TIMEOUT_S):
        raise RuntimeError(f'service {client.srv_name} is not available')
    future = client.call_async(request)
    deadline = time.monotonic() + CALL_TIMEOUT_S
    while not future.done():
        if time.monotonic() > deadline:
            raise RuntimeError(f'service {client.srv_name} did not answer')
        time.sleep(0.01)
    return future.result()


def _wait(predicate, timeout_s: float, nodes: threading.Thread) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        if not nodes.is_alive():
            raise RuntimeError('the nodes stopped; see the log')
        time.sleep(0.02)
    return False


def demo_node_specs(first_seed: int = 0, real_time_factor: Optional[float] = None,
                    adapters_dir: Optional[str] = None,
                    rules: Optional[str] = None) -> List[NodeSpec]:
    """
    Return the demo's nodes: simulator (demo scenario), context manager, inference node.

    They run in lock-step when ``real_time_factor`` is None.
    """
    lockstep = real_time_factor is None
    sim = {'scenario': str(share_path(SCENARIO)), 'seed': first_seed,
           'real_time_factor': 0.0 if lockstep else real_time_factor,
           'reset_services': ['/context_manager/reset'], 'publish_depth': PUBLISH_DEPTH}
    context: Dict[str, object] = {}
    inference: Dict[str, object] = {}
    if lockstep:
        sim.update(lockstep=True, lockstep_rate_hz=CONTROL_HZ, enable_stamped_cmd_vel=True,
                   odom_rate_hz=CONTROL_HZ)
        context.update(evaluation_rate_hz=CONTROL_HZ, publish_features=True)
        inference.update(tick_source='context', enable_stamped_cmd_vel=True, rate_hz=CONTROL_HZ)
    # Diagnostics ten times per sim second: the timeline marks prefetch completions and swaps.
    inference['diagnostics_period_s'] = 0.1
    if rules:
        context['rules_file'] = inference['rules_file'] = str(rules)
    manager, infer = robot_node_specs(adapters_dir=adapters_dir, use_sim_time=True)
    return [simulator_node_spec(**sim),
            replace(manager, parameters=manager.parameters + (context,)),
            replace(infer, parameters=infer.parameters + (inference,))]


def run_demo_episodes(seeds: Sequence[int], log: TextIO, real_time_factor: Optional[float] = None,
                      adapters_dir: Optional[str] = None, rules: Optional[str] = None,
                      on_episode: Callable[[EpisodeResult], None] = lambda _: None,
                      say: Callable[[str], None] = lambda _: None,
                      make_observers: Callable[[], List[Node]] = list) -> DemoRun:
    """
    Start the nodes, drive one episode per seed, stop the nodes; raise RuntimeError on failure.

    ``make_observers`` returns further nodes (recorders) to spin beside the monitor; they are
    created once ROS is initialised, returned in ``DemoRun.observers`` and destroyed at the end.
    """
    scenario = load_scenario(share_path(SCENARIO))
    specs = demo_node_specs(seeds[0], real_time_factor, adapters_dir, rules)
    stop = threading.Event()
    nodes = threading.Thread(target=lambda: run_processes(
        specs, env=dict(os.environ), out=log, install_signal_handlers=False, stop_event=stop),
        daemon=True)
    nodes.start()
    rclpy.init()
    monitor = DemoMonitor(tuple(scenario.waypoints[-1]), scenario.tolerance,
                          EPISODE_TIME_LIMIT_S, stamped_commands=real_time_factor is None)
    executor = SingleThreadedExecutor()
    executor.add_node(monitor)
    run = DemoRun([], [], {}, real_time_factor is None, monitor.active_messages,
                  list(make_observers()))
    for observer in run.observers:
        executor.add_node(observer)
    spinner = BackgroundSpin(executor).start()
    try:
        say('starting the simulator, context manager and inference node')
        if not _wait(monitor.ready, STARTUP_TIMEOUT_S, nodes):
            raise RuntimeError('the nodes did not come up; see the log')
        wall = EPISODE_WALL_TIMEOUT_S if real_time_factor is None else \
            EPISODE_TIME_LIMIT_S / max(real_time_factor, 0.05) + 120.0
        for seed in seeds:
            episode, trace = monitor.start_episode(seed)
            if not _wait(monitor.episode_done, wall, nodes):
                raise RuntimeError(f'episode seed {seed} did not end within {wall:.0f} s')
            run.episodes.append(episode)
            run.traces.append(trace)
            on_episode(episode)
        run.diagnostics = dict(monitor.diagnostics)
        return run
    finally:
        stop.set()   # first: whatever fails below, no node process outlives the demo
        try:
            spinner.stop()
            for node in [monitor] + run.observers:
                node.destroy_node()
        finally:
            rclpy.try_shutdown()
            nodes.join(timeout=60.0)
