"""Writing: compress_file / decompress_file / verify_file on single files and sharded models
(by their index), with progress reporting; errors raise the right exception with the library's
message, and a failed or cancelled call leaves no output behind."""

import json
import os

import pytest
from conftest import bf16_weights, read_raw, write_raw

import unweight
import unweight.numpy as unp


def files_in(d):
    return sorted(os.listdir(d))


def test_compress_then_decompress_gives_the_input_back_byte_for_byte(sample, tmp_path):
    c, d = tmp_path / "c.safetensors", tmp_path / "d.safetensors"
    unweight.compress_file(sample, c, progress=False)
    assert os.path.getsize(c) < 0.7 * os.path.getsize(sample)
    unweight.decompress_file(c, d, progress=False)
    assert d.read_bytes() == open(sample, "rb").read()


def test_select_mlp_compresses_only_mlp_projections(sample, tmp_path):
    c = tmp_path / "c.safetensors"
    unweight.compress_file(sample, c, select="mlp", progress=False)
    with unweight.safe_open(c, "np") as f:
        done = {k for k in f.keys() if f.info(k).compressed}
    assert done == {"encoder.layer.3.intermediate.dense.weight", "encoder.layer.3.output.dense.weight"}


def test_palette_codec_round_trips(sample, tmp_path):
    c = tmp_path / "c.safetensors"
    unweight.compress_file(sample, c, codec="palette", threads=1, progress=False)
    with unweight.safe_open(c, "np") as f:
        assert {f.info(k).codec for k in f.keys() if f.info(k).compressed} == {"palette"}
    ref, _ = read_raw(sample)
    got = unp.load_file(c)
    assert all(got[k].tobytes() == ref[k][2] for k in ref)


def test_verify_reports_what_it_checked(sample, tmp_path):
    c = tmp_path / "c.safetensors"
    unweight.compress_file(sample, c, progress=False)
    r = unweight.verify_file(c, progress=False)
    assert (r.files, r.tensors, r.failed, r.ok) == (1, 9, 0, True)


