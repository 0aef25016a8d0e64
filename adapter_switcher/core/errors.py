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
Errors the engine raises, one class per kind of refusal.

Every refusal leaves the engine as it was (the active adapter stays active, nothing on disk is
touched); the message names the adapter and the problem, so a ROS service or parameter callback
can hand it to the operator unchanged.
"""


class AdapterError(Exception):
    """A request about an adapter was refused; the engine is unchanged."""


class InvalidAdapterName(AdapterError):
    """The name could escape the adapter directories or is not a plain identifier."""


class UnknownAdapter(AdapterError):
    """No adapter of that name was found in the adapter directories."""


class AdapterRejected(AdapterError):
    """The adapter exists but failed validation; ``reason`` says why."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"adapter '{name}' rejected: {reason}")
        self.name = name
        self.reason = reason


class ProbeFailed(AdapterError):
    """The probe forward with a newly loaded adapter gave a bad output."""


class NoPreviousAdapter(AdapterError):
    """Rollback was asked for, but no adapter was active before the current one."""


class SlotsBusy(AdapterError):
    """Every resident slot holds an adapter that may not be evicted right now."""


class MixedBatchError(AdapterError):
    """A mixed-adapter batch cannot run as asked (too many adapters for the slots, layout)."""


class BaseModelError(Exception):
    """The base model could not be built or loaded from its specification."""
