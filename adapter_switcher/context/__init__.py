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
The context policy, free of ROS: sensor features in, the adapter the situation needs out.

features: sensor readings to named features (FeatureExtractor, FeatureSnapshot); rules: the
YAML rules and their validation (load_rules); policy: the decision per snapshot with hysteresis
and dwell (ContextPolicy); predictor: the adapter likely to be needed next (NextAdapterPredictor,
TransitionModel); scenarios: scripted snapshot sequences for tests and benchmarks.
"""

from adapter_switcher.context.features import FEATURE_NAMES
from adapter_switcher.context.features import FeatureConfig
from adapter_switcher.context.features import FeatureExtractor
from adapter_switcher.context.features import FeatureSnapshot
from adapter_switcher.context.policy import ContextPolicy
from adapter_switcher.context.policy import Decision
from adapter_switcher.context.predictor import NextAdapterPredictor
from adapter_switcher.context.predictor import TransitionModel
from adapter_switcher.context.rules import ContextRules
from adapter_switcher.context.rules import load_rules
from adapter_switcher.context.rules import RulesError
from adapter_switcher.context.scenarios import SpillScenario

__all__ = [
    'ContextPolicy', 'ContextRules', 'Decision', 'FEATURE_NAMES', 'FeatureConfig',
    'FeatureExtractor', 'FeatureSnapshot', 'NextAdapterPredictor', 'RulesError',
    'SpillScenario', 'TransitionModel', 'load_rules',
]
