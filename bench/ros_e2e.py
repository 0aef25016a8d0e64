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
End-to-end adapter switch latency over ROS 2: desired_adapter message -> first /cmd_vel of it.

The inference node runs as its own process on an isolated DDS domain, fed by synthetic sensors
with a fixed scene. This process plays the context manager: it publishes ``predicted_adapter``
and ``desired_adapter`` itself and timestamps each desired message just before publishing it.
A command is "produced by the new adapter" when it equals, to 1e-3, the command that adapter
gives for the scene computed here with plain PEFT (ReferencePolicy); the three demo adapters
give clearly different commands for the scene, so the first match marks the switch.

Hit: the adapter was predicted first and the node reported it resident before it was asked
for. Miss (cold): it was in neither a slot nor host RAM (2 slots, no host cache, not predicted),
so the switch waited for a disk load and probe. The latency includes the wait for the next
control tick (1 / rate_hz; desired messages are sent at a random phase of the control period)
and both DDS hops.

    python bench/ros_e2e.py [--trials 20] [--rate-hz 20]
"""

import argparse
import dataclasses
import json
import math
import os
from pathlib import Path
import platform
import random
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'test'))
sys.path.insert(0, str(ROOT))

from adapter_switcher.bringup.robot_nodes import robot_node_specs  # noqa: E402
from adapter_switcher.context import load_rules  # noqa: E402
from adapter_switcher.demo.adapters import make_demo_adapters  # noqa: E402
from adapter_switcher.demo.reference import ReferencePolicy  # noqa: E402
from adapter_switcher.nodes.diagnostics import status_values  # noqa: E402
from adapter_switcher.nodes.qos import COMMAND_QOS  # noqa: E402
from adapter_switcher.nodes.qos import LATCHED_QOS  # noqa: E402
from adapter_switcher.paths import share_path  # noqa: E402
from dds_harness import DdsHarness  # noqa: E402
from dds_harness import Scene  # noqa: E402
from dds_harness import scene_command  # noqa: E402
from dds_harness import SyntheticSensors  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
import numpy as np  # noqa: E402
from std_msgs.msg import String  # noqa: E402

DOMAIN_ID = 57
RESULT = ROOT / 'bench' / 'results' / 'ros_e2e.json'
SCENE = Scene(front_m=3.0, left_m=2.0, right_m=1.0, spill_fraction=0.01)
ADAPTERS = ('hazard', 'narrow_aisle', 'navigation')
START_TIMEOUT = 180.0
STEP_TIMEOUT = 30.0


class Bench:
    """The inference node under test and this process's view of it."""

    def __init__(self, dds, reference, rate_hz):
        self.dds = dds
        # Desired messages would otherwise follow a diagnostics message, whose timer is locked
        # to the control timer: a random delay spreads them over the control period.
        self.phase = random.Random(0)
        self.period = 1.0 / rate_hz
        self.desired = dds.publisher(String, '/desired_adapter', LATCHED_QOS)
        self.predicted = dds.publisher(String, '/predicted_adapter', LATCHED_QOS)
        self.cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        self.active = dds.subscribe(String, '/active_adapter', LATCHED_QOS)
        self.diagnostics = dds.subscribe(DiagnosticArray, '/diagnostics', COMMAND_QOS)
        self.expected = {name: scene_command(reference, name, SCENE) for name in ADAPTERS}

    def status(self):
        """Return the values of the latest inference_node status, or {}."""
        for array in reversed(self.diagnostics.messages()):
            for status in array.status:
                if status.name == 'inference_node: adapters':
                    return status_values(status)
        return {}

    def fresh_status(self):
        self.diagnostics.clear()
        return self.dds.wait_for(self.status, STEP_TIMEOUT, 'inference_node diagnostics')

    def resident(self):
        return set(filter(None, self.fresh_status().get('resident', '').split(',')))

    def switch(self, name):
        """Publish desired=name; return seconds until the first cmd_vel of that adapter."""
        want = self.expected[name]
        time.sleep(self.phase.uniform(0.0, self.period))
        start = time.monotonic()
        self.desired.publish(String(data=name))

        def first_match():
            for arrival, msg in self.cmd.timed():
                if arrival >= start and _close((msg.linear.x, msg.angular.z), want):
                    return arrival
            return None
        arrival = self.dds.wait_for(first_match, STEP_TIMEOUT, f'first cmd_vel of {name}')
        self.dds.wait_for(lambda: self.active.last() and self.active.last().data == name,
                          STEP_TIMEOUT, f'active_adapter {name}')
        self.cmd.clear()
        return arrival - start

    def trial(self, hit):
        """Switch to an adapter that is not resident, predicted first when ``hit``."""
        status = self.fresh_status()
        resident = set(filter(None, status.get('resident', '').split(',')))
        target = sorted(set(ADAPTERS) - resident - {status.get('active')})[0]
        if hit:
            self.predicted.publish(String(data=target))
            self.dds.wait_for(lambda: target in self.resident(), STEP_TIMEOUT,
                              f'{target} prefetched')
        return target, self.switch(target)


def _close(got, want, atol=1e-3):
    return all(math.isclose(g, w, abs_tol=atol) for g, w in zip(got, want))


