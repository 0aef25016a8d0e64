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
One forward of the visuomotor policy on one CPU thread: base, engine with an adapter, PEFT.

Three conditions on the same observation, interleaved in blocks (A, B, C, A, B, C, ...): the
bare base network, the engine's step with a conv+linear LoRA adapter active (what the inference
node runs each tick), and stock PEFT's LoraModel with the same adapter (the reference). Reported
per condition: p50 and p99 in milliseconds, and the engine/PEFT ratio. The budget is 5 ms.

    python bench/policy_forward.py [--models models/demo/visuomotor] [--blocks 10]
"""

import argparse
import copy
import json
from pathlib import Path
import platform
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapter_switcher.core import AdapterEngine  # noqa: E402
from adapter_switcher.core import EngineConfig  # noqa: E402
from adapter_switcher.core.metrics import percentile  # noqa: E402
from adapter_switcher.demo.adapters import ADAPTERS_SUBDIR  # noqa: E402
from adapter_switcher.demo.adapters import BASE_WEIGHTS  # noqa: E402
from adapter_switcher.demo.adapters import fit_lora  # noqa: E402
from adapter_switcher.demo.visuomotor import build_visuomotor  # noqa: E402
from adapter_switcher.demo.visuomotor import OBS_DIM  # noqa: E402
from adapter_switcher.demo.visuomotor import parameter_count  # noqa: E402
from adapter_switcher.demo.visuomotor import TARGET_MODULES  # noqa: E402
from peft import PeftModel  # noqa: E402
from safetensors.torch import load_model  # noqa: E402
import torch  # noqa: E402

RESULT = ROOT / 'bench' / 'results' / 'policy_forward.json'
BUDGET_MS = 5.0


def adapters_dir(models: Path, scratch: Path, base: torch.nn.Module) -> Path:
    """Return a directory of adapters: the trained ones, else one with random LoRA weights."""
    if (models / ADAPTERS_SUBDIR).is_dir():
        return models / ADAPTERS_SUBDIR
    obs = torch.rand(8, OBS_DIM)
    model = fit_lora(base, obs, torch.zeros(8, 2), steps=0, target_modules=TARGET_MODULES)
    for name, param in model.named_parameters():
        if 'lora_B' in name:
            param.data.normal_(0.0, 0.05)
    model.save_pretrained(str(scratch / 'hazard'), safe_serialization=True)
    return scratch


def timed(function, count: int) -> list:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', type=Path, default=ROOT / 'models' / 'demo' / 'visuomotor')
    parser.add_argument('--blocks', type=int, default=10)
    parser.add_argument('--per-block', type=int, default=100)
    parser.add_argument('--output', type=Path, default=RESULT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    base = build_visuomotor()
    if (args.models / BASE_WEIGHTS).is_file():
        load_model(base, str(args.models / BASE_WEIGHTS))
    base.eval()
    obs = torch.rand(1, OBS_DIM)
    with tempfile.TemporaryDirectory() as scratch:
        root = adapters_dir(args.models, Path(scratch), base)
        name = sorted(p.name for p in root.iterdir() if p.is_dir())[0]
        engine = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=2),
                               probe_inputs=((obs,), {}))
        engine.activate(name)
        peft = PeftModel.from_pretrained(copy.deepcopy(base), str(root / name)).eval()
        conditions = {
            'base': lambda: base(obs),
            'engine_with_adapter': lambda: engine.step(obs),
            'peft_with_adapter': lambda: peft(obs),
        }
        samples = {key: [] for key in conditions}
        with torch.inference_mode():
            for function in conditions.values():
                timed(function, 20)  # warm-up
            for _ in range(args.blocks):
                for key, function in conditions.items():
                    samples[key] += timed(function, args.per_block)
        engine.close()
    results = {key: {'p50_ms': percentile(values, 50), 'p99_ms': percentile(values, 99)}
               for key, values in samples.items()}
    report = {
        'parameters': parameter_count(base),
        'threads': 1,
        'budget_ms': BUDGET_MS,
        'adapter': name,
        'conditions': results,
        'engine_vs_peft_p50_ratio': results['engine_with_adapter']['p50_ms'] /
        results['peft_with_adapter']['p50_ms'],
        'within_budget': results['engine_with_adapter']['p99_ms'] <= BUDGET_MS,
        'machine': platform.processor() or platform.machine(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + '\n')
    for key, values in results.items():
        print(f'{key:22} p50 {values["p50_ms"]:.3f} ms  p99 {values["p99_ms"]:.3f} ms')
    print(f'{report["parameters"]} parameters; engine/PEFT p50 ratio '
          f'{report["engine_vs_peft_p50_ratio"]:.2f}; written to {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
