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
The probe forward a newly loaded adapter must pass before it may become active.

Model outputs come in any structure: a tensor, a transformers ``ModelOutput``, a dict, nested
tuples and lists. They are flattened with ``torch.utils._pytree`` (which knows ``ModelOutput``),
so nothing guesses a field such as ``logits``. Always: every floating-point tensor in the
output is finite. Optionally, when the adapter's manifest has a ``probe`` entry
``{"file": "probe.safetensors", "atol": 1e-4}``, the file's ``input`` tensor is run and the
output must have the same structure as the file records and match it within ``atol``, which
catches an adapter that loads cleanly but computes something else (wrong base, corrupted
training). The file names each output tensor by its path in the structure: ``output`` for a
bare tensor, ``output['logits']``, ``output[0][1]`` and so on (:func:`probe_tensors` writes
it).
"""

from typing import Any, Dict, Optional

from adapter_switcher.core.adapter_files import AdapterFiles
from adapter_switcher.core.adapter_files import AdapterFormatError
from adapter_switcher.core.safetensors_io import load_tensors

import torch
from torch.utils import _pytree as pytree

DEFAULT_ATOL = 1e-4
OUTPUT = 'output'


def output_tensors(output: Any) -> Dict[str, torch.Tensor]:
    """Return every tensor of a model output by its path: ``{"output['logits']": tensor}``."""
    leaves, _ = pytree.tree_flatten_with_path(output)
    return {OUTPUT + pytree.keystr(path): leaf for path, leaf in leaves
            if isinstance(leaf, torch.Tensor)}


def probe_tensors(probe_input: torch.Tensor, output: Any) -> Dict[str, torch.Tensor]:
    """Return the tensors a manifest probe file holds for this input and its expected output."""
    tensors = {'input': probe_input}
    tensors.update((k, v.detach().contiguous()) for k, v in output_tensors(output).items())
    return tensors


def manifest_probe(files: AdapterFiles):
    """Return ``(args, kwargs, expected, atol)`` from the manifest's probe, or None."""
    probe = files.manifest.probe if files.manifest else None
    if not probe:
        return None
    filename = probe.get('file') if isinstance(probe, dict) else None
    if not isinstance(filename, str) or '/' in filename or '..' in filename:
        raise AdapterFormatError(f'manifest probe.file {filename!r} is not a plain file name')
    tensors = load_tensors(str(files.directory / filename))
    expected = {k: v for k, v in tensors.items() if k.startswith(OUTPUT)}
    if 'input' not in tensors or not expected:
        raise AdapterFormatError(
            f'{filename} must hold a tensor named input and the output tensors (output, '
            "output['logits'], ...)")
    atol = float(probe.get('atol', DEFAULT_ATOL))
    return (tensors['input'],), {}, expected, atol


def check_probe_output(output: Any, expected: Optional[Dict[str, torch.Tensor]], atol: float):
    """Return None if the probe output is acceptable, else what is wrong with it."""
    tensors = output_tensors(output)
    floating = {k: v for k, v in tensors.items() if v.is_floating_point() or v.is_complex()}
    if not floating:
        return f'the model output ({type(output).__name__}) holds no floating-point tensor'
    for path, tensor in floating.items():
        finite = torch.isfinite(tensor)
        if not bool(finite.all()):
            return (f'{int((~finite).sum())} of {tensor.numel()} values of {path} are NaN '
                    'or inf')
    if expected is None:
        return None
    if set(tensors) != set(expected):
        return (f'output structure {sorted(tensors)} differs from the expected '
                f'{sorted(expected)}')
    for path, tensor in tensors.items():
        want = expected[path]
        if tensor.shape != want.shape:
            return (f'{path} shape {list(tensor.shape)} differs from the expected '
                    f'{list(want.shape)}')
        diff = float((tensor.double() - want.double()).abs().max()) if tensor.numel() else 0.0
        if not diff <= atol:
            return (f'{path} differs from the expected probe output by {diff:.3g} '
                    f'(atol {atol:g})')
    return None
