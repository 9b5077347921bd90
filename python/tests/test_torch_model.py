"""unweight.torch.compress_model on a small Llama-shaped model built here: outputs bit-identical
to the same model run with the plain-bf16 pipeline (contract C2), each compressed layer within the
C3 bound of torch.nn.functional.linear, the nn.Linear interface kept (bias, shapes, dtypes,
state_dict with the original weights), less weight memory, the documented dtype handling."""

import copy
import io
import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import unweight  # noqa: E402
import unweight.torch as ut  # noqa: E402
from unweight.torch import CompressedLinear  # noqa: E402

HIDDEN, INTER, HEADS, LAYERS, VOCAB = 128, 352, 4, 2, 512


class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        v = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(v + 1e-6)).to(x.dtype) * self.weight


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(HIDDEN, HIDDEN, bias=False)
        self.k_proj = nn.Linear(HIDDEN, HIDDEN, bias=False)
        self.v_proj = nn.Linear(HIDDEN, HIDDEN, bias=False)
        self.o_proj = nn.Linear(HIDDEN, HIDDEN, bias=False)

    def forward(self, x):
        b, s, _ = x.shape
        q, k, v = (p(x).view(b, s, HEADS, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(a.transpose(1, 2).reshape(b, s, HIDDEN))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(HIDDEN, INTER, bias=False)
        self.up_proj = nn.Linear(HIDDEN, INTER, bias=False)
        self.down_proj = nn.Linear(INTER, HIDDEN, bias=True)  # a bias, to check it is kept

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(HIDDEN), RMSNorm(HIDDEN)
        self.self_attn, self.mlp = Attention(), MLP()

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class TinyLlama(nn.Module):
    def __init__(self, tied=False):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.norm = RMSNorm(HIDDEN)
        self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)
        if tied:
            self.lm_head.weight = self.embed_tokens.weight

    def forward(self, ids):
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def make_model(seed=0, tied=False):
    torch.manual_seed(seed)
    m = TinyLlama(tied)
    with torch.no_grad():  # trained-looking scales: N(0, 0.02)
        for p in m.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.02)
    return m.to(torch.bfloat16).eval()


IDS = torch.tensor([[1, 17, 300, 45, 2, 511, 0, 99], [5, 5, 5, 5, 250, 251, 252, 253]])
MLP_NAMES = [f"layers.{i}.mlp.{p}" for i in range(LAYERS) for p in ("gate_proj", "up_proj", "down_proj")]


def bits(t):
    return t.contiguous().view(torch.int16) if t.dtype in (torch.bfloat16, torch.float16) else t.contiguous().view(torch.int32)


def compressed(model, **kw):
    m = copy.deepcopy(model)
    report = ut.compress_model(m, tuning_cache=kw.pop("tuning_cache", False), **kw)
    return m, report


@pytest.fixture(scope="module")
def model():
    return make_model()


@pytest.fixture(scope="module")
def plain(model):
    """The reference: the same layers on resident plain BF16, run by the plain-bf16 pipeline."""
    return compressed(model, select="mlp", pipeline="plain-bf16")[0]


def test_compress_model_outputs_bitwise_equal_to_plain_bf16_pipeline(model, plain):
    m, report = compressed(model, select="mlp")
    assert [name for name, *_ in report.layers] == MLP_NAMES
    for name in MLP_NAMES:
        layer = m.get_submodule(name)
        assert isinstance(layer, CompressedLinear) and layer.choice(16)[0] == "fused-huffman"
        assert plain.get_submodule(name).choice(16)[0] == "plain-bf16"
    with torch.no_grad():
        y, y_ref, y_orig = m(IDS), plain(IDS), model(IDS)
    assert y.dtype == torch.bfloat16 and y.shape == (2, 8, VOCAB)
    assert torch.equal(bits(y), bits(y_ref))
    # and close to PyTorch's own bf16 model (different summation order: not bitwise)
    assert (y.float() - y_orig.float()).abs().max() < 0.05 * y_orig.float().abs().max()


@pytest.mark.parametrize("pipeline,resident", [
    ("fused-huffman", "huffman"), ("decode+gemm", "huffman"), ("palette-transcode", "huffman"),
    ("palette-direct", "huffman+palette"), ("palette-direct", "palette"), ("auto", "palette"),
    ("exp-predecode", "huffman")])
def test_every_pipeline_is_bitwise_equal_to_plain_bf16(model, plain, pipeline, resident):
    m, _ = compressed(model, select="mlp", pipeline=pipeline, resident=resident)
    x = torch.randn(3, 5, HIDDEN).to(torch.bfloat16)
    for name in MLP_NAMES[:2]:
        ref = plain.get_submodule(name)(x)
        try:
            y = m.get_submodule(name)(x)
        except unweight.UnsupportedError:
            assert pipeline == "exp-predecode"  # the cpu backend does not offer it (today)
            continue
        assert torch.equal(bits(y), bits(ref)), (pipeline, name)


