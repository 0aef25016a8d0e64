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
Adapter versions for a fleet: signed bundles, the on-robot store, the inbox, and promotion.

ROS-free, built on the engine's public API (the engine knows nothing of bundles): the
registry only learns that ``name@version`` directories exist and which version the plain
name serves. See docs/fleet.md.
"""
