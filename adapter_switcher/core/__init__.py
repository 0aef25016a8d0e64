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
The ROS-free adapter engine: base model, adapter registry, tiered caches, swaps and prefetch.

Importing this package never imports rclpy: it runs (and is tested) on any machine with torch
and PEFT.
"""

from adapter_switcher.core.base_model import BaseModelSpec
from adapter_switcher.core.base_model import load_base_model
from adapter_switcher.core.base_model import model_fingerprint
from adapter_switcher.core.engine import AdapterEngine
from adapter_switcher.core.engine import AdapterInfo
from adapter_switcher.core.engine import BatchResult
from adapter_switcher.core.engine import EngineConfig
from adapter_switcher.core.engine import StepResult
from adapter_switcher.core.engine import SwapReport
from adapter_switcher.core.errors import AdapterError
from adapter_switcher.core.errors import AdapterRejected
from adapter_switcher.core.errors import BaseModelError
from adapter_switcher.core.errors import InvalidAdapterName
from adapter_switcher.core.errors import MixedBatchError
from adapter_switcher.core.errors import NoPreviousAdapter
from adapter_switcher.core.errors import ProbeFailed
from adapter_switcher.core.errors import SlotsBusy
from adapter_switcher.core.errors import UnknownAdapter
from adapter_switcher.core.follower import DecisionFollower
from adapter_switcher.core.prefetch import Prefetcher
from adapter_switcher.core.registry import ScanReport

__all__ = [
    'AdapterEngine', 'AdapterError', 'AdapterInfo', 'AdapterRejected', 'BaseModelError',
    'BaseModelSpec', 'BatchResult', 'DecisionFollower', 'EngineConfig', 'InvalidAdapterName',
    'MixedBatchError', 'NoPreviousAdapter', 'Prefetcher', 'ProbeFailed', 'ScanReport',
    'SlotsBusy', 'StepResult', 'SwapReport', 'UnknownAdapter', 'load_base_model',
    'model_fingerprint',
]
