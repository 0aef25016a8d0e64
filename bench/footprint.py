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
Edge footprint: each node's resident memory and CPU share at 20 Hz with the demo policy.

Starts ``adapter-switcher bringup --with-sim`` (simulator, context manager, inference node and
the lifecycle manager, each its own process) on a private ROS domain, waits for steady state,
and samples every node process from /proc over a window: RSS (VmRSS) and CPU share (user +
system time over wall time, percent of one core). In this process it measures the floors the
numbers compare against: the RSS of a bare ``import torch``, what importing the inference node
costs and whether that pulls in transformers or peft, and the demo policy's forward (the model
with its active adapter, thread CPU time per call). The forward is timed twice: in a hot loop,
and once every tick period in a thread here during the window, beside the running stack, as the
node runs it (caches cold from the other processes between calls). ``inference_overhead_cpu_pct``
is the inference node's CPU share minus the paced forward's share: what the node spends around
the model (``..._with_hot_forward`` subtracts the hot loop's instead). Beside the
stack runs a ROS floor node (``ros_floor``): the same sensor subscriptions (raw, callbacks that
do nothing), a 20 Hz Twist publisher and the same executor, no model; its CPU share is what
rclpy and the middleware cost any node of this shape, so ``inference_overhead_over_ros_floor``
is what is left to the inference node's own code.
With ``--profile`` it also samples the running inference node with py-spy and lists where its
CPU goes. Prints a table and writes bench/results/footprint.json.  Run: python bench/footprint.py
"""

import argparse
import collections
import json
import os
from pathlib import Path
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RESULTS = Path(__file__).resolve().parent / 'results' / 'footprint.json'
NODES = {
    'inference_node': 'adapter_switcher.nodes.inference_node',
    'context_manager': 'adapter_switcher.nodes.context_manager_node',
    'simulator': 'adapter_switcher.sim.simulator_node',
    'lifecycle_manager': 'adapter_switcher.nodes.lifecycle_manager_node',
}
RATE_HZ = 20.0
TICKS = os.sysconf('SC_CLK_TCK')
FLOOR_SCRIPT = """
import signal
import rclpy
from rclpy.experimental import EventsExecutor
from rclpy.signals import SignalHandlerOptions
from adapter_switcher.nodes.qos import SENSOR_QOS
from adapter_switcher.nodes.sensor_inputs import SENSOR_TOPICS
from geometry_msgs.msg import Twist
rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
signal.signal(signal.SIGTERM, signal.default_int_handler)
node = rclpy.create_node('ros_floor')
for topic, msg_type in SENSOR_TOPICS.values():
    node.create_subscription(msg_type, topic, lambda data: None, SENSOR_QOS, raw=True)
publisher = node.create_publisher(Twist, 'ros_floor/cmd_vel', 10)
command = Twist()
node.create_timer(1.0 / 20.0, lambda: publisher.publish(command))
executor = EventsExecutor()
executor.add_node(node)
try:
    while rclpy.ok():
        executor.spin_once(timeout_sec=0.1)
except KeyboardInterrupt:
    pass
"""
RSS_SCRIPT = ('import re, sys\n{imports}\n'
              "rss = int(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
              "print(rss * 1024, int('transformers' in sys.modules), int('peft' in sys.modules))")


def import_rss(imports: str):
    """Return ``(rss_bytes, imports_transformers, imports_peft)`` of a fresh interpreter."""
    out = subprocess.run([sys.executable, '-c', RSS_SCRIPT.format(imports=imports)],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    rss, transformers, peft = out.split()[-3:]
    return int(rss), bool(int(transformers)), bool(int(peft))


class DemoForward:
    """
    The demo policy's forward as the node runs it: the model with its active LoRA adapter.

    Only ``model(observation)``, what ``engine.step`` runs under its lock; the engine's own
    bookkeeping around it (pending requests, the tick clock, metrics) is the node's overhead,
    not the forward. Both demo adapters have rank 8 on the same layers, so either stands for
    the one the context manager selects.
    """

    def __init__(self):
        from adapter_switcher.nodes.engine_setup import build_engine
        from adapter_switcher.nodes.inference_node import PARAMETERS
        self._setup = build_engine({p.name: p.default for p in PARAMETERS})
        engine = self._setup.engine
        engine.activate(sorted(a.name for a in engine.adapters())[0])
        self._model = engine.model
        self._observation = self._setup.encode({})

    def _call_cpu_s(self) -> float:
        start = time.thread_time()
        self._model(self._observation)
        return time.thread_time() - start

    def hot(self, repeats: int) -> list:
        """Return the CPU times of ``repeats`` calls back to back (warm caches)."""
        import torch
        with torch.inference_mode():
            return [self._call_cpu_s() for _ in range(repeats)][repeats // 10:]

    def paced(self, period_s: float, stop: threading.Event) -> list:
        """
        Return the CPU times of one call every ``period_s`` until ``stop`` is set.

        Run beside the stack during the measurement window, this is the forward at the node's
        cadence: between two calls the simulator and the other nodes use the caches, as they do
        between two of the node's ticks, which a hot loop never sees.
        """
        import torch
        samples, due = [], time.monotonic()
        with torch.inference_mode():
            while True:
                due += period_s
                if stop.wait(max(0.0, due - time.monotonic())):
                    return samples
                samples.append(self._call_cpu_s())

    def close(self):
        self._setup.close()


def descendants(root: int):
    """Return ``{pid: cmdline}`` of every process below ``root``."""
    parents = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                stat = Path(f'/proc/{entry}/stat').read_text()
                parents[int(entry)] = int(stat.rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                try:
                    found[child] = Path(f'/proc/{child}/cmdline').read_bytes().replace(
                        b'\0', b' ').decode(errors='replace')
                except OSError:
                    continue
                frontier.append(child)
    return found


def node_pids(root: int):
    """Return ``{node: pid}`` for the node processes started under ``root``."""
    pids = {}
    for pid, cmdline in descendants(root).items():
        for node, module in NODES.items():
            if f'-m {module}' in cmdline or f'{module.replace(".", "/")}.py' in cmdline:
                pids[node] = pid
    return pids


def cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
    return 0


def sample_nodes(pids, window_s: float):
    """Return ``{node: {'rss_mb', 'cpu_pct'}}`` over ``window_s`` of steady state."""
    start_cpu = {n: cpu_seconds(p) for n, p in pids.items()}
    start = time.monotonic()
    rss = collections.defaultdict(list)
    try:
        while time.monotonic() - start < window_s:
            for node, pid in pids.items():
                rss[node].append(rss_bytes(pid))
            time.sleep(1.0)
        wall = time.monotonic() - start
        return {node: {'rss_mb': statistics.median(rss[node]) / 1e6,
                       'cpu_pct': (cpu_seconds(pid) - start_cpu[node]) / wall * 100}
                for node, pid in pids.items()}
    except FileNotFoundError:
        gone = sorted(n for n, p in pids.items() if not Path(f'/proc/{p}').exists())
        raise RuntimeError(f'node process(es) {gone} exited during the measurement') from None


def profile(pid: int, seconds: float, out_dir: Path, top: int = 15):
    """Sample ``pid`` with py-spy; return the functions holding the most CPU (self samples)."""
    py_spy = shutil.which('py-spy')
    if py_spy is None:
        return {'error': 'py-spy is not installed (python -m pip install py-spy)'}
    raw = out_dir / 'inference_node.txt'
    result = subprocess.run([py_spy, 'record', '--pid', str(pid), '--duration', str(int(seconds)),
                             '--rate', '200', '--format', 'raw', '--output', str(raw),
                             '--nonblocking'], capture_output=True, text=True)
    if result.returncode != 0 or not raw.exists():
        return {'error': (result.stderr or result.stdout).strip()[-300:]}
    own, inclusive, total = collections.Counter(), collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(' ')
        frames = [f.split(' (')[0] + ' (' + f.split(' (')[-1].split(':')[0].rsplit('/', 1)[-1]
                  for f in stack.split(';') if f]
        count = int(count)
        total += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return {'samples': total,
            'self_pct': {k: 100 * v / total for k, v in own.most_common(top)},
            'inclusive_pct': {k: 100 * v / total for k, v in inclusive.most_common(top * 2)}}


def run_bringup(domain: int, warmup_s: float, window_s: float, profile_s: float, log: Path,
                forward: DemoForward):
    """
    Start the stack, measure it, stop it; return per-node samples, the profile, paced forwards.

    During the window, a thread here calls ``forward`` once per tick period (its CPU times are
    the third value returned).
    """
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONUNBUFFERED='1')
    with open(log, 'w') as stream:
        proc = subprocess.Popen([sys.executable, '-m', 'adapter_switcher.cli', 'bringup',
                                 '--with-sim'], stdout=stream, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + warmup_s
        pids = {}
        while time.monotonic() < deadline or len(pids) < 3:
            if proc.poll() is not None:
                raise RuntimeError(f'bringup exited early; see {log}')
            pids = node_pids(proc.pid)
            if time.monotonic() > deadline + 120:
                raise RuntimeError(f'nodes not found after warm-up: {pids}; see {log}')
            time.sleep(1.0)
        floor = subprocess.Popen([sys.executable, '-c', FLOOR_SCRIPT], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(min(5.0, warmup_s))
            stop, paced = threading.Event(), []
            pacer = threading.Thread(target=lambda: paced.extend(forward.paced(1.0 / RATE_HZ,
                                                                               stop)))
            pacer.start()
            try:
                samples = sample_nodes(dict(pids, ros_floor=floor.pid), window_s)
            finally:
                stop.set()
                pacer.join()
        finally:
            floor.terminate()
            try:
                floor.wait(timeout=10)
            except subprocess.TimeoutExpired:
                floor.kill()
                floor.wait()
        profiled = (profile(pids['inference_node'], profile_s, log.parent)
                    if profile_s else None)
        return samples, profiled, paced
    except RuntimeError as error:
        tail = log.read_text(errors='replace').splitlines()[-15:]
        raise RuntimeError(f'{error}; last lines of the bringup log:\n' + '\n'.join(tail))
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--warmup-s', type=float, default=25.0)
    parser.add_argument('--window-s', type=float, default=20.0)
    parser.add_argument('--profile', type=float, default=0.0, metavar='SECONDS',
                        help='also sample the inference node with py-spy for SECONDS')
    parser.add_argument('--domain', type=int, default=int(os.environ.get('FOOTPRINT_DOMAIN',
                                                                         20)))
    parser.add_argument('--output', type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch_rss, _, _ = import_rss('import torch')
    node_import_rss, with_transformers, with_peft = import_rss(
        'import torch\nimport adapter_switcher.nodes.inference_node')
    forward = DemoForward()
    try:
        hot = forward.hot(400)
        with tempfile.TemporaryDirectory() as tmp:
            nodes, profiled, paced = run_bringup(args.domain, args.warmup_s, args.window_s,
                                                 args.profile, Path(tmp) / 'bringup.log', forward)
    finally:
        forward.close()
    # The node's share is its CPU over the window, so the forward's share is the mean of the
    # paced calls; the hot loop's median is kept for comparison.
    forward_s = statistics.fmean(paced)
    forward_pct = forward_s * RATE_HZ * 100
    hot_pct = statistics.median(hot) * RATE_HZ * 100
    inference = nodes['inference_node']
    results = {
        'nodes': nodes,
        'torch_import_rss_mb': torch_rss / 1e6,
        'inference_node_import_rss_mb': node_import_rss / 1e6,
        'inference_node_imports_transformers': with_transformers,
        'inference_node_imports_peft': with_peft,
        'forward_cpu_ms': forward_s * 1e3,
        'forward_cpu_ms_paced_median': statistics.median(paced) * 1e3,
        'forward_calls_paced': len(paced),
        'forward_cpu_ms_hot': statistics.median(hot) * 1e3,
        'forward_cpu_pct_at_20hz': forward_pct,
        'forward_cpu_pct_at_20hz_hot': hot_pct,
        'inference_overhead_cpu_pct': inference['cpu_pct'] - forward_pct,
        'inference_overhead_cpu_pct_with_hot_forward': inference['cpu_pct'] - hot_pct,
        'ros_floor_cpu_pct': nodes['ros_floor']['cpu_pct'],
        'inference_overhead_over_ros_floor_cpu_pct':
            inference['cpu_pct'] - forward_pct - nodes['ros_floor']['cpu_pct'],
        'inference_rss_over_torch_floor_mb': inference['rss_mb'] - torch_rss / 1e6,
        'rate_hz': RATE_HZ,
        'window_s': args.window_s,
        'workload': 'adapter-switcher bringup --with-sim, demo policy and adapters, 20 Hz',
        'machine': f'{platform.machine()} {os.cpu_count()} cpus, load average '
                   f'{os.getloadavg()[0]:.1f} at the end',
    }
    if profiled is not None:
        results['inference_node_profile'] = profiled
    results['targets_met'] = {
        'inference_rss_over_torch_floor_mb': results['inference_rss_over_torch_floor_mb'] <= 100,
        'inference_overhead_cpu_pct': results['inference_overhead_cpu_pct'] <= 3.0,
    }
    print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')
    print(f'\nwrote {args.output}')
    return 0


def print_table(r):
    for node, values in sorted(r['nodes'].items()):
        print(f"{node:18s} RSS {values['rss_mb']:7.1f} MB   CPU {values['cpu_pct']:5.1f} %")
    print(f"torch import floor {r['torch_import_rss_mb']:.1f} MB; importing the inference node "
          f"{r['inference_node_import_rss_mb']:.1f} MB (transformers: "
          f"{r['inference_node_imports_transformers']}, peft: {r['inference_node_imports_peft']})")
    print(f"inference RSS over the torch floor: {r['inference_rss_over_torch_floor_mb']:.1f} MB"
          ' (target <= 100)')
    print(f"forward at 20 Hz beside the stack {r['forward_cpu_ms']:.3f} ms CPU per tick (mean of "
          f"{r['forward_calls_paced']}) = {r['forward_cpu_pct_at_20hz']:.2f} %; in a hot loop "
          f"{r['forward_cpu_ms_hot']:.3f} ms = {r['forward_cpu_pct_at_20hz_hot']:.2f} %")
    print(f"overhead {r['inference_overhead_cpu_pct']:.2f} % of a core (target <= 3; "
          f"{r['inference_overhead_cpu_pct_with_hot_forward']:.2f} % less the hot forward)")
    print('ROS floor (same subscriptions and publisher, no model): '
          f"{r['ros_floor_cpu_pct']:.2f} %; overhead over it "
          f"{r['inference_overhead_over_ros_floor_cpu_pct']:.2f} %")
    for name, pct in (r.get('inference_node_profile') or {}).get('self_pct', {}).items():
        print(f'  {pct:5.1f} %  {name}')


if __name__ == '__main__':
    sys.exit(main())
