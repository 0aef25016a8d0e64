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
Serving a fleet: the adapter engine behind Ray Serve, and the robots' client for it.

One deployment holds the frozen base model and an :class:`~adapter_switcher.core.AdapterEngine`;
each robot's tick is one request carrying its observation and its adapter id. Which mechanism
does what (docs/serve.md has the picture):

* **Multiplexing** (``serve_multiplexed_model_id`` header = adapter id, ``name`` or
  ``name@version``) is for *replica affinity*: Serve routes a request to a replica that already
  holds that adapter, and prefetch hints (``/warm``) load the predicted adapter on the replica
  that will then serve it.
* **In-body batching** (``@serve.batch``; the adapter id travels in the request body) forms
  *cross-adapter* batches: rows of many robots, each with its own adapter, run as one
  ``engine.step_batch`` forward.

Modules: :mod:`.wire` (the JSON request/response format, shared by both ends), :mod:`.settings`
(the application's arguments), :mod:`.batch_runner` (rows -> ``step_batch`` within the slot
budget), :mod:`.app` (the Ray Serve deployment), :mod:`.client` (the robot's HTTP client),
:mod:`.local` (a bounded single-node cluster) and :mod:`.cli` (``adapter-switcher serve``).
Only :mod:`.app` and :mod:`.local` import Ray: a robot needs the client alone.
"""
