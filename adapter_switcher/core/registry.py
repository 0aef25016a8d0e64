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
Discovering and validating adapters in one or more directories.

Each sub-directory that looks like an adapter is checked once, fully, when it is scanned:
files present and of accepted kinds (no pickle), manifest hashes, base fingerprint, config
readable by PEFT, targets and shapes against the base model, rank within the engine's maximum,
every weight finite. Accepted adapters become :class:`AdapterRecord`; every rejection is kept
with its reason, keyed by the directory it came from: two directories that claim one name are
both shown to the operator, the accepted one among the adapters and the rejected one under its
own path. A record remembers the weight file's identity (size, mtime, inode) so a later
load can tell the file changed since validation and validate it again instead of trusting it.

Versions: a directory named ``name@version`` (its manifest must declare that name and version)
is one version of ``name``, registered under that reference. Several versions of a name can be
registered at once; the plain ``name`` resolves to the version set with :meth:`serve` (or to
the only one), so a version manager can move what ``name`` means without touching directories.
"""

from dataclasses import dataclass
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from adapter_switcher.core.adapter_files import AdapterFiles
from adapter_switcher.core.adapter_files import AdapterFormatError
from adapter_switcher.core.adapter_files import check_inside
from adapter_switcher.core.adapter_files import is_adapter_dir
from adapter_switcher.core.adapter_files import locate_files
from adapter_switcher.core.adapter_files import read_lora_config
from adapter_switcher.core.adapter_files import verify_manifest_files
from adapter_switcher.core.errors import AdapterRejected
from adapter_switcher.core.errors import InvalidAdapterName
from adapter_switcher.core.errors import UnknownAdapter
from adapter_switcher.core.gap_slices import in_groups
from adapter_switcher.core.gap_slices import SLICE_BYTES
from adapter_switcher.core.gap_slices import Slices
from adapter_switcher.core.gap_slices import unpaced
from adapter_switcher.core.lora_plan import AdapterPlan
from adapter_switcher.core.lora_plan import AdapterPlanError
from adapter_switcher.core.lora_plan import plan_adapter
from adapter_switcher.core.names import check_adapter_name
from adapter_switcher.core.names import split_adapter_ref
from adapter_switcher.core.names import VERSION_SEPARATOR
from adapter_switcher.core.safetensors_io import load_tensors
from adapter_switcher.core.safetensors_io import read_header
from adapter_switcher.core.safetensors_io import SafetensorsFormatError

import torch
from torch import nn

FileIdentity = Tuple[int, int, int]


@dataclass(frozen=True)
class AdapterRecord:
    """An adapter that passed validation."""

    name: str
    files: AdapterFiles
    plan: AdapterPlan
    identity: FileIdentity
    nbytes: int

    @property
    def version(self) -> str:
        return self.files.manifest.version if self.files.manifest else ''

    @property
    def tags(self) -> List[str]:
        return list(self.files.manifest.tags) if self.files.manifest else []

    @property
    def rank(self) -> int:
        return self.plan.max_rank


@dataclass(frozen=True)
class ScanReport:
    """What a scan found: accepted and rejected names, and what changed since the last scan."""

    accepted: List[str]
    rejected: Dict[str, str]
    added: List[str]
    removed: List[str]


def file_identity(path: Path) -> FileIdentity:
    """Return (size, mtime_ns, inode): changes whenever the file is rewritten or replaced."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


