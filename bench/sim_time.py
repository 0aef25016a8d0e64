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
What following sim time costs a node: CPU per /clock message, and where it goes.

A publisher process sends ``rosgraph_msgs/Clock`` at 20 Hz (best effort, as a simulator does).
Each condition is a fresh node process spinning rclpy's EventsExecutor the way the nodes do
(``spin_once(0.1)`` in a loop), measured over a window after the first /clock arrived; the
conditions run in alternating blocks (A, B, C, ..., A, B, C, ...) so machine noise hits each:

- ``wall``: ``use_sim_time`` false, nothing on /clock: the spin loop alone;
- ``raw_noop``: a raw /clock subscription whose callback does nothing: the executor's wake-up
  and dispatch of one message into Python;
- ``msg_noop``: the same with the message converted to Python (what any subscription pays);
- ``timesource``: ``use_sim_time`` true, rclpy's TimeSource following /clock;
- ``raw_override``: the clock fed from /clock's bytes (``nodes/sim_clock.py``, what the managed
  nodes use) instead of TimeSource's converted message;
- ``*_timer``: the same with a 20 Hz timer on the node's clock, as the control tick was;
- ``raw_override_clock_tick``: the same 20 Hz tick as a ``ControlTimer``
  (``nodes/control_timer.py``, what the managed nodes use now): run from the /clock callback.

