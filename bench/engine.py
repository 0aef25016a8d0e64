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
Engine benchmark against stock PEFT on the reference workload, in one process.

Workload (issue 2): transformers GPT-2 from GPT2Config(n_layer=6, n_embd=512, n_head=8,
vocab_size=8192, n_positions=256), random init with a fixed seed; 6 adapters from
LoraConfig(r=16, lora_alpha=32, target_modules=['c_attn', 'c_proj', 'c_fc'],
init_lora_weights=False); input 1x64 tokens; 2 threads.

Measured, each against its stock counterpart in the same run:
  resident switch   engine.activate() between resident adapters vs PeftModel.set_adapter()
  cold load         engine.load_to_slot() of a non-resident adapter (page cache warm) vs
                    safetensors.torch.load_file() of the same file
  cold activation   engine.activate() of a non-resident adapter vs PEFT's hotswap_adapter(),
                    interleaved: each adapter's first activation in a fresh probe_ahead engine
                    (probed when registered, between ticks: load + switch on the path), the
                    same in a plain engine (the probe forward on the path), and reloads
  forward           engine.step() vs PEFT's unmerged forward, interleaved, same adapter
  host RAM          RSS growth per host-cached adapter vs its file size
  CNN, mixed batch, precision: see bench/engine_workloads.py (rows added to the same JSON)
