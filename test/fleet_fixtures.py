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

"""A small robot policy, its LoRA adapters, signing keys and bundles, for the fleet tests."""

import copy
from pathlib import Path
import time

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.fleet.bundle import pack_bundle
from adapter_switcher.fleet.bundle import sign_bundle
from adapter_switcher.fleet.controller import FleetController
from adapter_switcher.fleet.installer import Installer
from adapter_switcher.fleet.keys import generate_key_pair
from adapter_switcher.fleet.keys import Keyring
from adapter_switcher.fleet.keys import load_private_key
from adapter_switcher.fleet.policy import parse_policies
from adapter_switcher.fleet.store import VersionStore
from peft import get_peft_model
from peft import LoraConfig
from safetensors.torch import load_file
from safetensors.torch import save_file
import torch
from torch import nn

OBS = 12


class ReluPolicy(nn.Module):
    """A plain torch policy, as a robot user writes one."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Linear(OBS, 32)
        self.head = nn.Linear(32, 2)

    def forward(self, obs):
        return self.head(torch.relu(self.body(obs)))


def observations(count: int, seed: int = 0) -> list:
    """Return ``count`` different observation batches."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(1, OBS, generator=generator) for _ in range(count)]


def write_adapter(base: nn.Module, directory: Path, seed: int, scale: float = 1.0,
                  scaled: str = '') -> Path:
    """Save a PEFT LoRA adapter of ``base``; ``scale`` multiplies the weights named ``scaled``."""
    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=['body', 'head'],
                        init_lora_weights=False)
    get_peft_model(copy.deepcopy(base), config).save_pretrained(str(directory))
    if scale != 1.0:
        path = directory / 'adapter_model.safetensors'
        save_file({k: v * scale if scaled in k else v
                   for k, v in load_file(str(path)).items()}, str(path))
    return directory


class Workshop:
    """Where adapters are built and signed: keys, adapter directories, bundles."""

    def __init__(self, root: Path, base: nn.Module, fingerprint: str):
        self.root = root
        self.base = base
        self.fingerprint = fingerprint
        self.trusted = root / 'trusted'
        self.private, _ = generate_key_pair(self.trusted, 'release')
        (root / 'private').mkdir()
        self.private = self.private.rename(root / 'private' / 'release.key')

    def bundle(self, name: str, version: str, seed: int, scale: float = 1.0, scaled: str = '',
               key: Path = None, fingerprint: str = None) -> Path:
        """Return a signed bundle of a fresh adapter ``name@version``."""
        source = write_adapter(self.base, self.root / 'src' / f'{name}-{version}', seed, scale,
                               scaled)
        out = self.root / 'bundles' / f'{name}@{version}.adapter.tar'
        pack_bundle(source, out, version, name=name,
                    base_fingerprint=fingerprint or self.fingerprint)
        sign_bundle(out, load_private_key(key or self.private), 'release')
        return out


class Robot:
    """One robot's side: the engine over a version store, and the trusted keys."""

    def __init__(self, root: Path, base: nn.Module, trusted: Path, num_slots: int = 4):
        self.store = VersionStore(root / 'store')
        self.engine = AdapterEngine(base, [self.store.root], EngineConfig(num_slots=num_slots),
                                    probe_inputs=((torch.zeros(1, OBS),), {}))
        self.keyring = Keyring(trusted)


def make_fleet(tmp_path: Path, policies=None, key: str = 'robot-7', clock=None):
    """Return (robot, workshop, installer, controller) sharing one base and one key pair."""
    robot = Robot(tmp_path / 'robot', ReluPolicy(), tmp_path / 'shop' / 'trusted')
    (tmp_path / 'shop').mkdir(exist_ok=True)
    shop = Workshop(tmp_path / 'shop', ReluPolicy(), robot.engine.fingerprint)
    robot.keyring.reload()
    installer = Installer(robot.engine, robot.store, robot.keyring)
    controller = FleetController(robot.engine, robot.store, parse_policies(policies), key=key,
                                 clock=clock or time.monotonic)
    return robot, shop, installer, controller


def install(installer, controller, bundle: Path) -> str:
    """Install a bundle and apply the policy; return the controller's message."""
    return controller.on_installed(installer.install(bundle))
