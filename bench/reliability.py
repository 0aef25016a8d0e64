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
Reliability: soak, swap storm, fuzzed inputs, crash recovery and sensor dropout, in one run.

* soak: ``--swaps`` swaps (resident switches, cold loads from host RAM and disk, the evictions
  they cause) with a checked forward after each, in alternating blocks against the reference
  condition, the same loop forwarding without swapping (A,B,A,B); RSS, thread and file
  descriptor growth after warm-up, for both;
* storm: 4 threads requesting random adapters, 1 kHz in all, while the loop ticks at 100 Hz for
  ``--storm-s``, both on deadline schedules, in blocks alternating with the reference condition
  (the same loop, no requests); torn forwards (an output that is not exactly the reported
  adapter's), deadlocks (threads still running after a bounded join), the achieved tick rate
  next to the target and the reference's, late ticks and the tick's own work time;
* fuzz: the malformed sensor messages through a node's sensor input path (crashes:
  exceptions that escape) and the malformed adapters through a scan (bad ones accepted);
* sensor flood: a running inference node (a process, at its configured rate) while the
  malformed sensor messages arrive over DDS at ``--flood-hz``, in blocks alternating with the
  reference condition, valid sensors only: the tick rate (/cmd_vel messages per second) in
  each, their ratio, drops counted by the node, warning lines, crashes;
* recovery: ``adapter-switcher bringup --respawn`` over DDS, put on ``hazard`` by hand, the
  inference node killed with SIGKILL: seconds until /cmd_vel carries hazard's command again;
* dropout: the lidar falls silent: milliseconds from its last message to the first zero
  /cmd_vel, against the bound ``sensor_timeout_s`` + one control tick.

    python bench/reliability.py [--swaps 10000] [--blocks 4] [--storm-s 60] [--storm-blocks 4]
        [--flood-blocks 3] [--flood-block-s 10] [--flood-hz 200] [--skip-dds] [--output PATH]

A quick check (about 1 minute): ``--swaps 400 --blocks 2 --storm-s 6 --storm-blocks 2
--flood-blocks 1 --flood-block-s 3 --output /tmp/reliability_quick.json``.