def test_each_compressed_layer_is_within_the_c3_bound_of_F_linear(model):
    """|y - x W^T| <= gamma_n sum|x w| against float64 (C3, n = in_features), and within twice
    that of torch.nn.functional.linear in float32 (itself within gamma_n of float64)."""
    m, _ = compressed(model, select="all")
    inputs = {}

    def keep_input(name):
        def hook(mod, args, out):
            inputs[name] = args[0]  # (returns None: the output stays as it is)
        return hook

    hooks = [mod.register_forward_hook(keep_input(name)) for name, mod in m.named_modules() if isinstance(mod, CompressedLinear)]
    with torch.no_grad():
        m(IDS)
    for h in hooks:
        h.remove()
    assert len(inputs) == 4 * LAYERS * 2 - LAYERS + 1  # q k v o gate up down per layer, and lm_head
    u = 2.0 ** -24
    for name, x in inputs.items():
        layer = m.get_submodule(name)
        w = layer.weight
        x2 = x.reshape(-1, layer.in_features)
        with torch.no_grad():
            y = layer._product(x2.contiguous())  # the library's fp32 product, before bias and rounding
            ref = F.linear(x2.double(), w.double())
            mag = F.linear(x2.double().abs(), w.double().abs())
            torch_fp32 = F.linear(x2.float(), w.float())
        n = layer.in_features
        gamma = n * u / (1 - n * u)
        assert ((y.double() - ref).abs() <= gamma * mag).all(), name
        assert ((y.double() - torch_fp32.double()).abs() <= 2 * gamma * mag).all(), name


def test_linear_interface_is_kept(model):
    m, _ = compressed(model, select="mlp")
    for name in MLP_NAMES:
        orig, new = model.get_submodule(name), m.get_submodule(name)
        assert (new.in_features, new.out_features) == (orig.in_features, orig.out_features)
        assert new.dtype == torch.bfloat16 and new.weight.dtype == torch.bfloat16
        assert torch.equal(bits(new.weight), bits(orig.weight))
        assert (new.bias is None) == (orig.bias is None)
        back = new.to_linear()
        assert isinstance(back, nn.Linear) and torch.equal(bits(back.weight), bits(orig.weight))
    down = m.layers[0].mlp.down_proj
    assert "layers.0.mlp.down_proj.bias" in dict(m.named_parameters())
    assert torch.equal(bits(down.bias), bits(model.layers[0].mlp.down_proj.bias))


def test_state_dict_saves_the_original_weights(model):
    m, _ = compressed(model, select="mlp")
    sd, ref = m.state_dict(), model.state_dict()
    assert list(sd) == list(ref)
    for k in ref:
        assert sd[k].dtype == ref[k].dtype and sd[k].shape == ref[k].shape
        assert torch.equal(sd[k].view(torch.uint8) if sd[k].dim() else sd[k], ref[k].view(torch.uint8) if ref[k].dim() else ref[k]), k
    buf = io.BytesIO()
    torch.save(sd, buf)
    fresh = make_model(seed=123)
    fresh.load_state_dict(torch.load(io.BytesIO(buf.getvalue())))
    with torch.no_grad():
        assert torch.equal(bits(fresh(IDS)), bits(model(IDS)))


def test_load_state_dict_re_encodes_the_weights(model):
    other = make_model(seed=7)
    m, _ = compressed(model, select="mlp")
    m.load_state_dict(other.state_dict())
    other_plain, _ = compressed(other, select="mlp", pipeline="plain-bf16")
    with torch.no_grad():
        assert torch.equal(bits(m(IDS)), bits(other_plain(IDS)))
    bad = other.state_dict()
    del bad["layers.1.mlp.up_proj.weight"]
    with pytest.raises(RuntimeError, match="layers.1.mlp.up_proj.weight"):
        m.load_state_dict(bad)


def test_report_shows_weight_memory_before_and_after(model):
    m, report = compressed(model, select="mlp")
    mlp_bytes = sum(model.get_submodule(n).weight.numel() * 2 for n in MLP_NAMES)
    assert report.bytes_before == mlp_bytes
    assert report.bytes_after < 0.75 * mlp_bytes
    assert report.model_bytes_before - report.model_bytes_after == report.bytes_before - report.bytes_after
    assert {n for n, _ in report.skipped} == {f"layers.{i}.self_attn.{p}" for i in range(LAYERS)
                                                for p in ("q_proj", "k_proj", "v_proj", "o_proj")} | {"lm_head"}
    assert "MiB" in str(report)


def test_select_all_leaves_tied_and_non_bf16_weights(model):
    m = make_model(tied=True)
    m.layers[1].self_attn.o_proj.float()
    report = ut.compress_model(m, select="all", tuning_cache=False)
    reasons = dict(report.skipped)
    assert "tied" in reasons["lm_head"] and "float32" in reasons["layers.1.self_attn.o_proj"]
    assert len(report.layers) == 7 * LAYERS - 1


def test_select_by_callable(model):
    m, report = compressed(model, select=lambda name, mod: name.endswith("up_proj"))
    assert [n for n, *_ in report.layers] == [f"layers.{i}.mlp.up_proj" for i in range(LAYERS)]


