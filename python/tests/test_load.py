"""Loading: unweight.numpy.load_file, unweight.torch.load_file and unweight.safe_open give the
original file's tensors bit for bit (dtype, shape, bytes), for plain and compressed files, equal to
what safetensors itself loads from the original; safe_open decodes only the tensor asked for."""

import numpy as np
import pytest
from conftest import SIZES, read_raw, write_raw

import unweight
import unweight.numpy as unp
from unweight._lib import lib

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")
import safetensors  # noqa: E402

import unweight.torch as ut  # noqa: E402


def torch_bytes(t):
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def assert_same_as_raw(raw, loaded_np=None, loaded_pt=None):
    for name, (dtype, shape, data) in raw.items():
        if loaded_np is not None:
            a = loaded_np[name]
            assert a.shape == shape, name
            assert a.dtype == unweight._dtypes.numpy_dtype(dtype), name
            assert a.tobytes() == data, f"{name}: numpy bytes differ"
        if loaded_pt is not None:
            t = loaded_pt[name]
            assert tuple(t.shape) == shape, name
            assert t.dtype == unweight._dtypes.torch_dtype(dtype), name
            assert torch_bytes(t) == data, f"{name}: torch bytes differ"


@pytest.fixture(params=["plain", "all", "mlp"])
def sample_variant(request, sample, tmp_path):
    """The built-in sample as is, and compressed with each selection."""
    if request.param == "plain":
        return sample
    out = tmp_path / f"sample.{request.param}.safetensors"
    unweight.compress_file(sample, out, select=request.param, progress=False)
    return out


def test_sample_loads_bit_for_bit_equal_to_safetensors(sample, sample_variant):
    reference = st_torch.load_file(sample)
    raw, _ = read_raw(sample)
    got_pt = ut.load_file(sample_variant)
    got_np = unp.load_file(sample_variant)
    assert list(got_pt) == list(reference) == list(got_np)
    for name, ref in reference.items():
        assert got_pt[name].dtype == ref.dtype and got_pt[name].shape == ref.shape
        assert torch.equal(got_pt[name].view(torch.int16), ref.view(torch.int16)), name
    assert_same_as_raw(raw, got_np, got_pt)


def test_compressed_sample_is_smaller_and_really_compressed(sample, tmp_path):
    out = tmp_path / "c.safetensors"
    unweight.compress_file(sample, out, progress=False)
    with unweight.safe_open(out, "np") as f:
        assert f.compressed
        entries = [f.info(k) for k in f.keys()]
    assert sum(e.compressed for e in entries) == 8  # the 1-D LayerNorm weight stays as it is
    assert sum(e.stored_bytes for e in entries) < 0.7 * sum(e.nbytes for e in entries)


@pytest.mark.parametrize("compressed", [False, True])
def test_every_dtype_round_trips_bit_for_bit(every_dtype_file, tmp_path, compressed):
    raw, _ = read_raw(every_dtype_file)
    path = every_dtype_file
    if compressed:
        path = tmp_path / "every_dtype.c.safetensors"
        unweight.compress_file(every_dtype_file, path, progress=False)
        with unweight.safe_open(path, "np") as f:
            assert {k for k in f.keys() if f.info(k).compressed} == {
                "model.layers.0.mlp.up_proj.weight", "model.layers.0.self_attn.q_proj.weight", "conv.weight"}
    got_np, got_pt = unp.load_file(path), ut.load_file(path)
    assert set(got_np) == set(raw) == set(got_pt)
    assert_same_as_raw(raw, got_np, got_pt)
    # and equal to safetensors' own loader for every dtype it knows
    with safetensors.safe_open(every_dtype_file, framework="pt") as f:
        for name in f.keys():
            if raw[name][0] not in st_torch._TYPES:
                continue
            ref = f.get_tensor(name)
            assert ref.dtype == got_pt[name].dtype and ref.shape == got_pt[name].shape, name
            assert torch_bytes(ref) == torch_bytes(got_pt[name]), name


def test_every_safetensors_dtype_is_covered():
    names = {dt for dt, _, _ in __import__("conftest").every_dtype_tensors().values()}
    assert names == set(SIZES)