Writes bench/results/reliability.json.
"""

import argparse
import copy
import json
import os
from pathlib import Path
import platform
import signal
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test'))
sys.path.insert(0, str(ROOT))

from adapter_switcher.context import load_rules  # noqa: E402
from adapter_switcher.context.features import FeatureExtractor  # noqa: E402
from adapter_switcher.core import AdapterEngine  # noqa: E402
from adapter_switcher.core import EngineConfig  # noqa: E402
from adapter_switcher.demo.adapters import make_demo_adapters  # noqa: E402
from adapter_switcher.demo.reference import ReferencePolicy  # noqa: E402
from adapter_switcher.nodes.qos import COMMAND_QOS  # noqa: E402
from adapter_switcher.nodes.qos import LATCHED_QOS  # noqa: E402
from adapter_switcher.nodes.sensor_inputs import SensorInputs  # noqa: E402
from adapter_switcher.paths import share_path  # noqa: E402
from dds_harness import DdsHarness  # noqa: E402
from dds_harness import Scene  # noqa: E402
from dds_harness import scene_command  # noqa: E402
from dds_harness import SyntheticSensors  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from lora_fixtures import tiny_base  # noqa: E402
from lora_fixtures import write_adapter  # noqa: E402
from malformed_adapters import ADAPTER_CASES  # noqa: E402
from malformed_inputs import deliver  # noqa: E402
from malformed_inputs import SENSOR_CASES  # noqa: E402
import psutil  # noqa: E402
import rclpy  # noqa: E402
from rclpy.context import Context  # noqa: E402
from sensor_flood import drop_warnings  # noqa: E402
from sensor_flood import flood_target_spec  # noqa: E402
from sensor_flood import node_dropped  # noqa: E402
from sensor_flood import SensorFlood  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from stress import outputs_of  # noqa: E402
from stress import soak  # noqa: E402
from stress import storm  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

RESULT = ROOT / 'bench' / 'results' / 'reliability.json'
NAMES = [None] + [f'a{i}' for i in range(6)]
DOMAIN_ID = 55
FLOOD_DOMAIN_ID = 56
STORM_TICK_HZ = 100.0
STORM_REQUEST_HZ = 1000.0   # all requesting threads together
SPILL = Scene(spill_fraction=0.06)


def _site(root: Path):
    base = tiny_base()
    for i, name in enumerate(NAMES[1:]):
        write_adapter(base, root / name, seed=50 + i, r=4, lora_alpha=8,
                      target_modules=['c_attn', 'c_fc'])
    return base, torch.randint(0, 256, (1, 8))


def run_soak(root: Path, swaps: int, blocks: int) -> dict:
    """Soak in A,B,A,B blocks: A swaps before every forward, B (reference) never swaps."""
    base, x = _site(root)
    adapter_size = sum(p.stat().st_size for p in root.rglob('*.safetensors')) // (len(NAMES) - 1)
    engine = AdapterEngine(copy.deepcopy(base), [root],
                           EngineConfig(num_slots=2, host_cache_bytes=3 * adapter_size),
                           probe_inputs=((x,), {}))
    process = psutil.Process()
    try:
        references = outputs_of(engine, NAMES, x)
        per_block = max(1, swaps // blocks)
        soak(engine, NAMES, x, references, swaps=min(500, per_block), seed=99)  # warm-up
        marks = {'swap': [], 'idle': []}
        cold = wrong = done = 0
        start = time.perf_counter()
        for block in range(blocks):
            for condition in ('swap', 'idle'):
                names = NAMES if condition == 'swap' else [engine.active]
                report = soak(engine, names, x, references, swaps=per_block, seed=block,
                              sample_every=per_block, rss=lambda: process.memory_info().rss)
                marks[condition].append(report.samples[-1])
                if condition == 'swap':
                    cold += report.cold_loads
                    wrong += report.wrong_outputs
                    done += report.swaps
        seconds = time.perf_counter() - start
    finally:
        engine.close()

    def growth(samples, key):
        return samples[-1][key] - samples[0][key]
    swap, idle = marks['swap'], marks['idle']
    return {
        'soak_swaps': done,
        'soak_cold_loads': cold,
        'soak_wrong_outputs': wrong,
        'soak_seconds': round(seconds, 1),
        'soak_rss_growth_pct': round(100.0 * growth(swap, 'rss') / swap[0]['rss'], 3),
        'soak_rss_growth_pct_idle_reference': round(
            100.0 * growth(idle, 'rss') / idle[0]['rss'], 3),
        'soak_fd_growth': growth(swap, 'fds'),
        'soak_thread_growth': growth(swap, 'threads'),
        'soak_fd_growth_idle_reference': growth(idle, 'fds'),
        'soak_thread_growth_idle_reference': growth(idle, 'threads'),
    }


def run_storm(root: Path, seconds: float, blocks: int, tick_hz: float = STORM_TICK_HZ,
              request_hz: float = STORM_REQUEST_HZ) -> dict:
    """
    Run the storm for ``seconds`` in all, in blocks alternating with the reference.

    The reference is the same loop on the same engine with no requesting threads, so what the
    storm costs the loop (requests, their loads, the GIL) shows apart from what the machine
    costs it.
    """
    base, x = _site(root)
    engine = AdapterEngine(copy.deepcopy(base), [root],
                           EngineConfig(num_slots=3, host_cache_bytes=64 << 20),
                           probe_inputs=((x,), {}))
    reports = {'storm': [], 'reference': []}
    try:
        references = outputs_of(engine, NAMES, x)
        for block in range(blocks):
            for condition, threads in (('storm', 4), ('reference', 0)):
                reports[condition].append(storm(
                    engine, NAMES, x, references, seconds=seconds / blocks, threads=threads,
                    request_hz=request_hz, tick_hz=tick_hz, join_timeout_s=60.0, seed=block))
    finally:
        engine.close()
    storm_rows = _storm_rows(reports['storm'])
    reference_rows = _storm_rows(reports['reference'])
    result = {'storm_target_tick_hz': tick_hz, 'storm_target_request_hz': request_hz,
              'storm_blocks': blocks, **storm_rows,
              'storm_torn_forwards': sum(r.torn for r in reports['storm']),
              'storm_deadlocks': sum(r.deadlocks for r in reports['storm'])}
    result.update({key.replace('storm_', 'storm_reference_', 1): value
                   for key, value in reference_rows.items() if 'request' not in key})
    result['storm_tick_hz_ratio'] = round(
        storm_rows['storm_tick_hz'] / reference_rows['storm_tick_hz'], 3)
    return result


def _storm_rows(reports) -> dict:
    seconds = sum(r.seconds for r in reports)
    ticks = sum(r.ticks for r in reports)
    requests = sum(r.requests for r in reports)
    work_ms = sorted(1000.0 * w for r in reports for w in r.tick_work_s) or [0.0]
    return {'storm_seconds': round(seconds, 2), 'storm_ticks': ticks,
            'storm_tick_hz': round(ticks / seconds, 1),
            'storm_late_ticks': sum(r.late_ticks for r in reports),
            'storm_tick_work_ms_p50': round(work_ms[len(work_ms) // 2], 2),
            'storm_tick_work_ms_p99': round(work_ms[int(0.99 * (len(work_ms) - 1))], 2),
            'storm_requests': requests,
            'storm_request_hz': round(requests / seconds, 1)}


def run_sensor_fuzz() -> dict:
    """Deliver every malformed message through the nodes' sensor input path; count escapes."""
    context = Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    node = rclpy.create_node('reliability_fuzz', context=context)
    features = load_rules(share_path('config/context_rules.yaml')).features
    inputs = SensorInputs(node, FeatureExtractor(features))
    crashes = accepted = 0
    try:
        for _case, sensor, make in SENSOR_CASES:
            before = inputs.dropped()[sensor]
            try:
                deliver(inputs, sensor, make())
            except Exception:  # noqa: B902 - counting what would take a node down
                crashes += 1
                continue
            accepted += inputs.dropped()[sensor] == before
    finally:
        node.destroy_node()
        context.try_shutdown()
    return {'fuzz_sensor_cases': len(SENSOR_CASES), 'fuzz_sensor_crashes': crashes,
            'fuzz_sensor_accepted_bad': accepted}