CPU is the main thread's (``thread_time``) and the process's (all threads, the middleware's
included), per /clock message. Prints a table and writes bench/results/sim_time.json.
Run: python bench/sim_time.py
"""

import argparse
import json
import os
from pathlib import Path
import statistics
import subprocess
import sys
import time

RESULTS = Path(__file__).resolve().parent / 'results' / 'sim_time.json'
CONDITIONS = ('wall', 'raw_noop', 'msg_noop', 'timesource', 'raw_override', 'timesource_timer',
              'raw_override_timer', 'raw_override_clock_tick')
RATE_HZ = 20.0
PUBLISHER = f"""
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
rclpy.init()
node = rclpy.create_node('sim_time_bench_clock')
publisher = node.create_publisher(Clock, '/clock', QoSProfile(
    depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
message, now = Clock(), [0]
def publish():
    now[0] += {int(1e9 / RATE_HZ)}
    message.clock.sec, message.clock.nanosec = divmod(now[0], 10**9)
    publisher.publish(message)
node.create_timer({1 / RATE_HZ}, publish)
try:
    rclpy.spin(node)
except Exception:
    pass
"""
FOLLOWER = """
import inspect, json, resource, sys, time
import rclpy
from rclpy.experimental import EventsExecutor
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions
from rosgraph_msgs.msg import Clock

from adapter_switcher.nodes.sim_clock import CLOCK_QOS
from adapter_switcher.nodes.control_timer import ControlTimer
from adapter_switcher.nodes.sim_clock import follow_clock_bytes

condition, window_s = sys.argv[1], float(sys.argv[2])
rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
sim = condition.startswith(('timesource', 'raw_override'))
node = rclpy.create_node('sim_time_bench', parameter_overrides=[
    Parameter('use_sim_time', value=sim)])
clock, received, ticks = node.get_clock(), [0], [0]

def on_raw(data):
    received[0] += 1

if condition.startswith('raw_override'):
    source = follow_clock_bytes(node)  # what the managed nodes do
elif condition in ('raw_noop', 'msg_noop'):
    node.create_subscription(Clock, '/clock', on_raw, CLOCK_QOS,
                             raw=condition == 'raw_noop')

class Tick:
    __signature__ = inspect.Signature()
    def __call__(self):
        ticks[0] += 1

if condition.endswith('_timer'):
    node.create_timer(0.05, Tick())
elif condition.endswith('_clock_tick'):
    ControlTimer(node, source, 0.05, Tick())
executor = EventsExecutor()
executor.add_node(node)
deadline = time.monotonic() + 60
counting = condition in ('raw_noop', 'msg_noop')
while (node.count_publishers('/clock') == 0 or (sim and clock.now().nanoseconds == 0)
       or (counting and received[0] == 0)):
    executor.spin_once(timeout_sec=0.1)
    if time.monotonic() > deadline:
        sys.exit('no /clock within 60 s')
end = time.monotonic() + 1.0
while time.monotonic() < end:
    executor.spin_once(timeout_sec=0.1)
usage, main, wall, sim0, got0, ticks0 = (
    resource.getrusage(resource.RUSAGE_SELF), time.thread_time(), time.monotonic(),
    clock.now().nanoseconds, received[0], ticks[0])
while time.monotonic() < wall + window_s:
    executor.spin_once(timeout_sec=0.1)
after = resource.getrusage(resource.RUSAGE_SELF)
wall = time.monotonic() - wall
messages = wall * {rate}
print(json.dumps({{
    'main_ms': (time.thread_time() - main) / messages * 1e3,
    'process_ms': (after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime)
                  / messages * 1e3,
    'received_per_s': (received[0] - got0) / wall,
    'clock_rate': (clock.now().nanoseconds - sim0) * 1e-9 / wall,
    'ticks_per_s': (ticks[0] - ticks0) / wall,
}}))
""".format(rate=RATE_HZ)


def measure(condition: str, window_s: float, env) -> dict:
    out = subprocess.run([sys.executable, '-c', FOLLOWER, condition, str(window_s)], env=env,
                         capture_output=True, text=True, timeout=window_s + 120)
    if out.returncode != 0:
        raise RuntimeError(f'{condition}: {out.stderr.strip()[-500:]}')
    return json.loads(out.stdout.splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--blocks', type=int, default=4)
    parser.add_argument('--window-s', type=float, default=6.0)
    parser.add_argument('--domain', type=int, default=int(os.environ.get('SIM_TIME_DOMAIN', 21)))
    parser.add_argument('--output', type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    env = dict(os.environ, ROS_DOMAIN_ID=str(args.domain))
    publisher = subprocess.Popen([sys.executable, '-c', PUBLISHER], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = {c: [] for c in CONDITIONS}
    try:
        time.sleep(1.0)
        for block in range(args.blocks):
            for condition in CONDITIONS:
                runs[condition].append(measure(condition, args.window_s, env))
            print(f'block {block + 1}/{args.blocks} done', flush=True)
    finally:
        publisher.terminate()
        publisher.wait(timeout=10)
    results = {'conditions': {}, 'blocks': args.blocks, 'window_s': args.window_s,
               'rate_hz': RATE_HZ, 'machine': f'{os.cpu_count()} cpus, load average '
                                              f'{os.getloadavg()[0]:.1f} at the end'}
    for condition, samples in runs.items():
        results['conditions'][condition] = {
            key: statistics.median(s[key] for s in samples) for key in samples[0]}
    table = results['conditions']
    results['timesource_minus_raw_override_main_ms'] = (
        table['timesource']['main_ms'] - table['raw_override']['main_ms'])
    results['timesource_minus_wall_main_ms'] = (
        table['timesource']['main_ms'] - table['wall']['main_ms'])
    for key in ('main_ms', 'process_ms'):
        results[f'timer_minus_clock_tick_{key}'] = (
            table['raw_override_timer'][key] - table['raw_override_clock_tick'][key])
    print(f"{'condition':20s} {'main ms/msg':>12s} {'process ms/msg':>15s} {'msgs/s':>7s} "
          f"{'sim s/s':>7s} {'ticks/s':>7s}")
    for condition, values in table.items():
        print(f"{condition:20s} {values['main_ms']:12.3f} {values['process_ms']:15.3f} "
              f"{values['received_per_s']:7.1f} {values['clock_rate']:7.2f} "
              f"{values['ticks_per_s']:7.1f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')
    print(f'\nwrote {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
