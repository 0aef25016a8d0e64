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
Following the context policy: request the adapter it wants, prefetch the one it predicts.

This is the whole coupling between a context decision and the engine, kept out of any ROS
node so that the inference node, the benchmarks and the tests all follow decisions the same way.
"""

from typing import Optional

from adapter_switcher.core.engine import AdapterEngine
from adapter_switcher.core.prefetch import Prefetcher


class DecisionFollower:
    """Turns (desired, predicted, confidence) decisions into requests and prefetch targets."""

    def __init__(self, engine: AdapterEngine, prefetcher: Optional[Prefetcher] = None):
        self.engine = engine
        self.prefetcher = prefetcher

    def follow(self, desired: str, predicted: str, confidence: float) -> None:
        """
        Request ``desired`` unless the engine runs it or runs it next; prefetch ``predicted``.

        A desired adapter that is already active cancels any other pending request. Raises
        AdapterError for a desired adapter the engine does not know (the engine keeps running
        the active one); an unknown predicted adapter is ignored by the prefetcher.
        """
        if desired != (self.engine.pending() or self.engine.active):
            self.engine.request(desired)
        if self.prefetcher is not None:
            targets = [(predicted, confidence)] if predicted != desired else []
            self.prefetcher.retarget(targets)