def test_verify_names_every_damaged_tensor(sample, tmp_path):
    c = tmp_path / "c.safetensors"
    unweight.compress_file(sample, c, progress=False)
    with open(c, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    data = bytearray(c.read_bytes())
    damaged = ["encoder.layer.3.intermediate.dense.weight", "PP-DocLayoutV2.inference.pdiparams.0599"]
    for name in damaged:
        end = 8 + n + header[name]["data_offsets"][1]
        data[end - 80] ^= 0x01
    c.write_bytes(bytes(data))
    with pytest.raises(unweight.CorruptError) as err:
        unweight.verify_file(c, progress=False)
    report = err.value.report
    assert (report.tensors, report.failed) == (9, 2)
    assert sorted(t for _, t, _, _ in report.failures) == sorted(damaged)
    assert all(str(c) == p and msg for p, _, _, msg in report.failures)


def test_progress_callable_sees_the_whole_work(sample, tmp_path):
    seen = []
    unweight.compress_file(sample, tmp_path / "c.safetensors", progress=seen.append)
    assert seen and all(isinstance(p, unweight.Progress) for p in seen)
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[-1].done == seen[-1].total == 6095616  # the sample's tensor bytes
    assert seen[-1].name == "sample.safetensors" and seen[-1].files == 1


def test_progress_bar_goes_to_stderr(sample, tmp_path, capsys):
    pytest.importorskip("tqdm")
    unweight.compress_file(sample, tmp_path / "c.safetensors", progress=True)
    assert "compress sample.safetensors" in capsys.readouterr().err


@pytest.mark.parametrize("stage", ["compress", "decompress", "verify"])
def test_an_exception_in_progress_cancels_and_leaves_nothing(sample, tmp_path, stage):
    c = tmp_path / "c.safetensors"
    if stage != "compress":
        unweight.compress_file(sample, c, progress=False)
    before = files_in(tmp_path)

    class Stop(Exception):
        pass

    def stop(p):
        if p.done > 0:
            raise Stop()

    with pytest.raises(Stop):
        if stage == "compress":
            unweight.compress_file(sample, c, progress=stop)
        elif stage == "decompress":
            unweight.decompress_file(c, tmp_path / "d.safetensors", progress=stop)
        else:
            unweight.verify_file(c, progress=stop)
    assert files_in(tmp_path) == before  # no output, no temporary file


def test_a_failed_compress_keeps_the_existing_output(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\0\0\0\0\0\0\0{not json}     ")
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"precious")
    with pytest.raises(unweight.CorruptError) as err:
        unweight.compress_file(bad, out, progress=False)
    assert str(bad) in str(err.value) and err.value.status == "UW_ERR_CORRUPT"
    assert out.read_bytes() == b"precious"
    assert files_in(tmp_path) == ["bad.safetensors", "out.safetensors"]


def test_errors_map_to_their_exception_classes(sample, tmp_path):
    c = tmp_path / "c.safetensors"
    with pytest.raises(unweight.UnweightIOError) as err:
        unweight.compress_file(tmp_path / "missing.safetensors", c, progress=False)
    assert isinstance(err.value, OSError) and "missing.safetensors" in str(err.value)
    with pytest.raises(unweight.UsageError, match="not an unweight-compressed file"):
        unweight.verify_file(sample, progress=False)
    with pytest.raises(unweight.UsageError):
        unweight.decompress_file(sample, c, progress=False)
    with pytest.raises(unweight.UsageError):
        unweight.compress_file(sample, sample, progress=False)  # would overwrite its input
    unweight.compress_file(sample, c, progress=False)
    with pytest.raises(unweight.UsageError):
        unweight.compress_file(c, tmp_path / "cc.safetensors", progress=False)  # already compressed
    with pytest.raises(unweight.UsageError):
        unweight.compress_file(sample, c, select="attention", progress=False)
    with pytest.raises(unweight.UsageError):
        unweight.compress_file(sample, c, threads=-1, progress=False)
    assert isinstance(unweight.UsageError("x"), ValueError)


def make_sharded(d, metadata=None):
    """A two-shard model with its index; returns the index path and {name: bytes}."""
    shard1 = {
        "model.layers.0.mlp.up_proj.weight": ("BF16", (64, 128), bf16_weights(64, 128, 1).tobytes()),
        "model.norm.weight": ("BF16", (128,), bf16_weights(1, 128, 2).tobytes()),
    }
    shard2 = {
        "model.layers.1.mlp.down_proj.weight": ("BF16", (128, 64), bf16_weights(128, 64, 3).tobytes()),
        "lm_head.weight": ("F32", (4, 8), bytes(range(128))),
    }
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    write_raw(d / names[0], shard1, metadata={"format": "pt"})
    write_raw(d / names[1], shard2, metadata={"format": "pt"})
    weight_map = {k: names[0] for k in shard1} | {k: names[1] for k in shard2}
    index = d / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}, indent=2))
    return index, {k: v[2] for k, v in (shard1 | shard2).items()}


def test_sharded_model_by_its_index(tmp_path):
    src, out, back = tmp_path / "src", tmp_path / "out", tmp_path / "back"
    for p in (src, out, back):
        p.mkdir()
    index, tensors = make_sharded(src)
    assert unweight.is_index(index)
    seen = []
    unweight.compress_file(index, out / index.name, progress=seen.append)
    assert files_in(out) == files_in(src)
    assert (out / index.name).read_bytes() == index.read_bytes()
    assert {p.file for p in seen} == {0, 1} and seen[-1].files == 2 and seen[-1].done == seen[-1].total
    got = {}
    for shard in files_in(out):
        if shard.endswith(".safetensors"):
            got |= {k: v.tobytes() for k, v in unp.load_file(out / shard).items()}
    assert got == tensors
    r = unweight.verify_file(out / index.name, progress=False)
    assert (r.files, r.tensors, r.failed) == (2, 4, 0)
    unweight.decompress_file(out / index.name, back / index.name, progress=False)
    for f in files_in(src):
        assert (back / f).read_bytes() == (src / f).read_bytes(), f


def test_sharded_model_with_a_bad_shard_writes_nothing(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir(), out.mkdir()
    index, _ = make_sharded(src)
    shard2 = src / "model-00002-of-00002.safetensors"
    shard2.write_bytes(shard2.read_bytes()[:-1])  # truncated
    with pytest.raises(unweight.CorruptError) as err:
        unweight.compress_file(index, out / index.name, progress=False)
    assert "model-00002-of-00002.safetensors" in str(err.value)
    assert files_in(out) == []