def run_sensor_flood(root: Path, blocks: int, block_s: float, flood_hz: float,
                     timeout_s: float = 180.0) -> dict:
    """
    Measure the node's tick rate with and without a flood of malformed sensor messages.

    A real node process at its configured rate (the package's parameter file) drives on
    navigation from valid synthetic sensors; in alternating blocks (idle, flood, idle, flood,
    ...) a publisher adds every malformed case on the same topics at ``flood_hz``. The tick
    rate is /cmd_vel messages received per second in each condition.
    """
    demo_dir = root / 'demo'
    make_demo_adapters(demo_dir)
    params = yaml.safe_load(share_path('config/adapter_switcher.yaml').read_text())
    rate_hz = params['/**/inference_node']['ros__parameters']['rate_hz']
    windows = {'idle': [], 'flood': []}
    with DdsHarness(FLOOD_DOMAIN_ID, root / 'logs') as dds:
        SyntheticSensors(dds, Scene())
        cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        diagnostics = dds.subscribe(DiagnosticArray, '/diagnostics', COMMAND_QOS)
        flood = SensorFlood(dds.node, flood_hz)
        node = dds.start(flood_target_spec(demo_dir))
        dds.wait_for(lambda: cmd.count() >= 2 * rate_hz, timeout_s, 'the node driving')
        for _block in range(blocks):
            for condition in ('idle', 'flood'):
                if condition == 'flood':
                    flood.start()
                begin = time.monotonic()
                time.sleep(block_s)
                windows[condition].append((begin, time.monotonic()))
                if condition == 'flood':
                    flood.stop()
        crashed = not node.alive()
        flood_end = windows['flood'][-1][1]
        dds.wait_for(lambda: crashed or any(t > flood_end + 1.0 for t, _ in diagnostics.timed()),
                     timeout_s, 'diagnostics after the flood', require_alive=False)
        dropped = node_dropped(diagnostics)
        warnings = drop_warnings(node.tail(10 ** 8))
        arrivals = cmd.timed()

    def in_windows(condition, stopped=False):
        return sum(any(b <= t < e for b, e in windows[condition]) and (not stopped or _zero(m))
                   for t, m in arrivals)

    def seconds(condition):
        return sum(e - b for b, e in windows[condition])
    flood_rate = in_windows('flood') / seconds('flood')
    idle_rate = in_windows('idle') / seconds('idle')
    return {'fuzz_sensor_rate_hz': rate_hz,
            'fuzz_sensor_tick_rate_hz': round(flood_rate, 2),
            'fuzz_sensor_tick_rate_idle_hz': round(idle_rate, 2),
            'fuzz_sensor_tick_rate_ratio': round(flood_rate / idle_rate, 3) if idle_rate else None,
            'fuzz_sensor_flood_blocks': blocks, 'fuzz_sensor_flood_block_s': block_s,
            'fuzz_sensor_flood_cases': len(flood.cases),
            'fuzz_sensor_flood_left_out': flood.skipped,
            'fuzz_sensor_flood_target_hz': flood_hz,
            'fuzz_sensor_flood_hz': round(flood.total() / seconds('flood'), 1),
            'fuzz_sensor_flood_published': flood.total(),
            'fuzz_sensor_flood_dropped': sum(dropped.values()) if dropped else None,
            'fuzz_sensor_flood_warnings': warnings,
            'fuzz_sensor_flood_crashes': int(crashed),
            'fuzz_sensor_flood_stopped_ticks': in_windows('flood', stopped=True),
            'fuzz_sensor_idle_stopped_ticks': in_windows('idle', stopped=True)}


