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

Workload: the server-sized policy (adapter_switcher.serve.sized_policy, ~34M parameters) with
8 PEFT LoRA adapters (r=8 on fc1, fc2, fc3, head), one replica, 8 slots, torch_threads 1, on a
local Ray cluster started by this script (loopback, 2 CPUs). Robots are closed-loop HTTP clients
(aiohttp): each sends its observation with its own adapter (a quarter of them base-only), waits
for the answer, sends again. Two applications run side by side on the same cluster:

  batched     @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002): cross-adapter batches
  unbatched   the same deployment with max_batch_size=1 (the reference: one forward per request)

For 4 and 16 concurrent clients the conditions run in alternating blocks (A, B, B, A, A, B, ...)
and each condition's numbers pool its blocks. Also measured:
  multiplexed_hit_rate   share of adapter requests that found their adapter resident on the
                         replica Serve routed them to (header = adapter id)
  fleet memory           the replica's RSS against N = 16 separate processes that each hold one
                         full model (the base with its adapter merged, as on board)
Prints a table and writes bench/results/serve.json.  Run: nice -n 10 python bench/serve.py
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
from adapter_switcher.serve.local import LocalServe
from adapter_switcher.serve.local import ServeConfig
from adapter_switcher.serve.sized_policy import build_served_policy
from adapter_switcher.serve.sized_policy import TARGET_MODULES
from adapter_switcher.serve.wire import act_body
from adapter_switcher.serve.wire import MODEL_ID_HEADER
import aiohttp
from peft import get_peft_model
from peft import LoraConfig
import torch

RESULTS = Path(__file__).resolve().parent / 'results' / 'serve.json'
FACTORY = 'adapter_switcher.serve.sized_policy:build_served_policy'
ADAPTERS = [f'robot_{i}' for i in range(8)]
FLEET = 16


def write_adapters(root: Path) -> None:
    base = build_served_policy()
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


async def run_block(url: str, clients: int, seconds: float) -> dict:
    """Closed-loop clients for ``seconds``; return latencies, hits and batch sizes."""
    latencies, hits, batch_rows = [], [], []
    generator = torch.Generator().manual_seed(clients)

    async def robot(session, index, end):
        adapter = robot_adapter(index)
        body = json.dumps(act_body(torch.rand(1, 46, generator=generator), adapter))
        headers = {'content-type': 'application/json'}
        if adapter:
            headers[MODEL_ID_HEADER] = adapter
        loop = asyncio.get_running_loop()
        while loop.time() < end:
            start = time.perf_counter()
            async with session.post(f'{url}/act', data=body, headers=headers) as reply:
                answer = await reply.json()
                if reply.status != 200:
                    raise RuntimeError(f'{url}: {reply.status} {answer}')
            latencies.append(time.perf_counter() - start)
            batch_rows.append(answer['batch_rows'])
            if adapter:
                hits.append(bool(answer['resident']))

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        end = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(*(robot(session, i, end) for i in range(clients)))
    return {'latencies': latencies, 'hits': hits, 'batch_rows': batch_rows, 'seconds': seconds}


def summarise(blocks: list) -> dict:
    latencies = [x for b in blocks for x in b['latencies']]
    rows = [x for b in blocks for x in b['batch_rows']]
    seconds = sum(b['seconds'] for b in blocks)
    return {'requests': len(latencies), 'requests_per_s': round(len(latencies) / seconds, 1),
            'p50_ms': round(percentile(latencies, 50) * 1e3, 2),
            'p99_ms': round(percentile(latencies, 99) * 1e3, 2),
            'mean_batch_rows': round(sum(rows) / len(rows), 2)}


