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
Serving benchmark: one policy server for a fleet, batched vs unbatched, in the same run.

Workload: a server-sized policy (adapter_switcher.serve.sized_policy: 134M parameters, or
with --model 34m the 34M one) with 8 PEFT LoRA adapters (r=8 on fc1, fc2, fc3, head), one
replica, 8 slots, torch_threads 1, its linear layers packed for oneDNN (pack_linear, the
server's default, for both conditions), on a local Ray cluster started by this script
(loopback, 2 CPUs). Robots are closed-loop clients:
each sends its observation with its own adapter (a quarter of them base-only), waits for the
answer, sends again. Two applications run side by side on the same cluster:

  batched     @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002): cross-adapter batches
  unbatched   the same deployment with max_batch_size=1 (the reference: one forward per request)

and each is driven through two client paths, both with the adapter as the multiplexed model id:

  http        aiohttp POST /act through Serve's HTTP proxy (what a robot's inference node does)
  handle      DeploymentHandle.act.remote from this process (in-cluster callers): no HTTP proxy

For 4 and 16 concurrent clients the four (path, condition) pairs run in alternating blocks
(A, B, B, A, ...) and each pair's numbers pool its blocks. Each block also measures where the
CPU went, per request: this client process, Serve's HTTP proxy, the replica's forwards (its
engine thread's own clock), the rest of the replica (Serve's request handling, batching,
JSON), and the rest of the machine (Ray's other processes and anything else running).
Also measured:
  multiplexed_hit_rate   share of adapter requests that found their adapter resident on the
                         replica Serve routed them to
  fleet memory           the replica's RSS against N = 16 separate processes that each hold one
                         full model (the base with its adapter merged, as on board)
Prints a table and writes bench/results/serve.json.  Run: nice -n 10 python bench/serve.py
(--model 34m --out bench/results/serve_34m.json: the smaller policy)
"""

import argparse
import asyncio
import copy
import dataclasses
import json
import os
from pathlib import Path
import platform
import socket
import subprocess
import sys
import tempfile
import time

from adapter_switcher.core.metrics import percentile
from adapter_switcher.nodes.resolve import import_callable
from adapter_switcher.serve.local import LocalServe
from adapter_switcher.serve.local import ServeConfig
from adapter_switcher.serve.sized_policy import TARGET_MODULES
from adapter_switcher.serve.wire import act_body
from adapter_switcher.serve.wire import MODEL_ID_HEADER
import aiohttp
from peft import get_peft_model
from peft import LoraConfig
from ray import serve
import torch

RESULTS = Path(__file__).resolve().parent / 'results' / 'serve.json'
MODELS = {'134m': 'adapter_switcher.serve.sized_policy:build_served_policy',
          '34m': 'adapter_switcher.serve.sized_policy:build_small_served_policy'}
ADAPTERS = [f'robot_{i}' for i in range(8)]
FLEET = 16
PATHS = ('http', 'handle')
CONDITIONS = ('batched', 'unbatched')
CLIENT_COUNTS = (4, 16)


def write_adapters(root: Path, factory: str) -> None:
    base = import_callable(factory)()
    for index, name in enumerate(ADAPTERS):
        torch.manual_seed(100 + index)
        config = LoraConfig(r=8, lora_alpha=16, target_modules=list(TARGET_MODULES),
                            init_lora_weights=False)
        get_peft_model(copy.deepcopy(base), config).save_pretrained(str(root / name))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def robot_adapter(index: int):
    """Robot ``index``'s adapter: one of the eight, or None (base-only) for every fourth."""
    return None if index % 4 == 3 else ADAPTERS[index % len(ADAPTERS)]


async def closed_loop(clients: int, seconds: float, send) -> dict:
    """Run ``clients`` robots, each awaiting ``send(index, inputs)`` in turn, for ``seconds``."""
    latencies, hits, batch_rows = [], [], []
    generator = torch.Generator().manual_seed(clients)
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds

    async def robot(index):
        inputs = torch.rand(1, 46, generator=generator)
        while loop.time() < end:
            start = time.perf_counter()
            answer = await send(index, inputs)
            latencies.append(time.perf_counter() - start)
            batch_rows.append(answer['batch_rows'])
            if robot_adapter(index):
                hits.append(bool(answer['resident']))

    await asyncio.gather(*(robot(i) for i in range(clients)))
    return {'latencies': latencies, 'hits': hits, 'batch_rows': batch_rows, 'seconds': seconds}


async def http_block(url: str, clients: int, seconds: float) -> dict:
    """Closed-loop HTTP clients (one keep-alive connection each), as robots send ticks."""
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def send(index, inputs):
            adapter = robot_adapter(index)
            headers = {MODEL_ID_HEADER: adapter} if adapter else {}
            async with session.post(f'{url}/act', json=act_body(inputs, adapter),
                                    headers=headers) as reply:
                answer = await reply.json()
                if reply.status != 200:
                    raise RuntimeError(f'{url}: {reply.status} {answer}')
                return answer
        return await closed_loop(clients, seconds, send)


async def handle_block(handle, clients: int, seconds: float) -> dict:
    """Closed-loop clients calling the replica's ``act`` through a DeploymentHandle."""
    def send(index, inputs):
        adapter = robot_adapter(index)
        routed = handle.options(multiplexed_model_id=adapter or '')
        return routed.act.remote(act_body(inputs, adapter))
    return await closed_loop(clients, seconds, send)


def process_cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system, all threads) process ``pid`` has used."""
    with open(f'/proc/{pid}/stat') as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def machine_busy_s() -> float:
    """Return the CPU seconds all cores of the machine have spent busy (not idle)."""
    with open('/proc/stat') as stat:
        ticks = [int(x) for x in stat.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf('SC_CLK_TCK')


def find_process(title: str) -> int:
    """Return the pid of the Ray worker whose process title starts with ``title``."""
    for entry in os.listdir('/proc'):
        try:
            with open(f'/proc/{entry}/cmdline', 'rb') as cmdline:
                if entry.isdigit() and cmdline.read().startswith(title.encode()):
                    return int(entry)
        except OSError:
            continue
    raise RuntimeError(f'no process {title!r} found')


class CpuMeter:
    """Where the CPU of one block went: client, proxy, replica forward and rest, the machine."""

    def __init__(self, urls: dict):
        self.urls = urls
        self.proxy = find_process('ray::ProxyActor')

    async def snapshot(self) -> dict:
        replicas = {c: await replica_stats(url) for c, url in self.urls.items()}
        values = {'client': time.process_time(), 'proxy': process_cpu_s(self.proxy),
                  'machine': machine_busy_s()}
        for condition, stats in replicas.items():
            values[f'{condition}_replica'] = process_cpu_s(stats['pid'])
            values[f'{condition}_forward'] = stats['forward_cpu_s']
        return values

    @staticmethod
    def attribute(before: dict, after: dict, condition: str) -> dict:
        """Return the block's CPU seconds by where they went, for ``condition``'s replica."""
        used = {k: after[k] - before[k] for k in before}
        replicas = sum(v for k, v in used.items() if k.endswith('_replica'))
        forward = used[f'{condition}_forward']
        own = {'client': used['client'], 'proxy': used['proxy'], 'replica_forward': forward,
               'replica_serving': used[f'{condition}_replica'] - forward}
        own['rest_of_machine'] = max(
            0.0, used['machine'] - used['client'] - used['proxy'] - replicas) + (
            replicas - used[f'{condition}_replica'])
        return own


def summarise(blocks: list) -> dict:
    latencies = [x for b in blocks for x in b['latencies']]
    rows = [x for b in blocks for x in b['batch_rows']]
    seconds = sum(b['seconds'] for b in blocks)
    cpu = {k: sum(b['cpu'][k] for b in blocks) for k in blocks[0]['cpu']}
    return {'requests': len(latencies), 'requests_per_s': round(len(latencies) / seconds, 1),
            'p50_ms': round(percentile(latencies, 50) * 1e3, 2),
            'p99_ms': round(percentile(latencies, 99) * 1e3, 2),
            'mean_batch_rows': round(sum(rows) / len(rows), 2),
            'cpu_ms_per_request': {k: round(v * 1e3 / len(latencies), 2)
                                   for k, v in cpu.items()}}


def own_cpu_ms(row: dict) -> float:
    """Return the CPU ms per request of the benchmark's own processes (not the machine's)."""
    cpu = row['cpu_ms_per_request']
    return cpu['client'] + cpu['proxy'] + cpu['replica_forward'] + cpu['replica_serving']


def full_model_rss(adapter_dir: Path, factory: str) -> int:
    """RSS of a separate process holding one full model: the base with one adapter merged."""
    code = ('import sys, torch; from peft import PeftModel; '
            'from adapter_switcher.nodes.resolve import import_callable; '
            'b = import_callable(sys.argv[2]); '
            'm = PeftModel.from_pretrained(b(), sys.argv[1]).merge_and_unload().eval(); '
            'torch.set_num_threads(1); x = torch.rand(1, 46)\n'
            'with torch.inference_mode(): m(x)\n'
            "import os; print(int(open('/proc/self/statm').read().split()[1]) "
            "* os.sysconf('SC_PAGE_SIZE'))")
    out = subprocess.run([sys.executable, '-c', code, str(adapter_dir), factory], check=True,
                         capture_output=True, text=True, timeout=300)
    return int(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--block-s', type=float, default=4.0, help='seconds per block')
    parser.add_argument('--rounds', type=int, default=3, help='A/B block pairs per client count')
    parser.add_argument('--out', default=str(RESULTS), help='result file')
    parser.add_argument('--model', choices=sorted(MODELS), default='134m',
                        help='the served policy: 134M (default) or 34M parameters')
    parser.add_argument('--clients', type=int, nargs='+', default=list(CLIENT_COUNTS),
                        help='concurrent client counts (the ratio is reported at 16)')
    parser.add_argument('--max-batch-size', type=int, default=16,
                        help="the batched condition's max_batch_size")
    parser.add_argument('--batch-wait-s', type=float, default=0.002,
                        help="the batched condition's batch_wait_timeout_s")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        factory = MODELS[args.model]
        write_adapters(root, factory)
        base = ServeConfig.from_file().with_overrides(
            {'model_factory': factory, 'model_weights': '', 'adapters_dirs': [str(root)],
             'num_slots': len(ADAPTERS), 'torch_threads': 1},
            num_replicas=1, ray_actor_options={'num_cpus': 1})
        batched = base.with_overrides(
            user_config={'max_batch_size': args.max_batch_size,
                         'batch_wait_timeout_s': args.batch_wait_s})
        unbatched = dataclasses.replace(
            base.with_overrides(user_config={'max_batch_size': 1, 'batch_wait_timeout_s': 0.0}),
            app_name='unbatched', route_prefix='/unbatched')
        with LocalServe(batched, num_cpus=2, port=free_port()) as server:
            urls = {'batched': server.url, 'unbatched': server.deploy(unbatched)}
            handles = {'batched': serve.get_app_handle(batched.app_name),
                       'unbatched': serve.get_app_handle(unbatched.app_name)}
            blocks, stats = asyncio.run(
                measure(urls, handles, args.clients, args.block_s, args.rounds))
        on_board = full_model_rss(root / ADAPTERS[0], factory)
    report(blocks, stats, on_board, args)
    return 0


async def measure(urls: dict, handles: dict, client_counts, block_s: float, rounds: int):
    """Run every (clients, path, condition) block, alternating; return them and the stats."""
    async def block(path, condition, clients, seconds):
        if path == 'http':
            return await http_block(urls[condition], clients, seconds)
        return await handle_block(handles[condition], clients, seconds)

    for path in PATHS:  # warm up: every adapter loaded once, every code path run
        for condition in CONDITIONS:
            await block(path, condition, len(ADAPTERS), 1.0)
    meter = CpuMeter(urls)
    blocks = {}
    for clients in client_counts:
        for round_index in range(rounds):
            order = CONDITIONS if round_index % 2 == 0 else CONDITIONS[::-1]
            for path in PATHS:
                for condition in order:
                    before = await meter.snapshot()
                    result = await block(path, condition, clients, block_s)
                    result['cpu'] = meter.attribute(before, await meter.snapshot(), condition)
                    blocks.setdefault((clients, path, condition), []).append(result)
                    print(f'  {clients:2d} clients {path:6s} {condition:9s} block {round_index}: '
                          f'{len(result["latencies"]) / block_s:7.1f} req/s', flush=True)
    return blocks, await replica_stats(urls['batched'])


async def replica_stats(url: str) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.get(f'{url}/stats') as reply:
            return await reply.json()


def report(blocks: dict, stats: dict, on_board_rss: int, args) -> None:
    results = {'workload': {
        'model': MODELS[args.model],
        'parameters': sum(p.numel() for p in import_callable(MODELS[args.model])().parameters()),
        'pack_linear': True,
        'adapters': len(ADAPTERS), 'lora': 'r=8, alpha=16, fc1/fc2/fc3/head',
        'replicas': 1, 'slots': len(ADAPTERS), 'torch_threads': 1,
        'batched_user_config': {'max_batch_size': args.max_batch_size,
                                'batch_wait_timeout_s': args.batch_wait_s},
        'block_s': args.block_s, 'rounds': args.rounds, 'machine': platform.machine(),
        'cpus': os.cpu_count(), 'load_average_1min_at_end': round(os.getloadavg()[0], 1)}}
    counts = args.clients
    for path in PATHS:
        results[path] = {}
        for clients in counts:
            entry = {c: summarise(blocks[(clients, path, c)]) for c in CONDITIONS}
            entry['batched_vs_unbatched_throughput_ratio'] = round(
                entry['batched']['requests_per_s'] / entry['unbatched']['requests_per_s'], 2)
            # The benchmark's own CPU per request (client, proxy, replica), unbatched over
            # batched: what the throughput ratio tends to where these processes have the
            # cores to themselves, whatever else runs on a shared machine.
            entry['unbatched_vs_batched_own_cpu_per_request'] = round(
                own_cpu_ms(entry['unbatched']) / own_cpu_ms(entry['batched']), 2)
            results[path][f'clients_{clients}'] = entry
    hits = [h for key, bs in blocks.items() if key[2] == 'batched' for b in bs for h in b['hits']]
    batched = {p: {c: results[p][f'clients_{c}']['batched'] for c in counts} for p in PATHS}
    most = f'clients_{max(counts)}'
    results.update({
        'requests_per_s': {p: {str(c): batched[p][c]['requests_per_s'] for c in counts}
                           for p in PATHS},
        'p50_ms': {p: {str(c): batched[p][c]['p50_ms'] for c in counts} for p in PATHS},
        'p99_ms': {p: {str(c): batched[p][c]['p99_ms'] for c in counts} for p in PATHS},
        # At the most clients of the run (16 in the full run).
        'batched_vs_unbatched_throughput_ratio': {
            p: results[p][most]['batched_vs_unbatched_throughput_ratio'] for p in PATHS},
        'multiplexed_hit_rate': round(sum(hits) / len(hits), 4),
        'fleet_memory': {'robots': FLEET, 'server_replica_rss_mb': stats['rss_bytes'] >> 20,
                         'one_full_model_process_rss_mb': on_board_rss >> 20},
        'fleet_memory_vs_n_full_models_ratio': round(
            stats['rss_bytes'] / (FLEET * on_board_rss), 4),
    })
    results['targets_met'] = {
        f'batched_vs_unbatched_throughput_ratio_{p}_ge_2':
            results['batched_vs_unbatched_throughput_ratio'][p] >= 2.0 for p in PATHS}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + '\n')
    print_table(results, counts)
    print(f'wrote {args.out}')


def print_table(results: dict, counts) -> None:
    parts = ('client', 'proxy', 'replica_forward', 'replica_serving', 'rest_of_machine')
    print(f'{"clients":>7} {"path":>6} {"condition":>9} {"req/s":>7} {"p50 ms":>7} '
          f'{"p99 ms":>7} {"rows":>5} | CPU ms per request: ' + ' '.join(parts))
    for clients in counts:
        for path in PATHS:
            entry = results[path][f'clients_{clients}']
            for condition in CONDITIONS:
                row = entry[condition]
                cpu = row['cpu_ms_per_request']
                print(f'{clients:>7} {path:>6} {condition:>9} {row["requests_per_s"]:>7} '
                      f'{row["p50_ms"]:>7} {row["p99_ms"]:>7} {row["mean_batch_rows"]:>5} | '
                      + ' '.join(f'{cpu[k]:>{len(k)}}' for k in parts))
            print(f'{"":>7} {path:>6} batched / unbatched throughput: '
                  f'{entry["batched_vs_unbatched_throughput_ratio"]}x (own CPU per request: '
                  f'{entry["unbatched_vs_batched_own_cpu_per_request"]}x)')
    print(f'multiplexed hit rate: {results["multiplexed_hit_rate"]}')
    memory = results['fleet_memory']
    print(f'fleet memory: replica {memory["server_replica_rss_mb"]} MB vs {FLEET} x '
          f'{memory["one_full_model_process_rss_mb"]} MB = '
          f'{results["fleet_memory_vs_n_full_models_ratio"]}x')


if __name__ == '__main__':
    sys.exit(main())
