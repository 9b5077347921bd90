"""Bad input: truncated, bit-flipped and malformed files raise the right UnweightError subclass
with a message naming the file, never another exception, and never crash the interpreter."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import read_raw, write_raw

import unweight
import unweight.numpy as unp


@pytest.fixture(scope="module")
def small_compressed(tmp_path_factory):
    """A small compressed file (two blobs and passthrough tensors) and its original tensors."""
    from conftest import bf16_weights

    d = tmp_path_factory.mktemp("small")
    src = d / "src.safetensors"
    write_raw(src, {
        "a.mlp.up_proj.weight": ("BF16", (64, 96), bf16_weights(64, 96, 7).tobytes()),
        "a.norm.weight": ("F32", (16,), np.arange(16, dtype="<f4").tobytes()),
        "b.mlp.down_proj.weight": ("BF16", (96, 64), bf16_weights(96, 64, 8).tobytes()),
    }, metadata={"format": "pt"})
    out = d / "c.safetensors"
    unweight.compress_file(src, out, progress=False)
    raw, _ = read_raw(src)
    return out, {k: v[2] for k, v in raw.items()}


def load_all(path):
    return {k: v.tobytes() for k, v in unp.load_file(path).items()}


def test_every_truncation_is_a_corrupt_file_error(small_compressed, tmp_path):
    path, _ = small_compressed
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    cuts = sorted({0, 1, 7, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1, 8 + n + 64, len(data) // 2, len(data) - 64, len(data) - 1})
    for cut in cuts:
        p = tmp_path / f"cut{cut}.safetensors"
        p.write_bytes(data[:cut])
        with pytest.raises(unweight.CorruptError) as err:
            unweight.safe_open(p, "np")
        assert str(p) in str(err.value), err.value
        assert err.value.status in ("UW_ERR_CORRUPT", "UW_ERR_LIMIT"), (cut, err.value)


def test_truncated_plain_file_is_corrupt(sample, tmp_path):
    p = tmp_path / "t.safetensors"
    p.write_bytes(open(sample, "rb").read()[:-1000])
    with pytest.raises(unweight.CorruptError, match="t.safetensors"):
        unp.load_file(p)


def test_bit_flips_anywhere_load_exactly_or_raise_unweight_errors(small_compressed, tmp_path):
    """Over the header, the blob headers and indexes and the payloads: a flipped bit either leaves
    the file loading exactly the original tensors (a flip in JSON padding) or raises an
    UnweightError subclass; the checksums leave no third outcome."""
    path, original = small_compressed
    data = path.read_bytes()
    rng = np.random.default_rng(2024)
    positions = list(range(0, 8)) + list(rng.integers(8, len(data), size=300))
    p = tmp_path / "flip.safetensors"
    exact = failed = 0
    for pos in positions:
        d = bytearray(data)
        d[pos] ^= 1 << int(rng.integers(0, 8))
        p.write_bytes(bytes(d))
        try:
            got = load_all(p)
        except unweight.UnweightError as e:
            assert type(e) in (unweight.CorruptError, unweight.ChecksumError, unweight.LimitError,
                               unweight.UnsupportedError), (pos, e)
            failed += 1
        else:
            assert got == original, f"flip at {pos} loaded different tensors without an error"
            exact += 1
    assert failed > 250  # nearly every flip is caught


def test_not_a_safetensors_file(tmp_path):
    for content in (b"", b"hello", b"\xff" * 8 + b"{}", b"\x40\0\0\0\0\0\0\0{}", b"\x05\0\0\0\0\0\0\0[1,2]"):
        p = tmp_path / "x.safetensors"
        p.write_bytes(content)
        with pytest.raises(unweight.CorruptError):
            unweight.safe_open(p, "pt")


def test_damaged_unweight_metadata_is_corrupt(small_compressed, tmp_path):
    path, _ = small_compressed
    data = path.read_bytes()
    p = tmp_path / "m.safetensors"
    p.write_bytes(data.replace(b'\\"format\\":\\"unweight\\"', b'\\"format\\":\\"unweighx\\"', 1))
    assert p.read_bytes() != data
    with pytest.raises(unweight.CorruptError, match="format"):
        unweight.safe_open(p, "np")


def test_missing_file_and_directory_are_io_errors(tmp_path):
    with pytest.raises(unweight.UnweightIOError) as err:
        unweight.safe_open(tmp_path / "none.safetensors", "np")
    assert isinstance(err.value, OSError) and err.value.status == "UW_ERR_IO"
    with pytest.raises(unweight.UnweightError):
        unweight.safe_open(tmp_path, "np")


def test_interpreter_exits_cleanly_with_live_library_objects(tmp_path, sample):
    """Objects holding library handles (files, devices, compressed weights, tuners) alive at
    exit, even behind an uncaught exception's traceback, are finalized without a crash."""
    pytest.importorskip("torch")
    script = tmp_path / "exit.py"
    script.write_text(
        "import torch, torch.nn as nn, unweight, unweight.torch as ut\n"
        f"f = unweight.safe_open({str(sample)!r}, 'pt')\n"
        "m = nn.Sequential(nn.Linear(64, 128), nn.Linear(128, 64)).to(torch.bfloat16)\n"
        f"ut.compress_model(m, select='all', tuning_cache={str(tmp_path / 'tc.tsv')!r})\n"
        "m2 = nn.Sequential(nn.Linear(64, 128)).to(torch.bfloat16)\n"
        "ut.compress_model(m2, select='all', pipeline='plain-bf16', tuning_cache=False)\n"
        "m(torch.randn(2, 64, dtype=torch.bfloat16))\n"
        "raise SystemExit(m2(torch.randn(2, 64)))  # float32 into a bf16 Linear: uncaught error\n"
    )
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert "Segmentation" not in r.stderr and "Exception ignored" not in r.stderr, r.stderr[-2000:]


def test_a_usage_error_from_the_library_carries_its_status():
    e = unweight._lib.error(1, "ctx")
    assert isinstance(e, unweight.UsageError) and e.status == "UW_ERR_INVALID_ARG"
    for code, cls in unweight._errors.STATUS_CLASSES.items():
        assert issubclass(cls, unweight.UnweightError)
        assert isinstance(unweight._lib.error(code), cls)
    assert os.path.basename(unweight._lib.lib.path).startswith("libunweight")
