"""Hugging Face transformers loads a checkpoint directory whose weights unweight compressed
(AutoModel.from_pretrained inside unweight.torch.hf_loading), bit for bit the original model;
safe_open.get_slice gives what transformers' lazy loading asks of it."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import unweight  # noqa: E402
import unweight.torch as ut  # noqa: E402


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A tiny Llama saved by transformers, and the same directory with the weights compressed."""
    d = tmp_path_factory.mktemp("hf")
    cfg = transformers.LlamaConfig(vocab_size=256, hidden_size=128, intermediate_size=384, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    torch.manual_seed(0)
    model = transformers.LlamaModel(cfg).to(torch.bfloat16)
    plain, packed = d / "plain", d / "packed"
    model.save_pretrained(plain)
    packed.mkdir()
    (packed / "config.json").write_bytes((plain / "config.json").read_bytes())
    unweight.compress_file(plain / "model.safetensors", packed / "model.safetensors", progress=False)
    return plain, packed


def hidden(model):
    ids = torch.tensor([[1, 5, 77, 200, 3, 9, 255, 0]])
    with torch.no_grad():
        return model(input_ids=ids).last_hidden_state


def test_from_pretrained_on_a_compressed_directory_is_bit_identical(checkpoints):
    plain, packed = checkpoints
    with unweight.safe_open(packed / "model.safetensors", "pt") as f:
        assert f.compressed and sum(f.info(k).compressed for k in f.keys()) >= 14
    ref = transformers.AutoModel.from_pretrained(plain, dtype=torch.bfloat16).eval()
    before = unweight._lib.lib.calls["uw_file_decode"]
    with ut.hf_loading():
        got = transformers.AutoModel.from_pretrained(packed, dtype=torch.bfloat16).eval()
    assert unweight._lib.lib.calls["uw_file_decode"] > before  # read by unweight, not safetensors
    for (n1, p1), (n2, p2) in zip(ref.state_dict().items(), got.state_dict().items()):
        assert n1 == n2 and p1.dtype == p2.dtype and torch.equal(p1.view(torch.uint8), p2.view(torch.uint8)), n1
    a, b = hidden(ref), hidden(got)
    assert torch.equal(a.view(torch.int16), b.view(torch.int16))
    also = ut.from_pretrained(transformers.AutoModel, packed, dtype=torch.bfloat16).eval()
    assert torch.equal(hidden(also).view(torch.int16), a.view(torch.int16))


def test_hf_loading_restores_transformers_afterwards(checkpoints):
    import safetensors
    import transformers.modeling_utils as mu

    with ut.hf_loading():
        assert mu.safe_open is unweight.safe_open
    assert mu.safe_open is safetensors.safe_open
    with pytest.raises(Exception):
        transformers.AutoModel.from_pretrained(checkpoints[1], dtype=torch.bfloat16)  # blobs are U8 to safetensors


def test_get_slice_reads_shape_and_dtype_without_decoding(checkpoints):
    _, packed = checkpoints
    with unweight.safe_open(packed / "model.safetensors", "pt") as f:
        name = "layers.0.mlp.up_proj.weight"
        before = unweight._lib.lib.calls["uw_file_decode"]
        s = f.get_slice(name)
        assert s.get_shape() == [384, 128] and s.get_dtype() == "BF16" and len(s) == 384
        assert unweight._lib.lib.calls["uw_file_decode"] == before
        assert torch.equal(s[2:5, :7], f.get_tensor(name)[2:5, :7])
        with pytest.raises(unweight.NotFoundError):
            f.get_slice("nope")
