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
Engine benchmark rows beyond the GPT-2 reference: a CNN policy, mixed batches, precision.

Each compares conditions measured in the same run, interleaved in alternating blocks so machine
noise hits every side alike. bench/engine.py calls :func:`run` and adds the rows to
bench/results/engine.json; ``python bench/engine_workloads.py`` runs only these rows and
updates their keys in that file.
  cnn               a conv policy (Conv2d stem and blocks, grouped Conv2d, Conv1d, Linear head;
                    6 adapters r=16 on all of them): resident switch vs PeftModel.set_adapter,
                    cold load (disk -> slot) vs safetensors load_file
  mixed batch       GPT-2 reference workload, 4 rows: step_batch with 4 different adapters vs
                    the same 4 rows with one adapter, and vs PEFT's adapter_names= forward,
                    with the engine's packed_base (oneDNN) and, beside it, on sgemm as PEFT
  precision         a Llama of the same size (LoRA r=16 on all projections): the forward on a
                    torch dynamic int8 base vs the fp32 base, same adapter; the bf16 base's
                    largest logit difference from fp32 PEFT
"""

import argparse
import copy
import json
from pathlib import Path
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from peft import get_peft_model
from peft import LoraConfig
from peft import PeftModel
from safetensors.torch import load_file
import torch
from torch import nn
from transformers import LlamaConfig
from transformers import LlamaForCausalLM

NUM_ADAPTERS = 6
TARGETS = {
    'cnn_resident_switch_speedup_vs_peft': ('>=', 50.0),
    'cnn_cold_load_vs_safetensors_ratio': ('<=', 1.5),
    'mixed_batch4_vs_single_ratio': ('<=', 1.15),
    'mixed_batch4_vs_peft_ratio': ('<=', 0.8),
}
CNN_TARGETS = ['stem', 'block1', 'block2', 'grouped', 'rows', 'head']
LLAMA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']


class ConvPolicy(nn.Module):
    """A camera policy of a few hundred thousand parameters: 64x64 image in, 8 actions out."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 5, stride=2, padding=2)
        self.block1 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.block2 = nn.Conv2d(64, 64, 3, padding=1)
        self.grouped = nn.Conv2d(64, 64, 3, padding=1, groups=4)
        self.rows = nn.Conv1d(64 * 16, 128, 3, padding=1)
        self.head = nn.Linear(128 * 16, 8)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(image))
        x = torch.relu(self.block1(x))
        x = torch.relu(self.grouped(torch.relu(self.block2(x))))      # [N, 64, 16, 16]
        x = torch.relu(self.rows(x.permute(0, 1, 3, 2).flatten(1, 2)))
        return self.head(x.flatten(1))


def write_adapters(base: nn.Module, root: Path, targets: List[str], seed: int) -> List[str]:
    names = []
    for i in range(NUM_ADAPTERS):
        torch.manual_seed(seed + i)
        config = LoraConfig(r=16, lora_alpha=32, target_modules=targets,
                            init_lora_weights=False)
        get_peft_model(copy.deepcopy(base), config).save_pretrained(str(root / f'adapter{i}'))
        names.append(f'adapter{i}')
    return names


def interleaved(conditions: Dict[str, Callable[[], object]], rounds: int,
                block: int = 5) -> Dict[str, List[float]]:
    """Time each condition in blocks of ``block`` calls, rotating the order every round."""
    samples = {name: [] for name in conditions}
    order = list(conditions)
    for _ in range(2):
        for fn in conditions.values():
            fn()
    for r in range(rounds):
        for name in order[r % len(order):] + order[:r % len(order)]:
            fn = conditions[name]
            for _ in range(block):
                start = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - start)
    return samples


def peft_with(base: nn.Module, root: Path, names: List[str]) -> PeftModel:
    peft = PeftModel.from_pretrained(copy.deepcopy(base), str(root / names[0]),
                                     adapter_name=names[0]).eval()
    for name in names[1:]:
        peft.load_adapter(str(root / name), adapter_name=name)
    return peft


