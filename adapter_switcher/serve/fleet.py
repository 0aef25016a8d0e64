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
A simulated fleet against one policy server: N robots side by side on one DDS domain.

Each robot ``robot_<i>`` has its own embedded warehouse simulator (seed ``i``: its own episode),
its own context manager and its own inference node with ``inference_backend: serve``, all in
namespace ``robot_<i>``. The simulator publishes absolute topics (/scan, /odom, /clock, ...);
they are remapped into the robot's namespace, so N simulations never see each other, and the
robot's nodes follow their own simulator's /clock. Every inference node sends its ticks to the
same server, which batches the robots' rows across their adapters. A monitor prints, per robot,
the adapters it ran, its commands and how its ticks were served.

The design does not depend on N: the server sees one request per robot tick, routed by
adapter, whatever the fleet's size; here N is bounded by one 2-core machine running N
simulators.
"""

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
import threading
import time
from typing import Dict, List, Optional

from adapter_switcher.bringup.node_spec import NodeSpec
from adapter_switcher.bringup.process_bringup import run_processes
from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.sim import topics
from adapter_switcher.sim.launch_nodes import in_namespace
from adapter_switcher.sim.launch_nodes import ROBOT_TOPICS
from adapter_switcher.sim.launch_nodes import simulator_node_spec

# The simulator's absolute topics, moved into each robot's namespace, /clock included: each
# robot has its own simulation and so its own clock.
SIM_TOPICS = (topics.CLOCK,) + ROBOT_TOPICS


def robot_namespace(index: int) -> str:
    """Return the namespace of robot ``index``."""
    return f'robot_{index}'


def fleet_node_specs(robots: int, url: str, adapters_dir: Optional[str] = None,
                     fallback: str = 'local', real_time_factor: float = 1.0,
                     timeout_s: float = 0.5) -> List[NodeSpec]:
    """Return every node of an N-robot fleet whose inference nodes offload to ``url``."""
    if robots < 1:
        raise ValueError(f'a fleet needs at least one robot, got {robots}')
    specs = []
    for index in range(robots):
        namespace = robot_namespace(index)
        simulator = simulator_node_spec(seed=index, real_time_factor=real_time_factor)
        specs.append(in_namespace(simulator, namespace, SIM_TOPICS))
        offload = {'inference_backend': 'serve', 'serve_url': url, 'serve_fallback': fallback,
                   'serve_timeout_s': float(timeout_s)}
        for spec in robot_node_specs(namespace=namespace, adapters_dir=adapters_dir,
                                     use_sim_time=True):
            parameters = tuple(spec.parameters) + ((offload,) if spec.name == 'inference_node'
                                                   else ())
            clock = ((topics.CLOCK, f'/{namespace}{topics.CLOCK}'),)
            specs.append(replace(spec, parameters=parameters, remappings=clock))
    return specs


@dataclass
class RobotRecord:
    """What the monitor saw of one robot."""

    adapters: List[str] = field(default_factory=list)
    commands: int = 0
    moving: int = 0
    served: str = '0'
    local: str = '0'
    stopped: str = '0'
    replica: str = ''


class FleetMonitor:
    """Subscribes to every robot's active adapter, commands and diagnostics (own context)."""

    def __init__(self, robots: int):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        from adapter_switcher.nodes.background_spin import BackgroundSpin
        from adapter_switcher.nodes.qos import COMMAND_QOS
        from adapter_switcher.nodes.qos import LATCHED_QOS
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import Twist
        from std_msgs.msg import String

        self.records: Dict[str, RobotRecord] = {
            robot_namespace(i): RobotRecord() for i in range(robots)}
        self._lock = threading.Lock()
        self._context = Context()
        rclpy.init(context=self._context)
        self._node = rclpy.create_node('fleet_monitor', context=self._context)
        for namespace in self.records:
            self._node.create_subscription(
                String, f'/{namespace}/active_adapter',
                lambda msg, ns=namespace: self._on_active(ns, msg.data), LATCHED_QOS)
            self._node.create_subscription(
                Twist, f'/{namespace}/cmd_vel',
                lambda msg, ns=namespace: self._on_cmd(ns, msg), COMMAND_QOS)
        self._node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                       COMMAND_QOS)
        executor = SingleThreadedExecutor(context=self._context)
        executor.add_node(self._node)
        self._spinner = BackgroundSpin(executor).start()

    def _on_active(self, namespace: str, adapter: str) -> None:
        with self._lock:
            adapters = self.records[namespace].adapters
            if not adapters or adapters[-1] != (adapter or '<base>'):
                adapters.append(adapter or '<base>')

    def _on_cmd(self, namespace: str, msg) -> None:
        with self._lock:
            record = self.records[namespace]
            record.commands += 1
            record.moving += int(abs(msg.linear.x) > 1e-3 or abs(msg.angular.z) > 1e-3)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            namespace = status.hardware_id.strip('/').split('/')[0]
            if namespace not in self.records or not status.hardware_id.endswith('inference_node'):
                continue
            values = {kv.key: kv.value for kv in status.values}
            with self._lock:
                record = self.records[namespace]
                record.served = values.get('serve.served', record.served)
                record.local = values.get('serve.local', record.local)
                record.stopped = values.get('serve.stopped', record.stopped)
                record.replica = values.get('serve.replica', record.replica)

    def summary(self) -> str:
        """Return one line per robot."""
        with self._lock:
            return '\n'.join(
                f'{ns}: adapters {" -> ".join(r.adapters) or "-"}; {r.commands} commands '
                f'({r.moving} moving); ticks served {r.served}, on board {r.local}, stopped '
                f'{r.stopped}; replica {r.replica or "-"}' for ns, r in self.records.items())

    def close(self) -> None:
        """Stop spinning and shut the monitor's context down."""
        self._spinner.stop()
        self._node.destroy_node()
        self._context.try_shutdown()


def run_fleet(robots: int, url: str, seconds: float, adapters_dir: Optional[str] = None,
              fallback: str = 'local', real_time_factor: float = 1.0,
              timeout_s: float = 0.5) -> str:
    """Run the fleet for ``seconds`` of wall time against the server at ``url``; summarise."""
    specs = fleet_node_specs(robots, url, adapters_dir, fallback, real_time_factor, timeout_s)
    stop = threading.Event()
    monitor = FleetMonitor(robots)
    nodes = threading.Thread(target=run_processes, args=(specs,),
                             kwargs={'stop_event': stop, 'install_signal_handlers': False},
                             daemon=True)
    nodes.start()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and nodes.is_alive():
            time.sleep(0.5)
    finally:
        stop.set()
        nodes.join(timeout=120.0)
        summary = monitor.summary()
        monitor.close()
    return summary