def run_adapter_fuzz(root: Path) -> dict:
    base = tiny_base()
    adapters = root / 'adapters'
    write_adapter(base, adapters / 'good', seed=1, r=4, lora_alpha=8,
                  target_modules=['c_attn', 'c_fc'])
    for i, (name, (breaker, _)) in enumerate(sorted(ADAPTER_CASES.items())):
        directory = write_adapter(base, adapters / name, seed=10 + i, r=4, lora_alpha=8,
                                  target_modules=['c_attn', 'c_fc'])
        breaker(directory, adapters)
    x = torch.randint(0, 256, (1, 8))
    engine = AdapterEngine(copy.deepcopy(base), [adapters], EngineConfig(num_slots=2),
                           probe_inputs=((x,), {}))
    try:
        accepted = [a.name for a in engine.adapters() if a.name != 'good']
    finally:
        engine.close()
    return {'fuzz_adapter_cases': len(ADAPTER_CASES), 'fuzz_adapter_accepted_bad': len(accepted)}


def run_dds(root: Path, timeout_s: float = 180.0) -> dict:
    """Crash recovery under bringup --respawn, then a lidar dropout, over one DDS domain."""
    demo_dir = root / 'demo'
    make_demo_adapters(demo_dir)
    reference = ReferencePolicy(demo_dir,
                                load_rules(share_path('config/context_rules.yaml')).features)
    hazard = scene_command(reference, 'hazard', SPILL)
    params = yaml.safe_load(share_path('config/adapter_switcher.yaml').read_text())
    node_params = params['/**/inference_node']['ros__parameters']
    node_params['model_weights'] = str(demo_dir / 'base_policy.safetensors')
    timeout = node_params['sensor_timeout_s'] = 0.5
    tick = 1.0 / node_params['rate_hz']
    (root / 'robot.yaml').write_text(yaml.safe_dump(params))
    argv = [sys.executable, '-m', 'adapter_switcher.cli', 'bringup', '--params-file',
            str(root / 'robot.yaml'), '--adapters-dir', str(demo_dir / 'adapters'),
            '--respawn', '--state-dir', str(root / 'state')]
    with DdsHarness(DOMAIN_ID, root / 'logs') as dds:
        sensors = SyntheticSensors(dds, SPILL)
        active = dds.subscribe(String, '/active_adapter', LATCHED_QOS)
        cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        bringup = dds.start_argv('bringup', argv)
        dds.wait_for(lambda: active.last() is not None, timeout_s, 'the robot is up')
        assert dds.set_parameters('/inference_node', {'adapter_override': 'hazard'})[0].successful
        dds.wait_for(lambda: _is(cmd.last(), hazard), timeout_s, 'driving on hazard')
        time.sleep(1.0)  # the state file is written within 0.1 s of the change
        victim = next(c for c in psutil.Process(bringup.popen.pid).children()
                      if 'adapter_switcher.nodes.inference_node' in c.cmdline())
        cmd.clear()
        killed = time.monotonic()
        os.kill(victim.pid, signal.SIGKILL)
        dds.wait_for(lambda: any(_is(m, hazard) for m in cmd.messages()), timeout_s,
                     'hazard commands again after the respawn')
        recovered = next(t for t, m in cmd.timed() if _is(m, hazard)) - killed

        dds.wait_for(lambda: _is(cmd.last(), hazard), timeout_s, 'steady on hazard')
        sensors.silence('scan')
        silenced = time.monotonic()
        dds.wait_for(lambda: any(_zero(m) for t, m in cmd.timed() if t > silenced), 30.0,
                     'zero velocity after the dropout')
        stopped_at = next(t for t, m in cmd.timed() if t > silenced and _zero(m))
    return {'recovery_s': round(recovered, 2),
            'dropout_stop_ms': round(1000.0 * (stopped_at - silenced), 1),
            'dropout_bound_ms': round(1000.0 * (timeout + tick), 1),
            'dropout_sensor_timeout_s': timeout, 'dropout_tick_s': tick}


