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
PEFT's LoRA config rules, without importing PEFT.

Importing ``peft`` imports ``transformers``: about 130 MB of resident memory on top of torch,
on a robot whose policy may be a plain torch module. The engine needs only three of PEFT's
rules: reading ``adapter_config.json``, deciding which modules it targets
(``check_target_module_exists``) and resolving ``rank_pattern``/``alpha_pattern``
(``get_pattern_key``). They are restated here line for line, and
``test/test_core_lora_config.py`` checks them against PEFT's own functions on many random
configs and module names. A setting this module does not know is refused when it is set, so a
newer PEFT feature can never be run as plain LoRA by mistake.
"""

from dataclasses import dataclass
import math
import re
from typing import Dict, FrozenSet, Optional, Tuple, Union

# LoraConfig fields (PEFT 0.21) that do not change what a saved adapter computes at inference.
INERT_FIELDS = frozenset({
    'task_type', 'peft_type', 'auto_mapping', 'peft_version', 'base_model_name_or_path',
    'revision', 'inference_mode', 'lora_dropout', 'fan_in_fan_out', 'init_lora_weights',
    'megatron_config', 'megatron_core', 'loftq_config', 'eva_config', 'corda_config',
    'lora_ga_config', 'use_qalora', 'qalora_group_size', 'runtime_config',
    'ensure_weight_tying'})
# LoraConfig fields that make PEFT compute something other than base(x) + B(A(x)) * scaling.
UNSUPPORTED_FIELDS = (
    'use_dora', 'velora_config', 'alora_invocation_tokens', 'monteclora_config', 'use_bdlora',
    'arrow_config', 'kasa_config', 'lora_bias', 'modules_to_save', 'trainable_token_indices',
    'target_parameters', 'layer_replication')
UNSUPPORTED_VALUES = {'init_lora_weights': ('mica',)}
RULE_FIELDS = ('r', 'lora_alpha', 'target_modules', 'exclude_modules', 'layers_to_transform',
               'layers_pattern', 'rank_pattern', 'alpha_pattern', 'use_rslora', 'bias')

Targets = Union[None, str, FrozenSet[str]]


class LoraConfigError(ValueError):
    """``adapter_config.json`` holds something a LoraConfig cannot."""


@dataclass(frozen=True)
class LoraSettings:
    """What a LoRA adapter's config says about where it applies and how it scales."""

    r: int = 8
    lora_alpha: float = 8
    target_modules: Targets = None
    exclude_modules: Targets = None
    layers_to_transform: Union[None, int, Tuple[int, ...]] = None
    layers_pattern: Union[None, str, Tuple[str, ...]] = None
    rank_pattern: Tuple[Tuple[str, int], ...] = ()
    alpha_pattern: Tuple[Tuple[str, float], ...] = ()
    use_rslora: bool = False
    bias: str = 'none'
    unsupported: Tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Dict) -> 'LoraSettings':
        """Read a parsed ``adapter_config.json``; raise LoraConfigError naming the field."""
        unsupported = [name for name in UNSUPPORTED_FIELDS if raw.get(name)]
        unsupported += [f'{name}={raw[name]!r}' for name, values in UNSUPPORTED_VALUES.items()
                        if isinstance(raw.get(name), str) and raw[name] in values]
        if raw.get('bias', 'none') != 'none':
            unsupported.append(f"bias={raw['bias']!r}")
        known = INERT_FIELDS | set(UNSUPPORTED_FIELDS) | set(RULE_FIELDS)
        unsupported += sorted(f'{name} (unknown setting)' for name in set(raw) - known
                              if raw[name])
        settings = cls(
            r=_integer(raw, 'r', 8),
            lora_alpha=_number(raw, 'lora_alpha', 8),
            target_modules=_targets(raw, 'target_modules'),
            exclude_modules=_targets(raw, 'exclude_modules'),
            layers_to_transform=_layers(raw.get('layers_to_transform')),
            layers_pattern=_patterns(raw.get('layers_pattern')),
            rank_pattern=_pattern(raw, 'rank_pattern', _is_int),
            alpha_pattern=_pattern(raw, 'alpha_pattern', _is_number),
            use_rslora=bool(raw.get('use_rslora', False)),
            bias=str(raw.get('bias', 'none')),
            unsupported=tuple(unsupported))
        settings._check_combinations()
        return settings

    def _check_combinations(self) -> None:
        """Refuse what PEFT's LoraConfig.__post_init__ refuses about module matching."""
        if isinstance(self.target_modules, str) and self.layers_to_transform is not None:
            raise LoraConfigError('`layers_to_transform` cannot be used when `target_modules` '
                                  'is a str.')
        if isinstance(self.target_modules, str) and self.layers_pattern is not None:
            raise LoraConfigError('`layers_pattern` cannot be used when `target_modules` is a '
                                  'str.')
        if self.layers_pattern and self.layers_to_transform is None:
            raise LoraConfigError('When `layers_pattern` is specified, `layers_to_transform` '
                                  'must also be specified.')

    def targets(self, key: str) -> bool:
        """Return whether module ``key`` is adapted, as check_target_module_exists says."""
        if self.exclude_modules:
            if isinstance(self.exclude_modules, str):
                if re.fullmatch(self.exclude_modules, key):
                    return False
            elif key in self.exclude_modules or any(
                    key.endswith(f'.{exclude}') for exclude in self.exclude_modules):
                return False
        if self.target_modules is None:
            return False
        if isinstance(self.target_modules, str):
            return re.fullmatch(self.target_modules, key) is not None
        if key in self.target_modules:
            return True
        if not any(key.endswith(f'.{target}') for target in self.target_modules):
            return False
        indexes = self.layers_to_transform
        if indexes is None or indexes == ():
            return True
        index = self._layer_index(key)
        if index is None:
            return False
        return index == indexes if isinstance(indexes, int) else index in indexes

    def _layer_index(self, key: str) -> Optional[int]:
        match = None
        if not self.layers_pattern:
            match = re.match(r'.*?\.[^.]*\.(?P<idx>\d+)\.', key)
        else:
            patterns = ((self.layers_pattern,) if isinstance(self.layers_pattern, str)
                        else self.layers_pattern)
            for pattern in patterns:
                match = re.match(rf'(?:^|.*?\.){pattern}\.(?P<idx>\d+)\.', key)
                if match is not None:
                    break
        if match is None or match.groupdict().get('idx') is None:
            return None
        return int(match.group('idx'))

    def rank_of(self, key: str) -> int:
        """Return the module's rank: ``rank_pattern`` resolved as PEFT's get_pattern_key does."""
        return _resolve(self.rank_pattern, key, self.r)

    def alpha_of(self, key: str):
        """Return the module's alpha: ``alpha_pattern`` resolved as PEFT does."""
        return _resolve(self.alpha_pattern, key, self.lora_alpha)