class AdapterValidator:
    """Checks one adapter directory against the base model and the engine's limits."""

    def __init__(self, modules: Mapping[str, nn.Module], max_rank: int,
                 base_fingerprint: Optional[str]):
        self.modules = dict(modules)
        self.max_rank = max_rank
        self.base_fingerprint = base_fingerprint

    def validate(self, name: str, directory: Path, slices: Slices = unpaced,
                 tried: Optional[AdapterRecord] = None
                 ) -> Tuple[AdapterRecord, Dict[str, torch.Tensor]]:
        """
        Return the record and the loaded tensors; raise AdapterRejected with the reason.

        ``slices`` cuts the reading into pieces (one hash block, one tensor) for a caller
        that works in the control loop's idle gaps. ``tried`` is a record this validator
        accepted for the same files at another path (a staging directory renamed since): if
        the weight file is still that very file (same size, mtime and inode), its hash and
        tensors are not read again and no tensors are returned (if the manifest still lists
        the hash it was checked against); the small files are checked.
        """
        try:
            files = locate_files(directory)
            identity = file_identity(files.weights_path)
            same = (tried is not None and tried.identity == identity
                    and _weights_digest(tried.files) == _weights_digest(files))
            verify_manifest_files(files, slices, skip={files.weights_path.name} if same else ())
            self._check_fingerprint(files)
            config = read_lora_config(files.config_path)
            if same:
                tensors = {}
                entries, _ = read_header(str(files.weights_path))
                shapes = {k: tuple(e['shape']) for k, e in entries.items()}
            else:
                tensors = load_tensors(str(files.weights_path), slices)
                shapes = {k: tuple(v.shape) for k, v in tensors.items()}
            plan = plan_adapter(config, shapes, self.modules, self.max_rank)
            _check_finite(tensors, slices)
            self._check_saved_base_weights(plan, tensors)
        except (AdapterFormatError, AdapterPlanError, SafetensorsFormatError,
                InvalidAdapterName) as error:
            raise AdapterRejected(name, str(error)) from None
        except OSError as error:
            raise AdapterRejected(name, f'cannot read its files: {error}') from None
        nbytes = tried.nbytes if same else sum(t.nbytes for t in tensors.values())
        return AdapterRecord(name, files, plan, identity, nbytes), tensors

    def _check_saved_base_weights(self, plan: AdapterPlan,
                                  tensors: Mapping[str, torch.Tensor]) -> None:
        """
        Accept an embedding weight saved with the adapter only if it is the base model's own.

        PEFT's ``save_pretrained`` stores a targeted embedding's whole weight, for adapters
        trained with a resized vocabulary; the engine shares one base between all adapters.
        """
        for name, module_plan in plan.modules.items():
            if module_plan.base_key is None or module_plan.base_key not in tensors:
                continue
            saved = tensors[module_plan.base_key]
            if not torch.equal(saved.to(self.modules[name].weight.dtype),
                               self.modules[name].weight.detach()):
                raise AdapterFormatError(
                    f'saves its own {name} weights that differ from the base model (a resized '
                    'or retrained vocabulary); the engine runs one shared base: save the '
                    'adapter with save_embedding_layers=False')

    def _check_fingerprint(self, files: AdapterFiles) -> None:
        wanted = files.manifest.base_fingerprint if files.manifest else None
        if wanted and self.base_fingerprint and wanted != self.base_fingerprint:
            raise AdapterFormatError(
                f'trained for base {wanted[:19]}..., but this base is '
                f'{self.base_fingerprint[:19]}...')


def _weights_digest(files: AdapterFiles) -> Optional[str]:
    """Return the weight file's sha256 as the manifest lists it (None: not listed)."""
    return files.manifest.files.get(files.weights_path.name) if files.manifest else None


def _check_finite(tensors: Mapping[str, torch.Tensor], slices: Slices) -> None:
    for key, tensor in tensors.items():
        if not tensor.is_floating_point():
            raise AdapterFormatError(f'tensor {key} has dtype {str(tensor.dtype)[6:]}: LoRA '
                                     'weights are floating point')
    for keys, nbytes in in_groups(tensors, lambda k: tensors[k].nbytes, SLICE_BYTES):
        with slices('check', nbytes):
            finite = [bool(torch.isfinite(tensors[key]).all()) for key in keys]
        if not all(finite):
            key = keys[finite.index(False)]
            bad = int((~torch.isfinite(tensors[key])).sum())
            raise AdapterFormatError(f'tensor {key} has {bad} non-finite values (NaN or inf)')


