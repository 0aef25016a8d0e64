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

Always: every output value finite. Optionally, when the adapter's manifest has a ``probe``
entry ``{"file": "probe.safetensors", "atol": 1e-4}``, the file's ``input`` tensor is run and
the output must match its ``output`` tensor within ``atol``, which catches an adapter that loads
cleanly but computes something else (wrong base, corrupted training).
"""

from typing import Any, Optional

from adapter_switcher.core.adapter_files import AdapterFiles
from adapter_switcher.core.adapter_files import AdapterFormatError
from adapter_switcher.core.safetensors_io import load_tensors

import torch

DEFAULT_ATOL = 1e-4


def manifest_probe(files: AdapterFiles):
    """Return ``(args, kwargs, expected, atol)`` from the manifest's probe, or None."""
    probe = files.manifest.probe if files.manifest else None
    if not probe:
        return None
    filename = probe.get('file') if isinstance(probe, dict) else None
    if not isinstance(filename, str) or '/' in filename or '..' in filename:
        raise AdapterFormatError(f'manifest probe.file {filename!r} is not a plain file name')
    tensors = load_tensors(str(files.directory / filename))
    if 'input' not in tensors or 'output' not in tensors:
        raise AdapterFormatError(f'{filename} must hold tensors named input and output')
    atol = float(probe.get('atol', DEFAULT_ATOL))
    return (tensors['input'],), {}, tensors['output'], atol


def output_tensor(output: Any) -> torch.Tensor:
    """Return the main tensor of a model output (a tensor, ``.logits``, or the first item)."""
    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, 'logits', None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(f'cannot find a tensor in a model output of type {type(output).__name__}')


def check_probe_output(output: Any, expected: Optional[torch.Tensor], atol: float):
    """Return None if the probe output is acceptable, else what is wrong with it."""
    tensor = output_tensor(output)
    finite = torch.isfinite(tensor)
    if not bool(finite.all()):
        return f'{int((~finite).sum())} of {tensor.numel()} output values are NaN or inf'
    if expected is None:
        return None
    if tensor.shape != expected.shape:
        return (f'output shape {list(tensor.shape)} differs from the expected '
                f'{list(expected.shape)}')
    diff = float((tensor.float() - expected.float()).abs().max())
    if diff > atol:
        return f'output differs from the expected probe output by {diff:.3g} (atol {atol:g})'
    return None
