#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora, tests/fuzz/corpus/<target>/ (see tests/fuzz/*.cpp for each
target's input layout): small valid files of every form each reader accepts, and a few malformed ones.
Python's standard library only (the images are written by hand). Run from anywhere;
the output is committed, so this is needed only to change the seeds."""
import gzip
import json
import os
import shutil
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, 'tests', 'fuzz', 'corpus')
SHARED = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')


def put(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, name), 'wb') as f:
        f.write(data)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def safetensors(tensors, metadata=None):
    """tensors: {name: (dtype, shape, raw bytes)}, laid out in name order."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = metadata
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + b''.join(blobs)


def f32(*values):
    return struct.pack('<%df' % len(values), *values)


def safetensors_seeds():
    put('safetensors', 'f32.safetensors', safetensors({'a': ('F32', [2, 2], f32(1, 2, 3, 4)), 'b': ('F32', [], f32(5))}))
    put('safetensors', 'dtypes.safetensors', safetensors({
        'f16': ('F16', [2], struct.pack('<2H', 0x3c00, 0x0001)), 'bf16': ('BF16', [2], struct.pack('<2H', 0x3f80, 0x7f80)),
        'f64': ('F64', [1], struct.pack('<d', 0.5)), 'i64': ('I64', [1], struct.pack('<q', -3)),
        'i32': ('I32', [1], struct.pack('<i', 7)), 'i16': ('I16', [1], struct.pack('<h', -2)),
        'i8': ('I8', [2], b'\x80\x7f'), 'u8': ('U8', [2], b'\x00\xff'), 'empty': ('F32', [0, 3], b'')},
        {'format': 'pt'}))
    config = {'img_size': 8, 'patch_size': 4, 'in_chans': 3, 'num_classes': 2, 'embed_dim': 8, 'depth': 1,
              'num_heads': 2, 'mlp_ratio': 2.0}
    pre = {'channels': 3, 'height': 8, 'width': 8, 'interpolation': 'bicubic', 'resize_mode': 'shorter_side_crop',
           'crop_pct': 0.9, 'mean': [0.5, 0.5, 0.5], 'std': [0.5, 0.5, 0.5]}
    native = {'vit.format_version': '1', 'vit.config': json.dumps(config), 'vit.labels': json.dumps(['cat', 'dog']),
              'vit.preprocess': json.dumps(pre)}
    put('safetensors', 'native.safetensors', safetensors({'head.bias': ('F32', [2], f32(0, 0))}, native))
    put('safetensors', 'native_train_state.safetensors', safetensors(
        {'optimizer.exp_avg.head.bias': ('F32', [2], f32(0, 0))}, dict(native, **{'vit.train_state': '{"step":1}'})))
    put('safetensors', 'empty_header.safetensors', safetensors({}))
    good = safetensors({'a': ('F32', [2], f32(1, 2))})
    put('safetensors', 'bad_truncated.safetensors', good[:-3])
    put('safetensors', 'bad_header_length.safetensors', struct.pack('<Q', 1 << 40) + good[8:])
    put('safetensors', 'bad_offsets.safetensors', safetensors({'a': ('F32', [4], f32(1, 2))}))
    put('safetensors', 'bad_json.safetensors', struct.pack('<Q', 5) + b'{"a":')


