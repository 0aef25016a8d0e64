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
Simulator speed: the simulator node with lidar at 10 Hz and camera at 15 Hz, as fast as it goes.

The simulator node runs as its own process (``real_time_factor`` 0) on an isolated DDS domain;
this process subscribes to /clock, /scan and /camera/image_raw like any robot node would and
counts what arrives, by header stamp, over a measurement window after a warm-up. Reported:
the real-time factor achieved (sim seconds per wall second), and the lidar, camera and clock
rates in sim time (they must be 10, 15 and 100 Hz: nothing dropped or bunched). Both processes
are pinned to ``--cores`` CPUs (default 2). For reference, the ROS-free simulator alone
(same rates, no messages) is timed first.

    python bench/sim.py [--seconds 12] [--warmup 3] [--cores 2]
"""

import argparse
import json
import os
from pathlib import Path
import platform
import sys
import threading
import time

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'test'))
sys.path.insert(0, str(ROOT))

from adapter_switcher.paths import share_path  # noqa: E402
from adapter_switcher.sim.launch_nodes import simulator_node_spec  # noqa: E402
from adapter_switcher.sim.scenario import DEFAULT_SCENARIO  # noqa: E402
from adapter_switcher.sim.scenario import load_scenario  # noqa: E402
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD  # noqa: E402
from adapter_switcher.sim.sdf_world import load_world  # noqa: E402
from adapter_switcher.sim.simulator import WarehouseSim  # noqa: E402
from adapter_switcher.sim.timing import RateSchedule  # noqa: E402
from dds_harness import DdsHarness  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
import mujoco  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402

DOMAIN_ID = 27
RESULT = ROOT / 'bench' / 'results' / 'sim.json'
LIDAR_HZ, CAMERA_HZ, PHYSICS_HZ = 10.0, 15.0, 100.0
TARGET_RTF = 5.0
START_TIMEOUT = 60.0


class Stamps:
    """Header stamps (integer ns) of one topic, kept light: no message is stored."""

    def __init__(self, stamp_of):
        self._stamp_of = stamp_of
        self._lock = threading.Lock()
        self.values = []

    def __call__(self, msg):
        stamp = self._stamp_of(msg)
        with self._lock:
            self.values.append(stamp.sec * 1_000_000_000 + stamp.nanosec)

    def between(self, start_ns, end_ns) -> int:
        with self._lock:
            return sum(1 for v in self.values if start_ns < v <= end_ns)

    def last(self):
        with self._lock:
            return self.values[-1] if self.values else None


def core_rtf(sim_seconds: float = 20.0) -> float:
    """Time the ROS-free simulator stepping and rendering at the benchmark's rates."""
    world = load_world(share_path(DEFAULT_WORLD))
    with WarehouseSim(world, load_scenario(share_path(DEFAULT_SCENARIO)), PHYSICS_HZ) as sim:
        lidar, camera = RateSchedule(LIDAR_HZ), RateSchedule(CAMERA_HZ)
        sim.image()  # start the renderer outside the timing
        start = time.perf_counter()
        for _ in range(round(sim_seconds * PHYSICS_HZ)):
            sim.step(0.3, 0.05)
            if lidar.due(sim.time_ns):
                sim.scan()
            if camera.due(sim.time_ns):
                sim.image()
        return sim_seconds / (time.perf_counter() - start)