def _is(msg, want, atol=1e-3):
    return msg is not None and abs(msg.linear.x - want[0]) < atol and (
        abs(msg.angular.z - want[1]) < atol)


def _zero(msg):
    return msg is not None and msg.linear.x == 0.0 and msg.angular.z == 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--swaps', type=int, default=10000, help='soak swaps in all')
    parser.add_argument('--blocks', type=int, default=4, help='A,B blocks of the soak')
    parser.add_argument('--storm-s', type=float, default=60.0,
                        help='storm duration in all (s); the reference blocks add as much')
    parser.add_argument('--storm-blocks', type=int, default=4,
                        help='storm,reference block pairs')
    parser.add_argument('--flood-blocks', type=int, default=3,
                        help='idle,flood block pairs of the DDS sensor flood')
    parser.add_argument('--flood-block-s', type=float, default=10.0,
                        help='seconds per block of the DDS sensor flood')
    parser.add_argument('--flood-hz', type=float, default=200.0,
                        help='malformed sensor messages per second during a flood block')
    parser.add_argument('--skip-dds', action='store_true',
                        help='no runs over DDS (sensor flood, recovery, dropout)')
    parser.add_argument('--output', type=Path, default=RESULT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = {'machine': platform.platform(), 'cpus': os.cpu_count(),
              'load_average_at_start': round(os.getloadavg()[0], 1),
              'command': ' '.join(['python bench/reliability.py', *(argv or sys.argv[1:])])}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='reliability_') as tmp:
        tmp = Path(tmp)
        parts = [('fuzz', lambda: {**run_sensor_fuzz(), **run_adapter_fuzz(tmp / 'fuzz')}),
                 ('storm', lambda: run_storm(tmp / 'storm', args.storm_s, args.storm_blocks)),
                 ('soak', lambda: run_soak(tmp / 'soak', args.swaps, args.blocks))]
        if not args.skip_dds:
            parts += [('sensor flood', lambda: run_sensor_flood(
                          tmp / 'flood', args.flood_blocks, args.flood_block_s, args.flood_hz)),
                      ('recovery and dropout', lambda: run_dds(tmp / 'dds'))]
        for name, run in parts:
            print(f'[reliability] {name} ...', flush=True)
            part = run()
            print(json.dumps(part, indent=1), flush=True)
            result.update(part)
    result['wall_s'] = round(time.monotonic() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + '\n')
    print(f'wrote {args.output} ({result["wall_s"]:.0f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