def timm_seeds():
    for d in ['timm-vit-small32', 'timm-vit-tiny-patch16-224']:
        put('timm_config', d + '.json', read(os.path.join(SHARED, d, 'config.json')))
    hub = os.path.join(SHARED, 'timm-hub')
    for d in sorted(os.listdir(hub)):
        if os.path.isdir(os.path.join(hub, d)):
            put('timm_config', 'hub-' + d + '.json', read(os.path.join(hub, d, 'config.json')))
    put('timm_config', 'hub_labels.json', json.dumps({
        'architecture': 'vit_tiny_patch16_224', 'num_classes': 2, 'global_pool': 'avg',
        'model_args': {'img_size': 32, 'depth': 2, 'reg_tokens': 1},
        'pretrained_cfg': {'input_size': [3, 32, 32], 'interpolation': 'bilinear', 'crop_pct': 1.0,
                           'crop_mode': 'squash', 'mean': [0.1, 0.2, 0.3], 'std': [0.2, 0.2, 0.2],
                           'label_names': {'0': 'a', '1': 'b'}}}))
    put('timm_config', 'kwargs_variants.json', json.dumps({
        'img_size': [32, 48], 'patch_size': 8, 'in_chans': 1, 'num_classes': 0, 'embed_dim': 32, 'depth': 2,
        'num_heads': 4, 'class_token': False, 'global_pool': 'map', 'act_layer': 'quick_gelu', 'no_embed_class': True,
        'pre_norm': True, 'init_values': 1e-5, 'fc_norm': True, 'norm_eps': 1e-5, 'qkv_bias': False,
        'label_names': [], 'pretrained_cfg': {'input_size': [1, 32, 48], 'crop_mode': 'border'}}))
    put('timm_config', 'bad_model_args.json', '{"architecture": "vit_tiny_patch16_224", "model_args": [1]}')
    put('timm_config', 'bad_architecture.json', '{"architecture": "vit_nonexistent_patch3"}')
    put('timm_config', 'bad_depth.json', '{"depth": 100000000, "embed_dim": 1000000000}')
    put('timm_config', 'bad_json.json', '{"depth": ')


def hf_seeds():
    base = os.path.join(SHARED, 'hf-vit-small32')
    cfg = read(os.path.join(base, 'config.json'))
    pre = read(os.path.join(ROOT, 'tests', 'data', 'hf-vit-small32', 'preprocessor_config.json'))
    put('hf_config', 'vit_small32_with_preprocessor', cfg + b'\0' + pre)
    put('hf_config', 'vit_small32_without_preprocessor', cfg)
    small = json.loads(cfg)
    deit = dict(small, model_type='deit', architectures=['DeiTForImageClassificationWithTeacher'])
    put('hf_config', 'deit_teacher', json.dumps(deit))
    dino = {'architectures': ['Dinov2Model'], 'hidden_size': 32, 'num_hidden_layers': 1, 'num_attention_heads': 2,
            'image_size': 56, 'patch_size': 14, 'mlp_ratio': 4, 'layerscale_value': 1.0, 'use_swiglu_ffn': False}
    put('hf_config', 'dinov2_no_model_type', json.dumps(dino) + '\0' + json.dumps(
        {'crop_size': {'height': 28, 'width': 28}, 'size': {'shortest_edge': 32}, 'resample': 3,
         'image_mean': [0.4, 0.4, 0.4], 'image_std': [0.2, 0.2, 0.2], 'do_center_crop': True}))
    put('hf_config', 'dinov2_registers', json.dumps(dict(dino, model_type='dinov2_with_registers', num_register_tokens=4)))
    put('hf_config', 'bad_model_type', '{"model_type": "swin"}')
    put('hf_config', 'bad_id2label', json.dumps(dict(small, id2label={'0': 'a', '5': 'b'})))
    put('hf_config', 'bad_preprocessor', cfg + b'\0{"size": "big"}')


def cifar_seeds():
    def record(labels, seed):
        return bytes(labels) + bytes((seed * 7 + i * 13) % 256 for i in range(3072))
    put('cifar', 'cifar10_two_records', b'\x00' + record([3], 1) + record([9], 2))
    put('cifar', 'cifar10_val_split', b'\x04' + record([0], 1) + record([1], 2) + record([2], 3) + record([3], 4))
    put('cifar', 'cifar100_fine', b'\x01' + record([1, 42], 1) + record([19, 99], 2))
    put('cifar', 'cifar100_coarse', b'\x03' + record([1, 42], 1) + record([19, 99], 2))
    put('cifar', 'bad_length', b'\x00' + record([3], 1)[:-1])
    put('cifar', 'bad_label', b'\x00' + record([10], 1))


