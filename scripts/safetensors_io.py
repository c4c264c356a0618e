"""Minimal safetensors writer for the fixture generators (the `safetensors` package is not needed).

The format: an 8-byte little-endian header length, a JSON header mapping each tensor name to its
dtype, shape and [begin, end) byte offsets in the data section (plus an optional "__metadata__" of
string values), then the raw little-endian tensor bytes.
"""
import json
import struct

import numpy as np


def save_f32(path, tensors, metadata=None):
    """Writes {name: array} as F32 tensors, in sorted name order, with string metadata."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(np.asarray(tensors[name], dtype='<f4'))
        raw = data.tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(data.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)  # pad so that the data section starts 8-byte aligned
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
