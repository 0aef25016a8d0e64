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
A server-sized driving policy: the demo policy's input and output, 4096-wide hidden layers.

The demo policy (23k parameters) runs in microseconds, so a server's cost for it is all HTTP
hop. A policy worth a server is one whose forward costs real time: this one has about 34M
parameters (135 MB in fp32, a small visuomotor policy's size), so one row's forward reads
every weight once and a batch of rows reads them once for all, which is what batching on a
server buys. The benchmark serves it.
"""

from adapter_switcher.demo.policy_model import OBS_DIM

import torch
from torch import nn

HIDDEN = 4096
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


def build_served_policy(seed: int = 0) -> ServedPolicy:
    """Return a ServedPolicy with a fixed initialisation, for ``model_factory``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ServedPolicy().eval()
