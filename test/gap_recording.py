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

"""The real engine, recording every slice of background work it releases into an idle gap."""

import time

from adapter_switcher.core import AdapterEngine


class RecordingEngine(AdapterEngine):
    """The engine, recording when each slice of background work was released."""

    def __init__(self, *args, **kwargs):
        self.slices = []
        super().__init__(*args, **kwargs)

    def idle_slice(self, kind, amount):
        gate = super().idle_slice(kind, amount)
        slices = self.slices

        class Recorded:
            def __enter__(self):
                gate.__enter__()
                slices.append((kind, amount, time.perf_counter()))

            def __exit__(self, *exc):
                return gate.__exit__(*exc)

        return Recorded()
