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
The JSON wire format between robots and the policy server, shared by both ends.

A tick is ``POST <prefix>/act`` with ``{"inputs": [[...], ...], "adapter": ref | null}``: the
model input with the batch dimension first (one row per robot tick, usually), and the adapter id
in the body, so the server can put rows of different adapters into one batch. An adapter
reference is the registry's: ``name`` (the version the server's registry serves) or
``name@version`` (that version exactly). The same id goes
in the ``serve_multiplexed_model_id`` header, which Serve uses to route to a replica holding
that adapter. JSON keeps float32 values exact (a float32 widened to a double prints and parses
back to the same value), so served outputs equal local ones bit for bit.
"""

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from adapter_switcher.core.names import check_adapter_ref

import torch

MODEL_ID_HEADER = 'serve_multiplexed_model_id'
ACT = 'act'
WARM = 'warm'
STATS = 'stats'
DTYPES = {'float32': torch.float32, 'float64': torch.float64, 'int64': torch.int64}


class WireError(ValueError):
    """A request or response that does not follow the wire format; the message says how."""


def act_body(inputs: torch.Tensor, adapter: Optional[str]) -> dict:
    """Return the body of an ``act`` request for model input ``inputs`` (batch dim first)."""
    dtype = str(inputs.dtype).replace('torch.', '')
    if dtype not in DTYPES:
        raise WireError(f'inputs of dtype {dtype} cannot be sent; use one of {sorted(DTYPES)}')
    return {'inputs': inputs.tolist(), 'dtype': dtype, 'adapter': adapter}


@dataclass(frozen=True)
class ActRequest:
    """A parsed ``act`` request: the input rows and the adapter (None: the base alone)."""

    inputs: torch.Tensor
    adapter: Optional[str]


def parse_act(body: Any, header_id: str = '') -> ActRequest:
    """
    Parse an ``act`` body; raise WireError on anything malformed.

    The adapter comes from the body; a request with only the multiplexing header uses that.
    Both given and different is an error: the batch would run one, the routing assumed the other.
    """
    if not isinstance(body, Mapping):
        raise WireError('the body must be a JSON object with "inputs" and "adapter"')
    unknown = sorted(set(body) - {'inputs', 'dtype', 'adapter'})
    if unknown:
        raise WireError(f'unknown field(s) {unknown}; expected inputs, dtype, adapter')
    dtype = body.get('dtype', 'float32')
    if dtype not in DTYPES:
        raise WireError(f'dtype {dtype!r} is not one of {sorted(DTYPES)}')
    if 'inputs' not in body:
        raise WireError('missing "inputs" (the model input, batch dimension first)')
    try:
        inputs = torch.tensor(body['inputs'], dtype=DTYPES[dtype])
    except (TypeError, ValueError, RuntimeError) as error:
        raise WireError(f'"inputs" is not a rectangular array of numbers: {error}') from None
    if inputs.dim() < 1 or inputs.shape[0] < 1:
        raise WireError(f'"inputs" needs at least one row, got shape {tuple(inputs.shape)}')
    adapter = body.get('adapter')
    if adapter is None and header_id:
        adapter = header_id
    if adapter is not None and header_id and adapter != header_id:
        raise WireError(f'adapter {adapter!r} in the body but {header_id!r} in the '
                        f'{MODEL_ID_HEADER} header')
    if adapter is not None and not isinstance(adapter, str):
        raise WireError(f'"adapter" must be a string or null, got {type(adapter).__name__}')
    return ActRequest(inputs, None if adapter is None else check_adapter_ref(adapter))


def output_fields(output: Any) -> dict:
    """Return a model output tensor as the response's ``output`` and ``dtype`` fields."""
    if not isinstance(output, torch.Tensor):
        raise WireError(f'the model returned {type(output).__name__}; the server sends tensors')
    return {'output': output.tolist(), 'dtype': str(output.dtype).replace('torch.', '')}


def parse_output(response: Any) -> torch.Tensor:
    """Return the output tensor of an ``act`` response; raise WireError if it has none."""
    if not isinstance(response, Mapping) or 'output' not in response:
        raise WireError(f'not an act response: {str(response)[:120]}')
    dtype = response.get('dtype', 'float32')
    if dtype not in DTYPES:
        raise WireError(f'the response dtype {dtype!r} is not one of {sorted(DTYPES)}')
    try:
        return torch.tensor(response['output'], dtype=DTYPES[dtype])
    except (TypeError, ValueError, RuntimeError) as error:
        raise WireError(f'the response output is not an array of numbers: {error}') from None