def test_input_dtypes(model):
    """x is rounded to BF16 for the library; the result comes back in x's dtype."""
    m, _ = compressed(model, select="mlp")
    down = m.layers[0].mlp.down_proj
    x = torch.randn(4, INTER)
    y32 = down(x)
    assert y32.dtype == torch.float32
    expect = down._product(x.to(torch.bfloat16)) + down.bias.float()
    assert torch.equal(y32, expect)
    assert down(x.half()).dtype == torch.float16
    assert torch.equal(bits(down(x.to(torch.bfloat16))), bits(expect.to(torch.bfloat16)))
    assert down(torch.zeros(0, INTER, dtype=torch.bfloat16)).shape == (0, HIDDEN)
    with pytest.raises(unweight.UsageError):
        down(torch.zeros(2, INTER, dtype=torch.int32))
    with pytest.raises(unweight.UsageError):
        down(torch.zeros(2, HIDDEN, dtype=torch.bfloat16))


def test_gradients_reach_the_input_and_the_bias(model):
    m, _ = compressed(model, select="mlp")
    down = m.layers[0].mlp.down_proj
    x = torch.randn(3, INTER, requires_grad=True)
    down(x).square().sum().backward()
    w = down.weight.float()
    xr = x.detach().to(torch.bfloat16).float().requires_grad_()
    F.linear(xr, w, down.bias.float()).square().sum().backward()
    assert torch.allclose(x.grad, xr.grad, rtol=0.02, atol=1e-2)
    assert down.bias.grad is not None and down.bias.grad.shape == (HIDDEN,)


def test_tuning_cache_drives_auto_and_stays_bitwise_equal(model, plain, tmp_path):
    cache = tmp_path / "tuning.tsv"
    m, _ = compressed(model, select=lambda n, mod: n.startswith("layers.0.mlp"), tuning_cache=cache, tune=[1])
    assert cache.exists() and "unweight tuning cache v1" in cache.read_text()
    tuner = unweight.Tuner(cache)
    assert tuner.entries() == 2 and tuner.warning == ""  # two shapes: 352x128 and 128x352
    again, _ = compressed(model, select="mlp", tuning_cache=cache)
    gate = again.layers[0].mlp.gate_proj
    pipeline, tuned, params = gate.choice(1)
    assert tuned and pipeline in unweight._lib.PIPELINES
    assert not again.layers[0].mlp.gate_proj.choice(64)[1]  # another batch bucket: untuned default
    x = torch.randn(1, HIDDEN).to(torch.bfloat16)
    assert torch.equal(bits(gate(x)), bits(plain.layers[0].mlp.gate_proj(x)))


def test_backend_and_device_mismatches_are_usage_errors(model):
    for kw in ({"backend": "cuda"}, {"backend": "opencl"}, {"pipeline": "fastest"}, {"select": "attention"}):
        with pytest.raises(unweight.UsageError):
            compressed(model, **kw)
    with pytest.raises(unweight.UsageError):
        ut.compress_model(nn.Linear(64, 64).to(torch.bfloat16))
    one = CompressedLinear.from_linear(nn.Linear(64, 64).to(torch.bfloat16), tuning_cache=False)
    with torch.no_grad():
        assert math.isfinite(float(one(torch.ones(1, 64)).sum()))


def test_deepcopy_shares_the_resident_weights_and_pickling_is_refused(model, plain):
    m, _ = compressed(model, select="mlp")
    twin = copy.deepcopy(m)
    assert twin.layers[0].mlp.up_proj._weights is m.layers[0].mlp.up_proj._weights
    with torch.no_grad():
        y = m(IDS)
    del m  # the twin's weights stay valid: one owner, shared
    import gc

    gc.collect()
    with torch.no_grad():
        assert torch.equal(bits(twin(IDS)), bits(y)) and torch.equal(bits(y), bits(plain(IDS)))
    with pytest.raises(unweight.UsageError, match="state_dict"):
        torch.save(twin, io.BytesIO())


def test_resident_forms_memory_and_round_trip(model):
    """Each resident form counts what it keeps: the blob (~10.6 bits/weight), the palette IR (12
    bits/weight), both, or BF16; the palette-only form still gives the weight back bit for bit."""
    lin = model.get_submodule(MLP_NAMES[0])
    n = lin.weight.numel()
    got = {r: ut.CompressedLinear.from_linear(lin, resident=r, pipeline="palette-direct" if r == "palette" else "auto")
           for r in ("huffman", "palette", "huffman+palette", "bf16")}
    size = {r: m.resident_bytes for r, m in got.items()}
    assert size["palette"] == (3 * n + 1) // 2
    assert size["huffman"] < size["palette"] < size["bf16"] == 2 * n
    assert size["huffman+palette"] == size["huffman"] + size["palette"]
    assert torch.equal(bits(got["palette"].state_dict()["weight"]), bits(lin.weight.detach()))
