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
Malformed adapters beyond test_core_rejections' list, for the fuzz test and the bench.

Each breaker takes a valid PEFT adapter directory (and the adapters root, for escapes) and
damages one thing: the safetensors header (huge, out of bounds, overlapping, duplicate keys,
bad offsets), the tensors (zero-size, integer or boolean, overflowing or negative shapes, extra
or missing keys), the files (symlinks out of the adapters directory, empty or directory
weights), the name (unicode, too long) or the config (huge or invalid ``r``, a
``target_modules`` regex matching everything, ``modules_to_save``, DoRA-like variants, other
PEFT types). ``expected`` is a fragment of the reason the engine must give.
"""

import json
import os
from pathlib import Path
import struct
from typing import Callable, Dict, Tuple

from safetensors.torch import load_file
from safetensors.torch import save_file
import torch

WEIGHTS = 'adapter_model.safetensors'
CONFIG = 'adapter_config.json'


def _raw(path: Path):
    data = path.read_bytes()
    (length,) = struct.unpack('<Q', data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def _write_raw(path: Path, header, body: bytes, header_text: str = None) -> None:
    text = (header_text if header_text is not None else json.dumps(header)).encode()
    path.write_bytes(struct.pack('<Q', len(text)) + text + body)


def _edit_header(edit):
    def breaker(d, _root):
        header, body = _raw(d / WEIGHTS)
        body = edit(header, body)
        _write_raw(d / WEIGHTS, header, body)
    return breaker


def _first(header, part='lora_A'):
    return next(k for k in sorted(header) if part in k and k != '__metadata__')


def _offsets_out_of_bounds(header, body):
    key = _first(header)
    begin, end = header[key]['data_offsets']
    header[key]['data_offsets'] = [begin, len(body) + 64 + (end - begin)]
    return body


def _offsets_reversed(header, body):
    key = _first(header)
    begin, end = header[key]['data_offsets']
    header[key]['data_offsets'] = [end, begin]
    return body


def _offsets_overlapping(header, body):
    keys = sorted(k for k in header if k != '__metadata__')
    a, b = keys[0], keys[1]
    header[b]['data_offsets'] = list(header[a]['data_offsets'])
    header[b]['shape'] = list(header[a]['shape'])
    header[b]['dtype'] = header[a]['dtype']
    return body


def _set_tensor(key_part, dtype, shape_of=None):
    def edit(header, body):
        key = _first(header, key_part)
        header[key]['dtype'] = dtype
        if shape_of is not None:
            header[key]['shape'] = shape_of(header[key]['shape'])
        return body
    return edit


def _huge_header_length(d, _root):
    data = (d / WEIGHTS).read_bytes()
    (d / WEIGHTS).write_bytes(struct.pack('<Q', 1 << 62) + data[8:])


def _header_beyond_file(d, _root):
    data = (d / WEIGHTS).read_bytes()
    (d / WEIGHTS).write_bytes(struct.pack('<Q', len(data)) + data[8:])


def _header_not_json(d, _root):
    _, body = _raw(d / WEIGHTS)
    _write_raw(d / WEIGHTS, None, body, header_text='{"a": [1, 2')


def _header_is_a_list(d, _root):
    _, body = _raw(d / WEIGHTS)
    _write_raw(d / WEIGHTS, None, body, header_text='[1, 2, 3]')


def _header_duplicate_keys(d, _root):
    header, body = _raw(d / WEIGHTS)
    key = _first(header)
    entry = json.dumps(header[key])
    text = json.dumps(header)
    text = text[:-1] + f', "{key}": {entry}' + '}'
    _write_raw(d / WEIGHTS, None, body, header_text=text)


def _edit_tensors(edit):
    def breaker(d, _root):
        tensors = load_file(str(d / WEIGHTS))
        edit(tensors)
        save_file(tensors, str(d / WEIGHTS), metadata={'format': 'pt'})
    return breaker


def _key(tensors, part='lora_A'):
    return next(k for k in sorted(tensors) if part in k)


def _zero_size(tensors):
    key = _key(tensors)
    tensors[key] = torch.empty(0, tensors[key].shape[1])


def _as_dtype(dtype):
    def edit(tensors):
        key = _key(tensors, 'lora_B')
        tensors[key] = tensors[key].to(dtype)
    return edit


def _three_d(tensors):
    key = _key(tensors)
    tensors[key] = tensors[key].unsqueeze(0)


def _extra_tensor(tensors):
    tensors['base_model.model.transformer.h.0.attn.c_attn.lora_A.evil.weight'] = torch.ones(4, 64)


def _missing_b(tensors):
    del tensors[_key(tensors, 'lora_B')]


def _scalar(tensors):
    tensors[_key(tensors)] = torch.tensor(1.0)


def _edit_config(**changes):
    def breaker(d, _root):
        config = json.loads((d / CONFIG).read_text())
        config.update(changes)
        (d / CONFIG).write_text(json.dumps(config))
    return breaker


def _config_text(text):
    def breaker(d, _root):
        (d / CONFIG).write_text(text)
    return breaker


def _weights_symlink_out(d, root):
    outside = root.parent / f'outside_{d.name}.safetensors'
    os.replace(d / WEIGHTS, outside)
    (d / WEIGHTS).symlink_to(outside)


def _config_symlink_out(d, root):
    outside = root.parent / f'outside_{d.name}.json'
    os.replace(d / CONFIG, outside)
    (d / CONFIG).symlink_to(outside)


def _directory_symlink_out(d, root):
    outside = root.parent / f'outside_dir_{d.name}'
    os.replace(d, outside)
    d.symlink_to(outside, target_is_directory=True)


def _weights_empty(d, _root):
    (d / WEIGHTS).write_bytes(b'')


def _weights_is_a_directory(d, _root):
    (d / WEIGHTS).unlink()
    (d / WEIGHTS).mkdir()


def _rename(new_name):
    def breaker(d, _root):
        target = d.parent / new_name
        os.replace(d, target)
        return target
    return breaker


# name -> (breaker(directory, root) [-> new directory], fragment of the expected reason)
ADAPTER_CASES: Dict[str, Tuple[Callable, str]] = {
    'st_header_huge': (_huge_header_length, 'header'),
    'st_header_beyond_file': (_header_beyond_file, 'header'),
    'st_header_not_json': (_header_not_json, 'header'),
    'st_header_a_list': (_header_is_a_list, 'header'),
    'st_header_duplicate_keys': (_header_duplicate_keys, 'duplicate'),
    'st_offsets_out_of_bounds': (_edit_header(_offsets_out_of_bounds), 'offsets'),
    'st_offsets_reversed': (_edit_header(_offsets_reversed), 'offsets'),
    'st_offsets_overlapping': (_edit_header(_offsets_overlapping), 'overlap'),
    'st_unknown_dtype': (_edit_header(_set_tensor('lora_A', 'X9')), 'dtype'),
    'st_shape_overflow': (_edit_header(_set_tensor('lora_A', 'F32', lambda s: [1 << 62, 1 << 62])),
                          'offsets'),
    'st_shape_negative': (_edit_header(_set_tensor('lora_A', 'F32', lambda s: [-4, s[1]])),
                          'shape'),
    'st_dtype_swapped_for_size': (_edit_header(_set_tensor('lora_A', 'F64')), 'offsets'),
    'tensor_zero_size': (_edit_tensors(_zero_size), 'shape'),
    'tensor_int8': (_edit_tensors(_as_dtype(torch.int8)), 'dtype'),
    'tensor_bool': (_edit_tensors(_as_dtype(torch.bool)), 'dtype'),
    'tensor_int64': (_edit_tensors(_as_dtype(torch.int64)), 'dtype'),
    'tensor_three_d': (_edit_tensors(_three_d), 'shape'),
    'tensor_scalar': (_edit_tensors(_scalar), 'shape'),
    'tensor_extra_key': (_edit_tensors(_extra_tensor), 'evil'),
    'tensor_missing_lora_b': (_edit_tensors(_missing_b), 'lora_B'),
    'file_weights_symlink_out': (_weights_symlink_out, 'outside'),
    'file_config_symlink_out': (_config_symlink_out, 'outside'),
    'file_dir_symlink_out': (_directory_symlink_out, 'outside'),
    'file_weights_empty': (_weights_empty, 'safetensors'),
    'file_weights_directory': (_weights_is_a_directory, 'adapter_model.safetensors'),
    'name_unicode': (_rename('ha\u017eard\u2603'), 'adapter name'),
    'name_too_long': (_rename('n' * 250), 'longer than'),
    'name_leading_dot': (_rename('.hidden'), ''),
    'config_r_huge': (_edit_config(r=10 ** 9), 'rank'),
    'config_r_zero': (_edit_config(r=0), 'r'),
    'config_r_negative': (_edit_config(r=-4), 'r'),
    'config_r_string': (_edit_config(r='eight'), 'r'),
    'config_alpha_nan': (_config_text('{"peft_type": "LORA", "r": 4, "lora_alpha": NaN, '
                                      '"target_modules": ["c_attn", "c_fc"]}'), 'lora_alpha'),
    'config_target_regex_all': (_edit_config(target_modules='.*'), 'target'),
    'config_target_empty': (_edit_config(target_modules=[]), 'target'),
    'config_modules_to_save': (_edit_config(modules_to_save=['lm_head']), 'modules_to_save'),
    'config_use_dora_and_rslora': (_edit_config(use_dora=True, use_rslora=True), 'use_dora'),
    'config_bias_all': (_edit_config(bias='all'), 'bias'),
    'config_peft_type_prefix': (_edit_config(peft_type='PREFIX_TUNING'), 'peft_type'),
    'config_rank_pattern_huge': (_edit_config(rank_pattern={'c_fc': 100000}), 'rank'),
    'config_a_list': (_config_text('[1, 2, 3]'), 'config'),
    'config_huge': (_config_text('{"peft_type": "LORA", "r": 4, "lora_alpha": 8, '
                                 '"target_modules": ["c_attn", "c_fc"], "pad": "'
                                 + 'x' * (20 << 20) + '"}'), 'config'),
}
