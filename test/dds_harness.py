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
Multi-process DDS tests: start node processes, talk to them from a test node, always clean up.

Usage (every wait is bounded; a failure message carries the tail of every process's output)::

    with DdsHarness(domain_id=31, log_dir=tmp_path) as dds:
        dds.start(spec)                                   # a NodeSpec, or start_argv(name, argv)
        active = dds.subscribe(String, '/active_adapter', LATCHED_QOS)
        dds.wait_for(lambda: active.last() is not None, 20, 'active adapter published')
        dds.set_parameters('/inference_node', {'adapter_override': 'hazard'})
        dds.call_service(Trigger, '/inference_node/rollback', Trigger.Request())
        sensors = SyntheticSensors(dds, Scene(spill_fraction=0.1))   # scan, camera, odom
        sensors.silence('scan')                                       # a sensor goes quiet

Processes get an isolated environment: the given ROS_DOMAIN_ID,
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST (nothing leaves the machine, no cross-talk with other
domains), AMENT_PREFIX_PATH (message packages found), PYTHONUNBUFFERED=1 (logs arrive before a
crash). The test-side node lives in its own rclpy Context, spun by a background executor, so the
harness works whatever else the test process has initialised. Teardown sends SIGINT (a node's
clean-shutdown path), then SIGKILL to whatever is left.
"""

from dataclasses import dataclass
import math
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from adapter_switcher.nodes.conversions import array_to_image
from adapter_switcher.nodes.conversions import image_to_array
from adapter_switcher.nodes.conversions import odom_to_twist
from adapter_switcher.nodes.conversions import scan_to_data
from adapter_switcher.nodes.qos import SENSOR_QOS

from nav_msgs.msg import Odometry
import numpy as np
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.srv import GetParameters
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import LaserScan

LOG_TAIL_CHARS = 3000
QUERY_RESEND_S = 5.0   # a query unanswered this long is asked again (call_service)


class Recorder:
    """Keeps every message a subscription receives, with its arrival time (monotonic seconds)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: List[tuple] = []

    def __call__(self, msg) -> None:
        with self._lock:
            self._items.append((time.monotonic(), msg))

    def messages(self) -> list:
        with self._lock:
            return [msg for _, msg in self._items]

    def timed(self) -> list:
        """Return ``[(arrival_time, msg), ...]``."""
        with self._lock:
            return list(self._items)

    def last(self):
        with self._lock:
            return self._items[-1][1] if self._items else None

    def count(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class ManagedProcess:
    """One started node process and the file its output goes to."""

    def __init__(self, name: str, argv: Sequence[str], env: Dict[str, str], log_path: Path):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, 'wb')
        self.popen = subprocess.Popen(self.argv, env=env, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors='replace')
        return text[-chars:]

    def interrupt(self, timeout: float) -> Optional[int]:
        """Send SIGINT and wait; return the exit code, or None if it is still running."""
        if self.alive():
            self.popen.send_signal(signal.SIGINT)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """
        SIGKILL the process's whole session (started with ``start_new_session``).

        A ``bringup`` starts its nodes as children in its session: killing the leader alone
        would leave them running on the test's domain, into the next tests.
        """
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass   # the whole group has exited
        self.popen.wait(timeout=10)
        self._log.close()


def node_env(domain_id: int, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Return the environment for a node process isolated on ``domain_id``, on this host only."""
    if not 0 <= int(domain_id) <= 101:
        raise ValueError(f'ROS_DOMAIN_ID must be 0..101, got {domain_id!r}')
    env = dict(os.environ if base is None else base)
    env['ROS_DOMAIN_ID'] = str(int(domain_id))
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.pop('ROS_STATIC_PEERS', None)
    env['PYTHONUNBUFFERED'] = '1'
    env.setdefault('AMENT_PREFIX_PATH', sys.prefix)
    return env


class DdsHarness:
    """Node processes plus a test-side node on one isolated DDS domain."""

    def __init__(self, domain_id: int, log_dir: Path, node_name: str = 'dds_test'):
        self.domain_id = int(domain_id)
        self.env = node_env(self.domain_id)
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: List[ManagedProcess] = []
        self._clients: Dict[Tuple[Any, str], Any] = {}
        # The test process discovers like the nodes it talks to.
        os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
        self.context = Context()
        rclpy.init(context=self.context, domain_id=self.domain_id)
        self.node = rclpy.create_node(node_name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stopping = threading.Event()
        self._spinner = threading.Thread(target=self._spin, daemon=True)
        self._spinner.start()

    def _spin(self) -> None:
        while not self._stopping.is_set():
            self.executor.spin_once(timeout_sec=0.05)

    # Processes -------------------------------------------------------------------------------

    def start(self, spec, extra_args: Sequence[str] = ()) -> ManagedProcess:
        """Start a NodeSpec as ``python -m module --ros-args ...``."""
        return self.start_argv(spec.name, spec.command() + list(extra_args))

    def start_argv(self, name: str, argv: Sequence[str]) -> ManagedProcess:
        index = len(self.processes)
        process = ManagedProcess(name, argv, self.env, self.log_dir / f'{index:02d}_{name}.log')
        self.processes.append(process)
        return process

    def logs(self) -> str:
        """Return every process's status and output tail, for failure messages."""
        parts = []
        for process in self.processes:
            code = process.popen.poll()
            state = 'running' if code is None else f'exited {code}'
            parts.append(f'--- {process.name} ({state}) {process.log_path}\n{process.tail()}')
        return '\n'.join(parts)

    def _check_alive(self) -> None:
        dead = [p for p in self.processes if not p.alive()]
        if dead:
            raise AssertionError(
                f'{", ".join(p.name for p in dead)} died unexpectedly\n{self.logs()}')

    # Waiting ---------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str,
                 require_alive: bool = True, poll: float = 0.02) -> Any:
        """
        Poll ``predicate`` until it returns a truthy value, and return that value.

        Fails with ``what`` and the process logs after ``timeout`` seconds, or at once when a
        started process has died (unless ``require_alive`` is False).
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if require_alive:
                self._check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out after {timeout} s waiting for: {what}\n'
                                     f'{self.logs()}')
            time.sleep(poll)

    # Topics ----------------------------------------------------------------------------------

    def subscribe(self, msg_type, topic: str, qos) -> Recorder:
        recorder = Recorder()
        self.node.create_subscription(msg_type, topic, recorder, qos)
        return recorder

    def publisher(self, msg_type, topic: str, qos):
        return self.node.create_publisher(msg_type, topic, qos)

    def wait_for_subscribers(self, publisher, count: int = 1, timeout: float = 30.0) -> None:
        self.wait_for(lambda: publisher.get_subscription_count() >= count, timeout,
                      f'{count} subscriber(s) on {publisher.topic_name}')

    # Services and parameters -----------------------------------------------------------------

    def call_service(self, srv_type, name: str, request, timeout: float = 30.0,
                     resend_after: Optional[float] = None):
        """
        Call a service and return its response, waiting at most ``timeout`` in all.

        One client per service serves every call: a new client's reply reader can still be
        unknown to the server when the first response goes out, and Fast DDS then drops that
        response ("failed to send response (timeout)" in the node's log). ``resend_after``
        sends the request again whenever that many seconds pass without a response: for
        queries (GetState, GetParameters) only, which asking twice changes nothing.
        """
        key = (srv_type, name)
        if key not in self._clients:
            self._clients[key] = self.node.create_client(srv_type, name)
        client = self._clients[key]
        self.wait_for(client.service_is_ready, timeout, f'service {name} available')
        deadline = time.monotonic() + timeout
        while True:
            future = client.call_async(request)
            due = min(deadline, time.monotonic() + (resend_after or timeout))
            self.wait_for(lambda: future.done() or time.monotonic() >= due, timeout + 1.0,
                          f'response from {name}')
            if future.done():
                return future.result()
            client.remove_pending_request(future)
            if time.monotonic() >= deadline:
                raise AssertionError(f'timed out after {timeout} s waiting for: response from '
                                     f'{name}\n{self.logs()}')

    def set_parameters(self, node_name: str, values: Dict[str, Any],
                       timeout: float = 30.0) -> list:
        """Set parameters on a remote node; return its SetParametersResult list, in order."""
        request = SetParameters.Request()
        request.parameters = [_to_msg(name, value) for name, value in values.items()]
        response = self.call_service(SetParameters, f'{node_name}/set_parameters', request,
                                     timeout)
        return list(response.results)

    def get_parameters(self, node_name: str, names: Sequence[str],
                       timeout: float = 30.0) -> Dict[str, Any]:
        """Return the remote node's current values of ``names``."""
        request = GetParameters.Request(names=list(names))
        response = self.call_service(GetParameters, f'{node_name}/get_parameters', request,
                                     timeout, resend_after=QUERY_RESEND_S)
        return {name: Parameter.from_parameter_msg(ParameterMsg(name=name, value=value)).value
                for name, value in zip(names, response.values)}

    # Teardown --------------------------------------------------------------------------------

    def stop(self, process: ManagedProcess, timeout: float = 15.0) -> Optional[int]:
        """SIGINT one process and return its exit code (None if it had to be killed)."""
        code = process.interrupt(timeout)
        if code is None:
            process.kill()
        return code

    def close(self) -> None:
        for process in self.processes:
            if process.alive():
                process.popen.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15.0
        for process in self.processes:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            process.kill()
        self._stopping.set()
        self._spinner.join(timeout=5.0)
        self.executor.shutdown(timeout_sec=5.0)
        self.node.destroy_node()
        self.context.try_shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _to_msg(name: str, value: Any) -> ParameterMsg:
    return Parameter(name, value=value).to_parameter_msg()


# Synthetic sensors -------------------------------------------------------------------------------

# The spill colour of config/context_rules.yaml (cyan, HSV hue 93) and a grey floor.
SPILL_RGB = (0, 204, 230)
FLOOR_RGB = (120, 120, 120)
IMAGE_SIZE = (48, 64)  # height, width
IMAGE_PADDING = 8      # bytes of padding per row: the nodes must honour ``step``


@dataclass(frozen=True)
class Scene:
    """What the synthetic robot senses: clearances (m), the spill's share of the image, speed."""

    front_m: float = 6.0
    left_m: float = 1.5
    right_m: float = 1.5
    spill_fraction: float = 0.0
    speed: float = 0.3
    encoding: str = 'rgb8'


def scene_scan(scene: Scene) -> LaserScan:
    """
    Return a 360-beam scan of the scene, with a few NaN and +inf beams.

    The invalid beams (outside the front sector) are there on purpose: the nodes must take them.
    """
    msg = LaserScan()
    msg.header.frame_id = 'base_scan'
    msg.angle_min = -math.pi
    msg.angle_increment = 2 * math.pi / 360
    msg.angle_max = msg.angle_min + 359 * msg.angle_increment
    msg.range_min, msg.range_max = 0.1, 10.0
    ranges = []
    for index in range(360):
        degrees = math.degrees(msg.angle_min + index * msg.angle_increment)
        if abs(degrees) < 20.0:
            ranges.append(scene.front_m)
        elif 60.0 <= degrees <= 120.0:
            ranges.append(scene.left_m)
        elif -120.0 <= degrees <= -60.0:
            ranges.append(scene.right_m)
        elif index % 37 == 0:
            ranges.append(float('nan'))
        elif index % 53 == 0:
            ranges.append(float('inf'))
        else:
            ranges.append(4.0)
    msg.ranges = ranges
    return msg


def scene_image(scene: Scene):
    """Return a padded camera image whose bottom pixels show the spill, spill_fraction of all."""
    height, width = IMAGE_SIZE
    rgb = np.empty((height * width, 3), dtype=np.uint8)
    rgb[:] = FLOOR_RGB
    spill_pixels = int(round(scene.spill_fraction * height * width))
    if spill_pixels:
        rgb[height * width - spill_pixels:] = SPILL_RGB
    rgb = rgb.reshape(height, width, 3)
    if scene.encoding == 'mono8':
        pixels = rgb.mean(axis=2).astype(np.uint8)
    elif scene.encoding == 'bgr8':
        pixels = rgb[:, :, ::-1]
    else:
        pixels = rgb
    channels = 1 if pixels.ndim == 2 else 3
    return array_to_image(pixels, scene.encoding, step=width * channels + IMAGE_PADDING)


def scene_odom(scene: Scene) -> Odometry:
    msg = Odometry()
    msg.header.frame_id, msg.child_frame_id = 'odom', 'base_link'
    msg.twist.twist.linear.x = scene.speed
    return msg


def scene_command(reference, adapter: Optional[str], scene: Scene):
    """Return ``(linear_x, angular_z)`` a ReferencePolicy gives for the scene's messages."""
    scan = scan_to_data(scene_scan(scene))
    image, encoding = image_to_array(scene_image(scene))
    return reference.command(adapter, scan.ranges, scan.angle_min, scan.angle_increment,
                             scan.range_min, scan.range_max, image, encoding,
                             odom_to_twist(scene_odom(scene)))


class SyntheticSensors:
    """
    Publishes the scene on ``scan``, ``camera/image_raw`` and ``odom`` at ``rate_hz``.

    Runs as a timer on the harness node (its executor thread), with sensor-data QoS.
    ``silence(...)`` stops chosen sensors, to trigger the nodes' sensor timeout.
    """

    SENSORS = ('scan', 'camera', 'odom')

    def __init__(self, harness: DdsHarness, scene: Scene = Scene(), rate_hz: float = 20.0,
                 namespace: str = ''):
        prefix = namespace.rstrip('/') + '/' if namespace else ''
        node = harness.node
        self._publishers = {
            'scan': node.create_publisher(LaserScan, prefix + 'scan', SENSOR_QOS),
            'camera': node.create_publisher(type(scene_image(scene)),
                                            prefix + 'camera/image_raw', SENSOR_QOS),
            'odom': node.create_publisher(Odometry, prefix + 'odom', SENSOR_QOS),
        }
        self._lock = threading.Lock()
        self._silent: set = set()
        self._messages = {}
        self.set_scene(scene)
        self._timer = node.create_timer(1.0 / rate_hz, self._publish)

    def set_scene(self, scene: Scene) -> None:
        messages = {'scan': scene_scan(scene), 'camera': scene_image(scene),
                    'odom': scene_odom(scene)}
        with self._lock:
            self.scene = scene
            self._messages = messages

    def silence(self, *sensors: str) -> None:
        with self._lock:
            self._silent.update(sensors)

    def resume(self) -> None:
        with self._lock:
            self._silent.clear()

    def _publish(self) -> None:
        with self._lock:
            messages = {k: v for k, v in self._messages.items() if k not in self._silent}
        for sensor, msg in messages.items():
            self._publishers[sensor].publish(msg)