Prints a table and writes bench/results/engine.json.  Run: python bench/engine.py
"""

import argparse
import copy
import ctypes
import gc
import json
import os
from pathlib import Path
import platform
import statistics
import sys
import tempfile
import time

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core.metrics import percentile
import engine_workloads
from peft import get_peft_model
from peft import LoraConfig
from peft import PeftModel
from peft.utils.hotswap import hotswap_adapter
from safetensors.torch import load_file
import torch
from transformers import GPT2Config
from transformers import GPT2LMHeadModel

RESULTS = Path(__file__).resolve().parent / 'results' / 'engine.json'
NUM_ADAPTERS = 6
TARGETS = {
    'resident_switch_speedup_vs_peft': ('>=', 100.0),
    'resident_switch_p99_us': ('<=', 100.0),
    'cold_load_vs_safetensors_ratio': ('<=', 1.5),
    'cold_activation_vs_peft_hotswap_ratio': ('<=', 1.0),
    'forward_vs_peft_unmerged_ratio': ('<=', 1.02),
    'rss_per_adapter_ratio': ('<=', 1.2),
    **engine_workloads.TARGETS,
}


def reference_base() -> GPT2LMHeadModel:
    torch.manual_seed(0)
    config = GPT2Config(n_layer=6, n_embd=512, n_head=8, vocab_size=8192, n_positions=256,
                        bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).eval()


def write_reference_adapters(base, root: Path):
    names = []
    for i in range(NUM_ADAPTERS):
        torch.manual_seed(1000 + i)
        config = LoraConfig(r=16, lora_alpha=32, target_modules=['c_attn', 'c_proj', 'c_fc'],
                            init_lora_weights=False)
        get_peft_model(copy.deepcopy(base), config).save_pretrained(str(root / f'adapter{i}'))
        names.append(f'adapter{i}')
    return names


def timed(fn, repeats):
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def bench_switch(base, root, names, x, repeats):
    engine = AdapterEngine(copy.deepcopy(base), [root],
                           EngineConfig(num_slots=NUM_ADAPTERS, max_rank=16),
                           probe_inputs=((x,), {}))
    for name in names:
        engine.activate(name)
    order = iter([names[i % len(names)] for i in range(repeats * 2)])
    timed(lambda: engine.activate(next(order)), 200)
    ours = timed(lambda: engine.activate(next(order)), repeats)

    peft = PeftModel.from_pretrained(copy.deepcopy(base), str(root / names[0]),
                                     adapter_name=names[0]).eval()
    for name in names[1:]:
        peft.load_adapter(str(root / name), adapter_name=name)
    peft_order = iter([names[i % len(names)] for i in range(repeats)])
    stock = timed(lambda: peft.set_adapter(next(peft_order)), max(50, repeats // 10))
    return engine, peft, ours, stock


def bench_forward(engine, peft, name, x, rounds):
    engine.activate(name)
    peft.set_adapter(name)
    ours, stock = [], []
    with torch.inference_mode():
        for _ in range(5):
            engine.step(x)
            peft(x)
        for i in range(rounds):
            pair = [(ours, lambda: engine.step(x)), (stock, lambda: peft(x))]
            for samples, fn in (pair if i % 2 == 0 else pair[::-1]):
                start = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - start)
        diff = (engine.step(x).output.logits - peft(x).logits).abs().max().item()
    return ours, stock, diff


def bench_cold_load(base, root, names, x, repeats):
    engine = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=2, max_rank=16),
                           probe_inputs=((x,), {}))
    files = {n: str(root / n / 'adapter_model.safetensors') for n in names}
    for path in files.values():       # warm the page cache
        load_file(path)
    ours, stock = [], []
    for i in range(repeats):
        name = names[i % len(names)]
        start = time.perf_counter()
        engine.load_to_slot(name)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        load_file(files[name])
        stock.append(time.perf_counter() - start)
    return ours, stock


def bench_cold_activation(base, root, names, x, engines, reloads):
    """
    Time activate() of a non-resident adapter against PEFT's hotswap_adapter(), interleaved.

    Two slots and keep_inactive=False, so every activation in the cycle over the adapters
    loads. Per fresh pair of engines: ``ahead``, each adapter's first activation in a
    probe_ahead engine once its probes ahead are done (load + switch); ``on_path``, the same
    in a plain engine (load + probe forward on the minimal input + switch); ``reload``, later
    activations in the probe_ahead engine. The order of the conditions rotates every round.
    """
    peft = PeftModel.from_pretrained(copy.deepcopy(base), str(root / names[0])).eval()
    paths = [str(root / n) for n in names]
    hotswap = lambda i: hotswap_adapter(peft, paths[i % len(paths)],  # noqa: E731
                                        adapter_name='default', torch_device='cpu')
    samples = {'ahead': [], 'on_path': [], 'reload': [], 'hotswap': []}
    for _ in range(engines):
        ahead, plain = (AdapterEngine(copy.deepcopy(base), [root],
                                      EngineConfig(num_slots=2, max_rank=16,
                                                   keep_inactive=False, probe_ahead=probe),
                                      probe_inputs=((x,), {})) for probe in (True, False))
        for engine in (ahead, plain):
            engine.step(x)
        ahead.worker.wait_idle(600)
        for i in range(len(names) + reloads):
            name = names[i % len(names)]
            conditions = [('ahead' if i < len(names) else 'reload',
                           lambda: ahead.activate(name)), ('hotswap', lambda: hotswap(i))]
            if i < len(names):
                conditions.append(('on_path', lambda: plain.activate(name)))
            shift = i % len(conditions)
            for kind, fn in conditions[shift:] + conditions[:shift]:
                start = time.perf_counter()
                fn()
                samples[kind].append(time.perf_counter() - start)
        ahead.close()
        plain.close()
    return samples


def rss_bytes():
    with open('/proc/self/statm') as stream:
        return int(stream.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def trim_heap():
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except OSError:
        pass


def bench_host_rss(base, root, names):
    engine = AdapterEngine(copy.deepcopy(base), [root],
                           EngineConfig(num_slots=2, max_rank=16, host_cache_bytes=1 << 30))
    sizes = sum((root / n / 'adapter_model.safetensors').stat().st_size for n in names)
    trim_heap()
    before = rss_bytes()
    for name in names:
        engine.load_to_host(name)
    trim_heap()
    growth = rss_bytes() - before
    return growth, sizes, engine


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--switches', type=int, default=5000)
    parser.add_argument('--forward-rounds', type=int, default=60)
    parser.add_argument('--loads', type=int, default=300)
    parser.add_argument('--engines', type=int, default=5,
                        help='fresh engines for first-time cold activations')
    parser.add_argument('--reloads', type=int, default=60,
                        help='cold reactivations per engine after the first round')
    parser.add_argument('--workload-rounds', type=int, default=20,
                        help='interleaved rounds of the CNN, mixed-batch and precision rows')
    parser.add_argument('--output', type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    base = reference_base()
    torch.manual_seed(1)
    x = torch.randint(0, 8192, (1, 64))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = write_reference_adapters(base, root)
        growth, file_bytes, host_engine = bench_host_rss(base, root, names)
        del host_engine
        engine, peft, switch_ours, switch_peft = bench_switch(base, root, names, x,
                                                              args.switches)
        fwd_ours, fwd_peft, fwd_diff = bench_forward(engine, peft, names[2], x,
                                                     args.forward_rounds)
        del engine, peft
        load_ours, load_stock = bench_cold_load(base, root, names, x, args.loads)
        cold = bench_cold_activation(base, root, names, x, args.engines, args.reloads)
        workloads = engine_workloads.run(base, root, names, x, Path(tmp) / 'workloads',
                                         args.workload_rounds)
    med = statistics.median
    results = {
        'resident_switch_speedup_vs_peft': med(switch_peft) / med(switch_ours),
        'resident_switch_p99_us': percentile(switch_ours, 99) * 1e6,
        'resident_switch_median_us': med(switch_ours) * 1e6,
        'peft_set_adapter_median_us': med(switch_peft) * 1e6,
        'cold_load_vs_safetensors_ratio': med(load_ours) / med(load_stock),
        'cold_load_median_ms': med(load_ours) * 1e3,
        'safetensors_load_file_median_ms': med(load_stock) * 1e3,
        'cold_activation_vs_peft_hotswap_ratio': med(cold['ahead']) / med(cold['hotswap']),
        'cold_activation_median_ms': med(cold['ahead']) * 1e3,
        'cold_activation_probe_on_path_vs_peft_hotswap_ratio':
            med(cold['on_path']) / med(cold['hotswap']),
        'cold_activation_probe_on_path_median_ms': med(cold['on_path']) * 1e3,
        'cold_reactivation_vs_peft_hotswap_ratio': med(cold['reload']) / med(cold['hotswap']),
        'cold_reactivation_median_ms': med(cold['reload']) * 1e3,
        'peft_hotswap_adapter_median_ms': med(cold['hotswap']) * 1e3,
        'forward_vs_peft_unmerged_ratio': med(fwd_ours) / med(fwd_peft),
        'forward_median_ms': med(fwd_ours) * 1e3,
        'peft_unmerged_forward_median_ms': med(fwd_peft) * 1e3,
        'forward_max_abs_diff_vs_peft': fwd_diff,
        'rss_per_adapter_ratio': growth / file_bytes,
        'rss_growth_bytes': growth,
        'adapter_file_bytes': file_bytes,
        'workload': 'GPT-2 6x512, vocab 8192, 6 adapters r=16 alpha=32 c_attn/c_proj/c_fc, '
                    'input 1x64, 2 threads',
        'machine': f'{platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__}',
        **workloads,
    }
    results['targets_met'] = {k: _meets(results[k], *t) for k, t in TARGETS.items()}
    print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')
    print(f'\nwrote {args.output}')
    return 0


def _meets(value, op, bound):
    return value >= bound if op == '>=' else value <= bound


def print_table(r):
    rows = [
        ('resident switch, median', f"{r['resident_switch_median_us']:.1f} us",
         f"{r['peft_set_adapter_median_us']:.1f} us (set_adapter)",
         f"{r['resident_switch_speedup_vs_peft']:.0f}x faster", '>= 100x'),
        ('resident switch, p99', f"{r['resident_switch_p99_us']:.1f} us", '', '', '<= 100 us'),
        ('cold load (disk -> slot)', f"{r['cold_load_median_ms']:.3f} ms",
         f"{r['safetensors_load_file_median_ms']:.3f} ms (load_file)",
         f"{r['cold_load_vs_safetensors_ratio']:.2f}x", '<= 1.5x'),
        ('cold activation (probed ahead)', f"{r['cold_activation_median_ms']:.2f} ms",
         f"{r['peft_hotswap_adapter_median_ms']:.2f} ms (hotswap_adapter)",
         f"{r['cold_activation_vs_peft_hotswap_ratio']:.2f}x", '<= 1.0x'),
        ('cold activation (probe on path)',
         f"{r['cold_activation_probe_on_path_median_ms']:.2f} ms",
         f"{r['peft_hotswap_adapter_median_ms']:.2f} ms (hotswap_adapter)",
         f"{r['cold_activation_probe_on_path_vs_peft_hotswap_ratio']:.2f}x", ''),
        ('cold reactivation (probe known)', f"{r['cold_reactivation_median_ms']:.2f} ms",
         f"{r['peft_hotswap_adapter_median_ms']:.2f} ms (hotswap_adapter)",
         f"{r['cold_reactivation_vs_peft_hotswap_ratio']:.2f}x", ''),
        ('forward with adapter', f"{r['forward_median_ms']:.2f} ms",
         f"{r['peft_unmerged_forward_median_ms']:.2f} ms (unmerged)",
         f"{r['forward_vs_peft_unmerged_ratio']:.3f}x", '<= 1.02x'),
        ('host RAM per cached adapter', f"{r['rss_growth_bytes'] / NUM_ADAPTERS / 1e6:.2f} MB",
         f"{r['adapter_file_bytes'] / NUM_ADAPTERS / 1e6:.2f} MB (file)",
         f"{r['rss_per_adapter_ratio']:.2f}x", '<= 1.2x'),
    ]
    header = ('metric', 'adapter_switcher', 'stock', 'ratio', 'target')
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(5)]
    for row in [header] + rows:
        print('  '.join(str(c).ljust(w) for c, w in zip(row, widths)))
    print(f"forward max |diff| vs PEFT: {r['forward_max_abs_diff_vs_peft']:.2e}")
    engine_workloads.print_rows(r)
    print('targets met: ' + ', '.join(f'{k}={v}' for k, v in r['targets_met'].items()))


if __name__ == '__main__':
    sys.exit(main())