def _resolve(pattern: Tuple[Tuple[str, object], ...], key: str, default):
    for pattern_key, value in pattern:
        if re.match(rf'(.*\.)?({pattern_key})$', key):
            return value
    return default


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(raw: Dict, name: str, default: int) -> int:
    value = raw.get(name, default)
    if not _is_int(value):
        raise LoraConfigError(f'{name} must be an integer, got {value!r}')
    return value


def _number(raw: Dict, name: str, default: float) -> float:
    value = raw.get(name, default)
    if not _is_number(value):
        raise LoraConfigError(f'{name} must be a number, got {value!r}')
    if not math.isfinite(value):
        raise LoraConfigError(f'{name} must be finite, got {value!r}')
    return value


def _targets(raw: Dict, name: str) -> Targets:
    value = raw.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise LoraConfigError(f'{name} must be a string or a list of strings, got {value!r}')


def _layers(value) -> Union[None, int, Tuple[int, ...]]:
    if value is None or _is_int(value):
        return value
    if isinstance(value, list) and all(_is_int(v) for v in value):
        return tuple(value)
    raise LoraConfigError(f'layers_to_transform must be an integer or a list of integers, '
                          f'got {value!r}')


def _patterns(value) -> Union[None, str, Tuple[str, ...]]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise LoraConfigError(f'layers_pattern must be a string or a list of strings, got {value!r}')


def _pattern(raw: Dict, name: str, valid) -> Tuple[Tuple[str, object], ...]:
    value = raw.get(name) or {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and valid(v) for k, v in value.items()):
        raise LoraConfigError(f'{name} must map module patterns to numbers, got {value!r}')
    return tuple(value.items())