def full_model_rss(adapter_dir: Path) -> int:
    """RSS of a separate process holding one full model: the base with one adapter merged."""
    code = ('import sys, torch; from peft import PeftModel; '
            'from adapter_switcher.serve.sized_policy import build_served_policy as b; '
            'm = PeftModel.from_pretrained(b(), sys.argv[1]).merge_and_unload().eval(); '
            'torch.set_num_threads(1); x = torch.rand(1, 46)\n'
            'with torch.inference_mode(): m(x)\n'
            "import os; print(int(open('/proc/self/statm').read().split()[1]) "
            "* os.sysconf('SC_PAGE_SIZE'))")
    out = subprocess.run([sys.executable, '-c', code, str(adapter_dir)], check=True,
                         capture_output=True, text=True, timeout=300)
    return int(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--block-s', type=float, default=4.0, help='seconds per block')
    parser.add_argument('--rounds', type=int, default=3, help='A/B block pairs per client count')
    parser.add_argument('--out', default=str(RESULTS), help='result file')
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_adapters(root)
        base = ServeConfig.from_file().with_overrides(
            {'model_factory': FACTORY, 'model_weights': '', 'adapters_dirs': [str(root)],
             'num_slots': len(ADAPTERS), 'torch_threads': 1},
            num_replicas=1, ray_actor_options={'num_cpus': 1})
        batched = base.with_overrides(
            user_config={'max_batch_size': 16, 'batch_wait_timeout_s': 0.002})
        unbatched = dataclasses.replace(
            base.with_overrides(user_config={'max_batch_size': 1, 'batch_wait_timeout_s': 0.0}),
            app_name='unbatched', route_prefix='/unbatched')
        with LocalServe(batched, num_cpus=2, port=free_port()) as server:
            urls = {'batched': server.url, 'unbatched': server.deploy(unbatched)}
            blocks = measure(urls, args.block_s, args.rounds)
            stats = asyncio.run(replica_stats(server.url))
        on_board = full_model_rss(root / ADAPTERS[0])
    report(blocks, stats, on_board, args)
    return 0


def measure(urls: dict, block_s: float, rounds: int) -> dict:
    for url in urls.values():  # warm up: every adapter loaded once, the code paths run
        asyncio.run(run_block(url, len(ADAPTERS), 1.0))
    blocks = {}
    for clients in (4, 16):
        for round_index in range(rounds):
            order = ('batched', 'unbatched') if round_index % 2 == 0 else ('unbatched', 'batched')
            for condition in order:
                block = asyncio.run(run_block(urls[condition], clients, block_s))
                blocks.setdefault((clients, condition), []).append(block)
                print(f'  {clients:2d} clients {condition:9s} block {round_index}: '
                      f'{len(block["latencies"]) / block_s:7.1f} req/s', flush=True)
    return blocks


async def replica_stats(url: str) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.get(f'{url}/stats') as reply:
            return await reply.json()


def report(blocks: dict, stats: dict, on_board_rss: int, args) -> None:
    results = {'workload': {
        'model': FACTORY, 'parameters': sum(p.numel() for p in build_served_policy().parameters()),
        'adapters': len(ADAPTERS), 'lora': 'r=8, alpha=16, fc1/fc2/fc3/head',
        'replicas': 1, 'slots': len(ADAPTERS), 'torch_threads': 1,
        'block_s': args.block_s, 'rounds': args.rounds, 'machine': platform.machine(),
        'cpus': os.cpu_count(), 'load_average_1min_at_end': round(os.getloadavg()[0], 1)}}
    for clients in (4, 16):
        entry = {c: summarise(blocks[(clients, c)]) for c in ('batched', 'unbatched')}
        entry['batched_vs_unbatched_throughput_ratio'] = round(
            entry['batched']['requests_per_s'] / entry['unbatched']['requests_per_s'], 2)
        results[f'clients_{clients}'] = entry
    hits = [h for key, bs in blocks.items() if key[1] == 'batched' for b in bs for h in b['hits']]
    results.update({
        'requests_per_s': {str(c): results[f'clients_{c}']['batched']['requests_per_s']
                           for c in (4, 16)},
        'p50_ms': {str(c): results[f'clients_{c}']['batched']['p50_ms'] for c in (4, 16)},
        'p99_ms': {str(c): results[f'clients_{c}']['batched']['p99_ms'] for c in (4, 16)},
        'batched_vs_unbatched_throughput_ratio':
            results['clients_16']['batched_vs_unbatched_throughput_ratio'],
        'multiplexed_hit_rate': round(sum(hits) / len(hits), 4),
        'fleet_memory': {'robots': FLEET, 'server_replica_rss_mb': stats['rss_bytes'] >> 20,
                         'one_full_model_process_rss_mb': on_board_rss >> 20},
        'fleet_memory_vs_n_full_models_ratio': round(
            stats['rss_bytes'] / (FLEET * on_board_rss), 4),
    })
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + '\n')
    print(f'{"clients":>8} {"condition":>10} {"req/s":>8} {"p50 ms":>8} {"p99 ms":>8} '
          f'{"rows/batch":>10}')
    for clients in (4, 16):
        for condition in ('batched', 'unbatched'):
            row = results[f'clients_{clients}'][condition]
            print(f'{clients:>8} {condition:>10} {row["requests_per_s"]:>8} {row["p50_ms"]:>8} '
                  f'{row["p99_ms"]:>8} {row["mean_batch_rows"]:>10}')
        print(f'{"":>8} batched / unbatched throughput: '
              f'{results[f"clients_{clients}"]["batched_vs_unbatched_throughput_ratio"]}x')
    print(f'multiplexed hit rate: {results["multiplexed_hit_rate"]}')
    memory = results['fleet_memory']
    print(f'fleet memory: replica {memory["server_replica_rss_mb"]} MB vs {FLEET} x '
          f'{memory["one_full_model_process_rss_mb"]} MB = '
          f'{results["fleet_memory_vs_n_full_models_ratio"]}x')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    sys.exit(main())