class AdapterRegistry:
    """The adapters found in a list of directories, validated, with rejections and reasons."""

    def __init__(self, directories: Sequence[os.PathLike], validator: AdapterValidator):
        self.directories = [Path(d) for d in directories]
        self.validator = validator
        self._records: Dict[str, AdapterRecord] = {}
        # directory -> (the adapter name it declared, if it got that far; the reason)
        self._rejections: Dict[str, Tuple[Optional[str], str]] = {}
        self._served: Dict[str, str] = {}

    def scan(self) -> ScanReport:
        """Re-read every directory; the previous records stay valid objects for running loads."""
        records: Dict[str, AdapterRecord] = {}
        rejections: Dict[str, Tuple[Optional[str], str]] = {}
        for directory in self.directories:
            if not directory.is_dir():
                rejections[str(directory)] = (None, 'adapters directory does not exist')
                continue
            for candidate in sorted(p for p in directory.iterdir() if is_adapter_dir(p)):
                self._scan_one(candidate, records, rejections)
        before = set(self._records)
        self._records, self._rejections = records, rejections
        return ScanReport(sorted(records), self.rejections(), sorted(set(records) - before),
                          sorted(before - set(records)))

    def add(self, candidate: Path, tried: Optional[AdapterRecord] = None,
            slices: Slices = unpaced) -> AdapterRecord:
        """
        Validate one new directory and register it, leaving the other records as they are.

        ``tried`` and ``slices`` are passed to :meth:`AdapterValidator.validate`.
        """
        records, rejections = dict(self._records), {}
        self._scan_one(candidate, records, rejections, tried, slices)
        if rejections:
            path, (name, reason) = next(iter(rejections.items()))
            self._rejections[path] = (name, reason)
            raise AdapterRejected(name or path, reason)
        added = next(r for n, r in records.items() if n not in self._records)
        self._records = records
        return added

    def _scan_one(self, candidate: Path, records: Dict[str, AdapterRecord],
                  rejections: Dict[str, Tuple[Optional[str], str]],
                  tried: Optional[AdapterRecord] = None, slices: Slices = unpaced) -> None:
        name = candidate.name
        try:
            check_inside(candidate, candidate.parent)
            name = (_versioned_name(candidate) if VERSION_SEPARATOR in name
                    else _declared_name(candidate))
            if name in records:
                rejections[str(candidate)] = (None, f"duplicate adapter name '{name}': already "
                                                    f'provided by {records[name].files.directory}')
                return
            record, _ = self.validator.validate(name, candidate, slices, tried)
        except AdapterRejected as error:
            rejections[str(candidate)] = (name, error.reason)
        except (InvalidAdapterName, AdapterFormatError) as error:
            rejections[str(candidate)] = (None, str(error))
        else:
            records[name] = record

    def get(self, name: str) -> AdapterRecord:
        """
        Return the record of ``name`` or ``name@version``; raise UnknownAdapter or AdapterRejected.

        A plain name with registered versions resolves to the served version.
        """
        record = self._records.get(name)
        if record is not None:
            return record
        reasons = [(path, reason) for path, (rejected, reason) in sorted(self._rejections.items())
                   if rejected == name]
        if len(reasons) == 1:
            raise AdapterRejected(name, reasons[0][1])
        if reasons:
            raise AdapterRejected(name, '; '.join(f'{path}: {reason}' for path, reason in reasons))
        versions = self.versions(name) if VERSION_SEPARATOR not in name else []
        if versions:
            served = self._served.get(name)
            if served is not None and f'{name}@{served}' in self._records:
                return self._records[f'{name}@{served}']
            if len(versions) == 1:
                return self._records[f'{name}@{versions[0]}']
            raise UnknownAdapter(
                f"adapter '{name}' has versions {', '.join(versions)} and none is served: ask "
                f"for one as '{name}@<version>'")
        known = ', '.join(sorted(self._records)) or 'none'
        raise UnknownAdapter(f"unknown adapter '{name}' (known: {known})")

    def versions(self, name: str) -> List[str]:
        """Return the registered versions of ``name`` (from ``name@version`` directories)."""
        prefix = name + VERSION_SEPARATOR
        return sorted(ref[len(prefix):] for ref in self._records if ref.startswith(prefix))

    def serve(self, name: str, version: Optional[str]) -> None:
        """Make the plain ``name`` resolve to ``name@version`` (None: to the only version)."""
        if version is None:
            self._served.pop(name, None)
            return
        self.get(f'{name}{VERSION_SEPARATOR}{version}')
        self._served[name] = version

    def revalidate(self, name: str) -> Tuple[AdapterRecord, Dict[str, torch.Tensor]]:
        """Validate an adapter again because its files changed; update or reject the record."""
        record = self.get(name)
        try:
            fresh, tensors = self.validator.validate(name, record.files.directory)
        except AdapterRejected as error:
            raise self.reject(name, error.reason) from None
        self._records[name] = fresh
        return fresh, tensors

    def reject(self, name: str, reason: str) -> AdapterRejected:
        """Record that ``name`` failed after its scan (until the next scan); return the error."""
        record = self._records.pop(name, None)
        path = str(record.files.directory) if record is not None else name
        self._rejections[path] = (name, reason)
        return AdapterRejected(name, reason)

    def records(self) -> List[AdapterRecord]:
        return [self._records[k] for k in sorted(self._records)]

    def rejections(self) -> Dict[str, str]:
        """Return ``{directory: reason}`` of every rejected adapter directory."""
        return {path: reason for path, (_name, reason) in self._rejections.items()}

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except (UnknownAdapter, AdapterRejected):
            return False
        return True


def _declared_name(directory: Path) -> str:
    """Return the manifest's name if it declares one, else the directory name (both checked)."""
    try:
        files = locate_files(directory)
    except AdapterFormatError:
        return check_adapter_name(directory.name)
    if files.manifest is not None and files.manifest.name:
        return files.manifest.name
    return check_adapter_name(directory.name)


def _versioned_name(directory: Path) -> str:
    """Return ``name@version`` for a version directory whose manifest declares exactly that."""
    ref = directory.name
    name, version = split_adapter_ref(ref)
    try:
        manifest = locate_files(directory).manifest
    except AdapterFormatError as error:
        raise AdapterRejected(ref, str(error)) from None
    declared = f'{manifest.name}@{manifest.version}' if manifest else 'no manifest'
    if manifest is None or manifest.name != name or manifest.version != version:
        raise AdapterRejected(ref, f'version directory {ref} holds {declared}')
    return ref
