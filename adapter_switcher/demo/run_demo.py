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
inference node (with the shipped demo models) as separate processes, exactly as
``adapter-switcher bringup --with-sim`` does, then drives episodes: for each seed it resets the
simulator (``~/reset`` after setting its ``seed`` parameter), watches /odom, the simulator's
``~/collision`` and ``~/on_spill`` flags and the inference node's ``active_adapter`` on sim
time, and ends the episode when the robot reaches the end of the aisle or the time runs out.
It prints every adapter switch with where the robot was, each episode's outcome, and the
inference node's swap statistics from /diagnostics. Node output goes to a log file.
"""

import math
import os
import sys
import threading
import time
from typing import Dict, List, Optional, Tuple

from adapter_switcher.bringup.process_bringup import run_processes
from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.demo.closed_loop import EpisodeResult
from adapter_switcher.nodes.diagnostics import status_values
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.nodes.qos import SENSOR_QOS
from adapter_switcher.paths import share_path
from adapter_switcher.sim.launch_nodes import simulator_node_spec
from adapter_switcher.sim.scenario import load_scenario

from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.msg import ParameterValue
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Bool
from std_msgs.msg import String
from std_srvs.srv import Trigger

SCENARIO = 'config/demo_scenario.yaml'
STARTUP_TIMEOUT_S = 120.0
EPISODE_TIMEOUT_S = 60.0       # sim time
CALL_TIMEOUT_S = 30.0


class DemoMonitor(Node):
    """Watches the robot on sim time and drives the simulator's episodes."""

    def __init__(self, goal: Tuple[float, float], tolerance: float):
        super().__init__('demo_monitor',
                         parameter_overrides=[Parameter('use_sim_time', value=True)])
        self.goal, self.tolerance = goal, tolerance
        self._lock = threading.Lock()
        self.pose: Optional[Tuple[float, float]] = None
        self.active = ''
        self.diagnostics: Dict[str, str] = {}
        self._episode: Optional[EpisodeResult] = None
        self._flags = {'collision': False, 'on_spill': False}
        self.create_subscription(Odometry, '/odom', self._on_odom, SENSOR_QOS)
        self.create_subscription(String, '/active_adapter', self._on_active, LATCHED_QOS)
        self.create_subscription(Bool, '/simulator/collision',
                                 lambda m: self._on_flag('collision', m.data), LATCHED_QOS)
        self.create_subscription(Bool, '/simulator/on_spill',
                                 lambda m: self._on_flag('on_spill', m.data), LATCHED_QOS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self._reset = self.create_client(Trigger, '/simulator/reset')
        self._set_params = self.create_client(SetParameters, '/simulator/set_parameters')

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_odom(self, msg: Odometry) -> None:
        with self._lock:
            self.pose = (msg.pose.pose.position.x, msg.pose.pose.position.y)

    def _on_active(self, msg: String) -> None:
        with self._lock:
            self.active = msg.data
            if self._episode is not None and self.pose is not None:
                self._episode.switches.append(
                    (self.now_s() - self._started, msg.data, self.pose[0]))

    def _on_flag(self, name: str, value: bool) -> None:
        with self._lock:
            if value and not self._flags[name] and self._episode is not None:
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

    def ready(self) -> bool:
        with self._lock:
            return self.pose is not None and bool(self.active) and bool(self.diagnostics)

    def reached(self) -> bool:
        with self._lock:
            return self.pose is not None and math.dist(self.pose, self.goal) <= self.tolerance

    def start_episode(self, seed: int) -> EpisodeResult:
        """Set the simulator's seed and reset it; return the report that fills from now on."""
        value = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=seed)
        request = SetParameters.Request(parameters=[ParameterMsg(name='seed', value=value)])
        result = _call(self._set_params, request)
        if not result.results[0].successful:
            raise RuntimeError(f'the simulator refused seed {seed}: {result.results[0].reason}')
        reply = _call(self._reset, Trigger.Request())
        if not reply.success:
            raise RuntimeError(f'the simulator refused the reset: {reply.message}')
        with self._lock:
            self.pose = None
            self._started = self.now_s()
            self._episode = EpisodeResult(seed)
            return self._episode

    def finish_episode(self) -> EpisodeResult:
        with self._lock:
            episode, self._episode = self._episode, None
            episode.sim_time = self.now_s() - self._started
            return episode


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
        time.sleep(0.05)
    return False


def run_demo(episodes: int = 3, first_seed: int = 0, real_time_factor: float = 1.0,
             log_path: str = 'demo_nodes.log', out=sys.stdout) -> int:
    """Run the demo; return 0 if at least one episode succeeded and nothing broke."""
    scenario = load_scenario(share_path(SCENARIO))
    goal, tolerance = scenario.waypoints[-1], scenario.tolerance
    specs = [simulator_node_spec(scenario=str(share_path(SCENARIO)), seed=first_seed,
                                 real_time_factor=real_time_factor)]
    specs += robot_node_specs(use_sim_time=True)
    stop = threading.Event()
    codes = []
    with open(log_path, 'w') as log:
        nodes = threading.Thread(target=lambda: codes.append(run_processes(
            specs, env=dict(os.environ), out=log, install_signal_handlers=False,
            stop_event=stop)), daemon=True)
        nodes.start()
        rclpy.init()
        monitor = DemoMonitor(tuple(goal), tolerance)
        executor = SingleThreadedExecutor()
        executor.add_node(monitor)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        reports = []
        try:
            print(f'starting the simulator, context manager and inference node (log: '
                  f'{log_path})', file=out)
            if not _wait(monitor.ready, STARTUP_TIMEOUT_S, nodes):
                raise RuntimeError('the nodes did not come up; see the log')
            for seed in range(first_seed, first_seed + episodes):
                report = monitor.start_episode(seed)
                deadline = monitor.now_s() + EPISODE_TIMEOUT_S
                _wait(lambda: monitor.reached() or monitor.now_s() > deadline,
                      EPISODE_TIMEOUT_S / max(real_time_factor, 0.05) + 60.0, nodes)
                report.reached_goal = monitor.reached()
                reports.append(monitor.finish_episode())
                _print_episode(reports[-1], out)
            _print_summary(reports, monitor.diagnostics, out)
        except RuntimeError as error:
            print(f'demo failed: {error}', file=out)
            reports = []
        finally:
            executor.shutdown()
            monitor.destroy_node()
            rclpy.try_shutdown()
            stop.set()
            nodes.join(timeout=60.0)
    return 0 if any(r.success for r in reports) else 1


def _print_episode(report: EpisodeResult, out) -> None:
    outcome = 'success' if report.success else (
        'spill entered' if report.spill_entries else
        'collision' if report.collisions else 'goal not reached')
    print(f'episode seed {report.seed}: {outcome} in {report.sim_time:.1f} s sim time '
          f'(collisions {report.collisions}, spill entries {report.spill_entries})', file=out)
    for when, adapter, x in report.switches:
        print(f'    {when:6.2f} s  x = {x:6.2f} m  active adapter -> {adapter}', file=out)


def _print_summary(reports: List[EpisodeResult], diagnostics: Dict[str, str], out) -> None:
    wins = sum(r.success for r in reports)
    print(f'\n{wins}/{len(reports)} episodes reached the end of the aisle without collision or '
          'spill entry', file=out)
    keys = ('swaps', 'swap_ms_p50', 'swap_ms_p99', 'cold_swaps', 'prefetch_hit_rate',
            'engine.switch_to_output_hit_us_p50', 'engine.resident')
    shown = ', '.join(f'{k} {diagnostics[k]}' for k in keys if k in diagnostics)
    print(f'inference node: {shown}', file=out)