def bench_cnn(root: Path, rounds: int) -> Dict[str, float]:
    torch.manual_seed(0)
    base = ConvPolicy().eval()
    names = write_adapters(base, root, CNN_TARGETS, seed=2000)
    x = torch.randn(1, 3, 64, 64)
    engine = AdapterEngine(copy.deepcopy(base), [root],
                           EngineConfig(num_slots=NUM_ADAPTERS, max_rank=16),
                           probe_inputs=((x,), {}))
    for name in names:
        engine.activate(name)
    peft = peft_with(base, root, names)
    cycle = {'ours': 0, 'peft': 0}

    def switch(kind):
        cycle[kind] += 1
        name = names[cycle[kind] % len(names)]
        return engine.activate(name) if kind == 'ours' else peft.set_adapter(name)
    switches = interleaved({'ours': lambda: switch('ours'), 'peft': lambda: switch('peft')},
                           rounds, block=20)
    cold = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=2, max_rank=16),
                         probe_inputs=((x,), {}))
    files = [str(root / n / 'adapter_model.safetensors') for n in names]
    loads = {'ours': 0, 'stock': 0}

    def load(kind):
        loads[kind] += 1
        i = loads[kind] % len(names)
        return cold.load_to_slot(names[i]) if kind == 'ours' else load_file(files[i])
    cold_loads = interleaved({'ours': lambda: load('ours'), 'stock': lambda: load('stock')},
                             rounds)
    med = statistics.median
    engine.close()
    cold.close()
    return {
        'cnn_resident_switch_speedup_vs_peft': med(switches['peft']) / med(switches['ours']),
        'cnn_resident_switch_median_us': med(switches['ours']) * 1e6,
        'cnn_peft_set_adapter_median_us': med(switches['peft']) * 1e6,
        'cnn_cold_load_vs_safetensors_ratio': med(cold_loads['ours']) / med(cold_loads['stock']),
        'cnn_cold_load_median_ms': med(cold_loads['ours']) * 1e3,
        'cnn_safetensors_load_file_median_ms': med(cold_loads['stock']) * 1e3,
    }


def bench_mixed_batch(base: nn.Module, root: Path, names: List[str], x: torch.Tensor,
                      rounds: int) -> Dict[str, float]:
    """
    Time the mixed batch on the engine's CPU setting for batches (``packed_base``) and sgemm.

    The packed engine gives the targeted rows; the same engine on sgemm (PEFT's kernels) shows
    what the per-row routing alone gains over PEFT's ``adapter_names`` loop.
    """
    rows = x.expand(4, -1).clone()
    engines = {packed: AdapterEngine(copy.deepcopy(base), [root],
                                     EngineConfig(num_slots=NUM_ADAPTERS, max_rank=16,
                                                  packed_base=packed),
                                     probe_inputs=((x,), {}))
               for packed in (True, False)}
    engine, sgemm = engines[True], engines[False]
    peft = peft_with(base, root, names)
    mixed = names[:4]
    with torch.inference_mode():
        samples = interleaved({
            'mixed': lambda: engine.step_batch(rows, adapters=mixed),
            'single': lambda: engine.step_batch(rows, adapters=[names[0]] * 4),
            'peft': lambda: peft(rows, adapter_names=mixed),
            'mixed_sgemm': lambda: sgemm.step_batch(rows, adapters=mixed),
        }, rounds, block=2)
        expected = peft(rows, adapter_names=mixed).logits
        diff, diff_sgemm = ((e.step_batch(rows, adapters=mixed).output.logits - expected)
                            .abs().max().item() for e in (engine, sgemm))
    for each in engines.values():
        each.close()
    med = statistics.median
    return {
        'mixed_batch4_vs_single_ratio': med(samples['mixed']) / med(samples['single']),
        'mixed_batch4_vs_peft_ratio': med(samples['mixed']) / med(samples['peft']),
        'mixed_batch4_sgemm_vs_peft_ratio': med(samples['mixed_sgemm']) / med(samples['peft']),
        'mixed_batch4_median_ms': med(samples['mixed']) * 1e3,
        'mixed_batch4_sgemm_median_ms': med(samples['mixed_sgemm']) * 1e3,
        'single_batch4_median_ms': med(samples['single']) * 1e3,
        'peft_mixed_batch4_median_ms': med(samples['peft']) * 1e3,
        'mixed_batch4_max_abs_diff_vs_peft': diff,
        'mixed_batch4_sgemm_max_abs_diff_vs_peft': diff_sgemm,
    }