def idx_seeds():
    def pair(n, rows, cols, labels, no_test=False):
        images = struct.pack('>IIII', 0x803, n, rows, cols) + bytes(i % 256 for i in range(n * rows * cols))
        lab = struct.pack('>II', 0x801, len(labels)) + bytes(labels)
        return images, lab

    def seed(images, lab, no_test=False):
        return struct.pack('>H', len(images) | (0x8000 if no_test else 0)) + images + lab
    put('idx', 'two_4x4', seed(*pair(2, 4, 4, [3, 7])))
    put('idx', 'val_split_5x3', seed(*pair(4, 5, 3, [0, 1, 2, 9]), no_test=True))
    images, lab = pair(3, 4, 4, [1, 2, 3])
    put('idx', 'gzipped', seed(gzip.compress(images, mtime=0), gzip.compress(lab, mtime=0)))
    put('idx', 'bad_magic', seed(b'\0\0\x08\x01' + images[4:], lab))
    put('idx', 'bad_count', seed(*pair(2, 4, 4, [3])))
    put('idx', 'bad_label', seed(*pair(1, 4, 4, [10])))


def png(width, height, color_type, bit_depth, pixel):
    """A PNG of pixel(x, y) -> bytes of one pixel, filter 0 on every row."""
    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))
    raw = b''.join(b'\0' + b''.join(pixel(x, y) for x in range(width)) for y in range(height))
    ihdr = struct.pack('>IIBBBBB', width, height, bit_depth, color_type, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')


def bmp(width, height):
    """A 24-bit BMP, rows bottom-up, each padded to 4 bytes."""
    row = (3 * width + 3) // 4 * 4
    pixels = b''.join(bytes((x * 40 % 256, y * 50 % 256, 90) * 1)[:3] for y in range(height) for x in range(width))
    rows = b''.join(pixels[3 * width * y:3 * width * (y + 1)].ljust(row, b'\0') for y in reversed(range(height)))
    info = struct.pack('<IiiHHIIiiII', 40, width, height, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    return b'BM' + struct.pack('<IHHI', 14 + 40 + len(rows), 0, 0, 54) + info + rows


def image_seeds():
    frog = read(os.path.join(ROOT, 'tests', 'data', 'preprocess', 'cifar_frog.jpg'))
    rgb = lambda x, y: bytes((x * 30 % 256, y * 40 % 256, (x + y) * 20 % 256))
    # (name, the 4 preprocessing bytes of tests/fuzz/image.cpp, the image file)
    images = [
        ('frog.jpg', b'\x01\x00\x08\x08', frog),
        ('frog_as_gray.jpg', b'\x00\x05\x10\x07', frog),
        ('rgb.png', b'\x01\x42\x05\x0c', png(9, 7, 2, 8, rgb)),
        ('gray.png', b'\x00\x83\x20\x20', png(12, 16, 0, 8, lambda x, y: bytes((x * y % 256,)))),
        ('rgba.png', b'\x01\x06\x03\x03', png(8, 8, 6, 8, lambda x, y: rgb(x, y) + bytes((x * 32 % 256,)))),
        ('rgb16.png', b'\x01\x07\x3f\x00', png(5, 6, 2, 16, lambda x, y: rgb(x, y) * 2)),
        ('gray_alpha.png', b'\x00\x01\x02\x02', png(4, 4, 4, 8, lambda x, y: bytes((x * 60, y * 60)))),
        ('rgb.bmp', b'\x01\x04\x06\x06', bmp(7, 5)),
        ('gray.pgm', b'\x00\x02\x04\x09', b'P5 6 6 255\n' + bytes(range(0, 216, 6))),
        ('rgb.ppm', b'\x01\x03\x0a\x0b', b'P6 3 2 255\n' + bytes(range(0, 180, 10))),
        ('bad_truncated.jpg', b'\x01\x00\x08\x08', frog[:len(frog) // 2]),
        ('bad_not_an_image', b'\x01\x00\x08\x08', b'not an image at all'),
    ]
    for name, prefix, data in images:
        put('image', name, prefix + data)


if __name__ == '__main__':
    shutil.rmtree(CORPUS, ignore_errors=True)
    safetensors_seeds()
    timm_seeds()
    hf_seeds()
    cifar_seeds()
    idx_seeds()
    image_seeds()
