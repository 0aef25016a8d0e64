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
Server-sized driving policies: the demo policy's input and output, wide hidden layers.

The demo policy (23k parameters) runs in microseconds, so a server's cost for it is all HTTP
hop. A policy worth a server is one too large to run on the robot at the control rate, whose
forward costs real time: one row's forward reads every weight once, and a batch of rows reads
them once for all, which is what batching on a server buys. The benchmark serves
:func:`build_served_policy`, 8192 wide (134M parameters, 537 MB in fp32, about GPT-2 small's
124M; one row costs about 20 ms on one CPU core, too slow for a robot's 20 Hz tick beside its
other work), and can serve the 4096-wide :func:`build_small_served_policy` (34M parameters,
135 MB) to show how the gain from batching shrinks with the forward's share of a request.
"""

from adapter_switcher.demo.policy_model import OBS_DIM

import torch
from torch import nn

HIDDEN = 8192
SMALL_HIDDEN = 4096
# The LoRA target modules of ServedPolicy.
TARGET_MODULES = ('fc1', 'fc2', 'fc3', 'head')


class ServedPolicy(nn.Module):
    """obs (N, OBS_DIM) -> raw action (N, 2), through three wide ReLU layers."""

    def __init__(self, obs_dim: int = OBS_DIM, hidden: int = HIDDEN):
        super().__init__()
        self.fc1 = nn.Linear(obs_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, 2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.fc1(obs))
        hidden = torch.relu(self.fc2(hidden))
        hidden = torch.relu(self.fc3(hidden))
        return self.head(hidden)


def build_served_policy(seed: int = 0, hidden: int = HIDDEN) -> ServedPolicy:
    """Return a ServedPolicy with a fixed initialisation, for ``model_factory``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ServedPolicy(hidden=hidden).eval()


def build_small_served_policy(seed: int = 0) -> ServedPolicy:
    """Return the 4096-wide ServedPolicy (34M parameters), for ``model_factory``."""
    return build_served_policy(seed, SMALL_HIDDEN)