def measure(dds, seconds: float, warmup: float):
    clock = Stamps(lambda m: m.clock)
    scans = Stamps(lambda m: m.header.stamp)
    images = Stamps(lambda m: m.header.stamp)
    reported = {}

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name.startswith('simulator'):
                reported.update({kv.key: kv.value for kv in status.values})
    dds.node.create_subscription(Clock, '/clock', clock, 100)
    dds.node.create_subscription(LaserScan, '/scan', scans, 100)
    dds.node.create_subscription(Image, '/camera/image_raw', images, 100)
    dds.node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 10)
    spec = simulator_node_spec(real_time_factor=0.0, physics_rate_hz=PHYSICS_HZ,
                               lidar_rate_hz=LIDAR_HZ, camera_rate_hz=CAMERA_HZ)
    dds.start(spec)
    dds.wait_for(lambda: images.last() is not None, START_TIMEOUT,
                 'first image from the simulator')
    time.sleep(warmup)
    wall0, sim0 = time.monotonic(), clock.last()
    time.sleep(seconds)
    wall1, sim1 = time.monotonic(), clock.last()
    sim_s, wall_s = (sim1 - sim0) * 1e-9, wall1 - wall0
    return {
        'real_time_factor': round(sim_s / wall_s, 2),
        'lidar_hz': round(scans.between(sim0, sim1) / sim_s, 3),
        'camera_hz': round(images.between(sim0, sim1) / sim_s, 3),
        'clock_hz': round(clock.between(sim0, sim1) / sim_s, 3),
        'sim_seconds': round(sim_s, 3),
        'wall_seconds': round(wall_s, 3),
        'messages': {'clock': clock.between(sim0, sim1), 'scan': scans.between(sim0, sim1),
                     'image': images.between(sim0, sim1)},
        'simulator_reported_real_time_factor': float(reported.get('real_time_factor', 'nan')),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=12.0, help='measurement window (wall)')
    parser.add_argument('--warmup', type=float, default=3.0, help='wall seconds before it')
    parser.add_argument('--cores', type=int, default=2, help='CPUs both processes may use')
    parser.add_argument('--output', type=Path, default=RESULT)
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))[:args.cores]
    os.sched_setaffinity(0, cpus)  # inherited by the simulator process
    core = core_rtf()
    with DdsHarness(DOMAIN_ID, Path(os.environ.get('TMPDIR', '/tmp')) / 'bench_sim_logs',
                    node_name='sim_bench') as dds:
        result = measure(dds, args.seconds, args.warmup)
    result.update({
        'targets': {'real_time_factor_min': TARGET_RTF, 'lidar_hz': LIDAR_HZ,
                    'camera_hz': CAMERA_HZ, 'clock_hz': PHYSICS_HZ},
        'core_real_time_factor': round(core, 2),
        'cpus': cpus,
        'mujoco': mujoco.__version__,
        'mujoco_gl': os.environ.get('MUJOCO_GL', ''),
        'python': platform.python_version(),
        'machine': f'{platform.machine()} {os.cpu_count()} CPUs',
        'date': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
    })
    result['passed'] = bool(
        result['real_time_factor'] >= TARGET_RTF
        and abs(result['lidar_hz'] - LIDAR_HZ) <= 0.02 * LIDAR_HZ
        and abs(result['camera_hz'] - CAMERA_HZ) <= 0.02 * CAMERA_HZ)
    rows = [
        ('real-time factor (node, over DDS)', result['real_time_factor'], f'>= {TARGET_RTF}'),
        ('lidar rate, sim time (Hz)', result['lidar_hz'], LIDAR_HZ),
        ('camera rate, sim time (Hz)', result['camera_hz'], CAMERA_HZ),
        ('/clock rate, sim time (Hz)', result['clock_hz'], PHYSICS_HZ),
        ('real-time factor reported by the node', result['simulator_reported_real_time_factor'],
         ''),
        ('real-time factor, ROS-free simulator', result['core_real_time_factor'], ''),
        ('window: sim s / wall s', f"{result['sim_seconds']} / {result['wall_seconds']}", ''),
        ('CPUs', ','.join(map(str, cpus)), ''),
    ]
    print(f'{"metric":<40} {"value":>16} {"target":>10}')
    for name, value, target in rows:
        print(f'{name:<40} {value!s:>16} {target!s:>10}')
    print('PASS' if result['passed'] else 'FAIL')
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + '\n')
    print(f'wrote {args.output}')
    return 0 if result['passed'] else 1


if __name__ == '__main__':
    sys.exit(main())