def test_bf16_is_ml_dtypes_bfloat16_in_numpy(sample):
    import ml_dtypes

    a = unp.load_file(sample)["encoder.layer.3.intermediate.dense.weight"]
    assert a.dtype == np.dtype(ml_dtypes.bfloat16)
    assert np.isfinite(a.astype(np.float32)).all()


def test_keys_and_metadata_match_safetensors(sample, tmp_path):
    out = tmp_path / "c.safetensors"
    unweight.compress_file(sample, out, progress=False)
    with safetensors.safe_open(sample, framework="pt") as ref:
        ref_keys, ref_meta = ref.keys(), ref.metadata()
    for path in (sample, out):
        for fw in ("pt", "np"):
            with unweight.safe_open(path, framework=fw) as f:
                assert f.keys() == ref_keys
                assert f.metadata() == ref_meta
    assert ref_meta and "unweight" not in ref_meta


def test_metadata_is_none_when_the_file_has_none(tmp_path):
    p = tmp_path / "nometa.safetensors"
    write_raw(p, {"w": ("F32", (2,), b"\0" * 8)})
    with unweight.safe_open(p, "np") as f, safetensors.safe_open(p, "np") as ref:
        assert f.metadata() is None and ref.metadata() is None


def test_safe_open_decodes_only_the_requested_tensor(sample, tmp_path):
    out = tmp_path / "c.safetensors"
    unweight.compress_file(sample, out, progress=False)
    name = "encoder.layer.3.intermediate.dense.weight"
    before = lib.calls["uw_file_decode"]
    with unweight.safe_open(out, framework="pt") as f:
        assert lib.calls["uw_file_decode"] == before  # opening decodes nothing
        t = f.get_tensor(name)
    assert lib.calls["uw_file_decode"] == before + 1
    assert torch.equal(t.view(torch.int16), st_torch.load_file(sample)[name].view(torch.int16))


def _blob_offsets(path):
    """{name: (begin, end)} file offsets of each stored tensor of a (compressed) file."""
    import json
    import struct

    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return {k: (8 + n + v["data_offsets"][0], 8 + n + v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"}


def test_safe_open_never_reads_other_tensors_payloads(sample, tmp_path):
    """Timing-free evidence of laziness: damage one tensor's payload (its blob's last bytes, past
    the header and index checked on open); every other tensor still loads, that one fails."""
    out = tmp_path / "c.safetensors"
    unweight.compress_file(sample, out, progress=False)
    damaged = "encoder.layer.3.output.dense.weight"
    b, e = _blob_offsets(out)[damaged]
    data = bytearray(out.read_bytes())
    data[e - 100] ^= 0x5A
    out.write_bytes(bytes(data))
    reference = st_torch.load_file(sample)
    with unweight.safe_open(out, framework="pt") as f:
        for name in f.keys():
            if name == damaged:
                with pytest.raises(unweight.CorruptError) as err:
                    f.get_tensor(name)
                assert damaged in str(err.value)
            else:
                assert torch.equal(f.get_tensor(name).view(torch.int16), reference[name].view(torch.int16))
    with pytest.raises(unweight.CorruptError):
        ut.load_file(out)


def test_torch_load_file_moves_to_the_device(sample):
    d = ut.load_file(sample, device="cpu")
    assert all(t.device.type == "cpu" for t in d.values())
    meta = ut.load_file(sample, device="meta")
    assert all(t.device.type == "meta" for t in meta.values())


def test_safe_open_usage_errors(sample):
    with pytest.raises(unweight.UsageError):
        unweight.safe_open(sample, framework="tf")
    with pytest.raises(unweight.UsageError):
        unweight.safe_open(sample, framework="np", device="cuda")
    with unweight.safe_open(sample, "np") as f:
        with pytest.raises(unweight.NotFoundError, match="no tensor named 'nope'"):
            f.get_tensor("nope")
    f = unweight.safe_open(sample, "np")
    f.close()
    with pytest.raises(unweight.UsageError, match="closed"):
        f.get_tensor(f.keys()[0])