def bench_precision(root: Path, rounds: int) -> Dict[str, float]:
    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(
        vocab_size=8192, hidden_size=512, intermediate_size=1376, num_hidden_layers=6,
        num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=256)).eval()
    names = write_adapters(base, root, LLAMA_TARGETS, seed=3000)
    torch.manual_seed(1)
    x = torch.randint(0, 8192, (1, 64))
    fp32 = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=2),
                         probe_inputs=((x,), {}))
    int8 = AdapterEngine(
        torch.ao.quantization.quantize_dynamic(copy.deepcopy(base), {nn.Linear},
                                               dtype=torch.qint8),
        [root], EngineConfig(num_slots=2), probe_inputs=((x,), {}))
    bf16 = AdapterEngine(copy.deepcopy(base).to(torch.bfloat16), [root],
                         EngineConfig(num_slots=2), probe_inputs=((x,), {}))
    for engine in (fp32, int8, bf16):
        engine.activate(names[0])
    samples = interleaved({'fp32': lambda: fp32.step(x), 'int8': lambda: int8.step(x)},
                          rounds, block=2)
    with torch.inference_mode():
        reference = PeftModel.from_pretrained(copy.deepcopy(base),
                                              str(root / names[0])).eval()(x).logits
        low = bf16.step(x).output.logits.float()
        quantized = int8.step(x).output.logits
    for engine in (fp32, int8, bf16):
        engine.close()
    med = statistics.median
    scale = reference.abs().max().item()
    return {
        'int8_forward_vs_fp32_ratio': med(samples['int8']) / med(samples['fp32']),
        'int8_forward_median_ms': med(samples['int8']) * 1e3,
        'fp32_forward_median_ms': med(samples['fp32']) * 1e3,
        'int8_max_abs_diff': (quantized - reference).abs().max().item(),
        'bf16_max_abs_diff': (low - reference).abs().max().item(),
        'precision_reference_max_abs_logit': scale,
    }


def run(base: nn.Module, root: Path, names: List[str], x: torch.Tensor, tmp: Path,
        rounds: int) -> Dict[str, float]:
    """Run every row here and return its results (GPT-2 reference adapters in ``root``)."""
    results = bench_mixed_batch(base, root, names, x, rounds)
    (tmp / 'cnn').mkdir(parents=True)
    results.update(bench_cnn(tmp / 'cnn', rounds))
    (tmp / 'llama').mkdir(parents=True)
    results.update(bench_precision(tmp / 'llama', rounds))
    return results


def print_rows(r: Dict[str, float]) -> None:
    """Print this module's rows of the engine benchmark table."""
    print(f"CNN resident switch: {r['cnn_resident_switch_median_us']:.1f} us vs "
          f"{r['cnn_peft_set_adapter_median_us']:.1f} us set_adapter "
          f"({r['cnn_resident_switch_speedup_vs_peft']:.0f}x, target >= 50x); cold load "
          f"{r['cnn_cold_load_median_ms']:.3f} ms vs "
          f"{r['cnn_safetensors_load_file_median_ms']:.3f} ms load_file "
          f"({r['cnn_cold_load_vs_safetensors_ratio']:.2f}x, target <= 1.5x)")
    print(f"mixed batch of 4 (4 adapters): {r['mixed_batch4_median_ms']:.2f} ms; one adapter "
          f"{r['single_batch4_median_ms']:.2f} ms ({r['mixed_batch4_vs_single_ratio']:.2f}x, "
          f"target <= 1.15x); PEFT adapter_names {r['peft_mixed_batch4_median_ms']:.2f} ms "
          f"({r['mixed_batch4_vs_peft_ratio']:.2f}x, target <= 0.8x); max |diff| "
          f"{r['mixed_batch4_max_abs_diff_vs_peft']:.1e} (packed_base); on sgemm "
          f"{r['mixed_batch4_sgemm_median_ms']:.2f} ms "
          f"({r['mixed_batch4_sgemm_vs_peft_ratio']:.2f}x PEFT, max |diff| "
          f"{r['mixed_batch4_sgemm_max_abs_diff_vs_peft']:.1e})")
    print(f"int8 base forward {r['int8_forward_median_ms']:.2f} ms vs fp32 "
          f"{r['fp32_forward_median_ms']:.2f} ms ({r['int8_forward_vs_fp32_ratio']:.2f}x), "
          f"max |diff| vs fp32 PEFT {r['int8_max_abs_diff']:.3f}; bf16 max |diff| "
          f"{r['bf16_max_abs_diff']:.3f} (largest logit "
          f"{r['precision_reference_max_abs_logit']:.2f})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--output', type=Path,
                        default=Path(__file__).resolve().parent / 'results' / 'engine.json')
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    import engine as reference      # the GPT-2 reference workload of bench/engine.py
    base = reference.reference_base()
    torch.manual_seed(1)
    x = torch.randint(0, 8192, (1, 64))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / 'gpt2'
        root.mkdir()
        names = reference.write_reference_adapters(base, root)
        results = run(base, root, names, x, Path(tmp), args.rounds)
    print_rows(results)
    stored = json.loads(args.output.read_text()) if args.output.exists() else {}
    stored.update(results)
    met = stored.setdefault('targets_met', {})
    met.update({k: results[k] >= b if op == '>=' else results[k] <= b
                for k, (op, b) in TARGETS.items()})
    args.output.write_text(json.dumps(stored, indent=2, sort_keys=True) + '\n')
    print(f'updated {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