def _percentiles(samples_s):
    values = np.asarray(samples_s) * 1e3
    return {'p50': float(np.percentile(values, 50)), 'p99': float(np.percentile(values, 99)),
            'mean': float(values.mean()), 'min': float(values.min()),
            'max': float(values.max())}


def run(trials, rate_hz, work):
    demo_dir = work / 'demo'
    make_demo_adapters(demo_dir)
    reference = ReferencePolicy(demo_dir, load_rules(share_path('config/context_rules.yaml'))
                                .features)
    spec = [s for s in robot_node_specs(adapters_dir=demo_dir / 'adapters')
            if s.name == 'inference_node'][0]
    overrides = {'model_weights': str(demo_dir / 'base_policy.safetensors'),
                 'rate_hz': float(rate_hz), 'num_slots': 2, 'host_cache_mb': 0,
                 'sensor_timeout_s': 2.0}
    spec = dataclasses.replace(spec, parameters=tuple(spec.parameters) + (overrides,))
    samples = {'hit': [], 'miss': []}
    with DdsHarness(DOMAIN_ID, work / 'logs', node_name='ros_e2e_bench') as dds:
        SyntheticSensors(dds, SCENE)
        bench = Bench(dds, reference, rate_hz)
        distinct = [abs(a[0] - b[0]) + abs(a[1] - b[1]) for i, a in
                    enumerate(bench.expected.values()) for b in
                    list(bench.expected.values())[i + 1:]]
        if min(distinct) < 0.02:
            raise SystemExit(f'adapters not distinguishable on the scene: {bench.expected}')
        dds.start(spec)
        bench.desired.publish(String(data='navigation'))
        dds.wait_for(lambda: bench.active.last() and bench.active.last().data == 'navigation',
                     START_TIMEOUT, 'inference_node up, navigation active')
        # The first switches pay one-time costs (lazy imports, first file mappings): a warm-up
        # miss and hit, reported apart.
        for index in range(2 * trials + 2):
            hit = index % 2 == 1
            target, seconds = bench.trial(hit)
            kind = ('warmup_' if index < 2 else '') + ('hit' if hit else 'miss')
            samples.setdefault(kind, []).append(seconds)
            print(f'  {kind:12s} -> {target:13s} {seconds * 1e3:7.1f} ms', flush=True)
        node_status = bench.fresh_status()
    return samples, node_status, bench.expected


def summarise(rate_hz, trials, samples, node_status):
    """Return the JSON record of one rate: percentiles plus the node's own swap numbers."""
    hit, miss = _percentiles(samples['hit']), _percentiles(samples['miss'])
    return {
        'e2e_ms_hit_p50': hit['p50'], 'e2e_ms_hit_p99': hit['p99'],
        'e2e_ms_miss_p50': miss['p50'], 'e2e_ms_miss_p99': miss['p99'],
        'e2e_ms_hit': hit, 'e2e_ms_miss': miss,
        'rate_hz': rate_hz, 'tick_period_ms': 1e3 / rate_hz, 'trials_per_kind': trials,
        'node_swap_ms_p50': float(node_status.get('swap_ms_p50', 'nan')),
        'node_swap_ms_p99': float(node_status.get('swap_ms_p99', 'nan')),
        'engine_switch_to_output_hit_us_p50': float(
            node_status.get('engine.switch_to_output_hit_us_p50', 'nan')),
        'engine_switch_to_output_miss_us_p50': float(
            node_status.get('engine.switch_to_output_miss_us_p50', 'nan')),
        'samples_ms': {k: [s * 1e3 for s in v] for k, v in samples.items()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--trials', type=int, default=20, help='switches of each kind')
    parser.add_argument('--rate-hz', type=float, nargs='+', default=[20.0, 100.0],
                        help='inference_node rate_hz values; the first is the headline')
    args = parser.parse_args(argv)
    by_rate = []
    for rate_hz in args.rate_hz:
        with tempfile.TemporaryDirectory(prefix='ros_e2e_') as tmp:
            samples, node_status, expected = run(args.trials, rate_hz, Path(tmp))
        by_rate.append(summarise(rate_hz, args.trials, samples, node_status))
    result = dict(by_rate[0])
    result['by_rate'] = {f'{r["rate_hz"]:g}': r for r in by_rate}
    result['setup'] = {
        'num_slots': 2, 'host_cache_mb': 0, 'adapters': list(ADAPTERS),
        'scene': dataclasses.asdict(SCENE),
        'expected_cmd': {k: list(v) for k, v in expected.items()},
        'rmw': os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp (default)'),
        'machine': f'{platform.machine()}, {os.cpu_count()} cpus, '
                   f'Python {platform.python_version()}'}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + '\n')
    print(f'\nros_e2e: desired_adapter -> first /cmd_vel of the new adapter, '
          f'{args.trials} switches of each kind per rate')
    print(f"{'rate_hz':>7s} {'kind':5s} {'p50 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s} "
          f"{'max ms':>8s}")
    for record in by_rate:
        for kind in ('hit', 'miss'):
            stats = record[f'e2e_ms_{kind}']
            print(f"{record['rate_hz']:7g} {kind:5s} {stats['p50']:8.1f} {stats['p99']:8.1f} "
                  f"{stats['mean']:8.1f} {stats['max']:8.1f}")
    print(f'wrote {RESULT.relative_to(ROOT)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
