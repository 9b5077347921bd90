"""PyTorch side: load (compressed) safetensors files as torch tensors, and keep a model's Linear
weights compressed in memory (CompressedLinear, compress_model), their products computed by the
library's matmul on the compressed form."""

import contextlib
import ctypes as C

try:
    import torch
    import torch.nn as nn
except ImportError as e:  # pragma: no cover - a hint for the one missing optional dependency
    raise ImportError(f"unweight.torch needs PyTorch ({e}): pip install torch") from e

from ._device import Device, Tuner, Weights, default_tuning_cache, pipeline_code
from ._errors import UsageError
from ._file import File
from ._lib import SELECT, lib

__all__ = ["load_file", "hf_loading", "from_pretrained", "CompressedLinear", "compress_model", "CompressionReport"]


def load_file(filename, device="cpu", threads=0):
    """`safetensors.torch.load_file` for plain and compressed files: {name: tensor}, bit for bit
    the original tensors (dtype, shape, bytes), decoded into CPU memory then moved to `device`."""
    with File(filename, threads) as f:
        return {k: f.torch(k, device) for k in f.keys()}


@contextlib.contextmanager
def hf_loading():
    """Within this block, Hugging Face transformers reads .safetensors checkpoints through
    unweight's safe_open, so `AutoModel.from_pretrained(directory)` loads a directory whose
    weights were compressed by unweight (plain files load as before). It replaces the
    `safe_open` name transformers' modeling_utils imported from safetensors, for the duration
    of the block and for every thread; tested with transformers 5 (bench/python_e2e.py)."""
    import transformers.modeling_utils as mu

    from ._file import safe_open

    old = mu.safe_open
    mu.safe_open = safe_open
    try:
        yield
    finally:
        mu.safe_open = old


def from_pretrained(model_cls, directory, **kwargs):
    """`model_cls.from_pretrained(directory, **kwargs)` (e.g. transformers.AutoModel) with the
    directory's weights read by unweight's loader: compressed or plain .safetensors files."""
    with hf_loading():
        return model_cls.from_pretrained(directory, **kwargs)


# ---------------------------------------------------------------- devices, shared per model

_devices = {}
_tuners = {}


def _device_for(backend, torch_device, threads, tuning_cache):
    if backend == "cpu":
        if torch_device.type != "cpu":
            raise UsageError(f"backend 'cpu' computes on host tensors; the weight is on {torch_device} (use backend='cuda')")
        spec = f"threads={threads}" if threads else None
    elif backend == "cuda":
        if torch_device.type != "cuda":
            raise UsageError(f"backend 'cuda' needs the model on a CUDA device; the weight is on {torch_device}")
        spec = str(torch_device.index if torch_device.index is not None else torch.cuda.current_device())
    else:
        raise UsageError(f"backend {backend!r}: compress_model supports 'cpu' and 'cuda'")
    key = (backend, spec, tuning_cache)
    dev = _devices.get(key)
    if dev is None:
        tuner = None
        if tuning_cache is not False:
            path = default_tuning_cache() if tuning_cache is None else str(tuning_cache)
            tuner = _tuners.get(path) or Tuner(path)
            _tuners[path] = tuner
        dev = Device(backend, spec, tuner)
        _devices[key] = dev
    return dev


# ---------------------------------------------------------------- the module

class _Product(torch.autograd.Function):
    """y = x W^T through the library, differentiable in x (W is fixed: the gradient is
    grad_y W with W decoded once per backward)."""

    @staticmethod
    def forward(ctx, x2, module):
        ctx.module = module
        return module._product(x2)

    @staticmethod
    def backward(ctx, grad_y):
        w = ctx.module._decoded_weight().to(torch.float32)
        return (grad_y.to(torch.float32) @ w).to(torch.bfloat16), None


class CompressedLinear(nn.Module):
    """A Linear layer whose BF16 weight stays compressed on a device of the library (backend
    "cpu": host memory; "cuda": the weight's GPU), y = x W^T (+ bias) by the library's matmul.

    Contract (include/unweight.h): the library multiplies BF16 inputs by the BF16 weight with
    fp32 accumulation and fp32 output. So: x is converted to BF16 first (exact for BF16 inputs;
    float32/float16 inputs are rounded to nearest-even BF16, as under bf16 autocast), the bias
    (kept as a normal Parameter in its dtype) is added in fp32, and the result is returned in x's
    dtype. Same bytes in, same bytes out: every pipeline is bit-identical to plain-bf16 (C2).

    Keeps nn.Linear's interface: in_features, out_features, bias, forward on [..., in_features],
    state_dict()/load_state_dict() with the original `weight` (decoded back bit for bit, or
    re-encoded on load). `weight` is a property that decodes the whole matrix on each access;
    gradients flow to x and to the bias, never to the (fixed) weight."""

    def __init__(self, linear, device, pipeline="auto", resident="huffman", threads=0):
        super().__init__()
        w = linear.weight
        if w.dim() != 2 or w.dtype != torch.bfloat16:
            raise UsageError(f"CompressedLinear needs a 2-D BF16 weight, got {tuple(w.shape)} {w.dtype}")
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.bias = linear.bias
        self.device_ = device
        self.pipeline = pipeline
        self._pipeline = pipeline_code(pipeline)
        self._torch_device = w.device
        self._threads = threads
        self._resident = resident
        self._upload(w.detach())

    @classmethod
    def from_linear(cls, linear, backend="cpu", pipeline="auto", resident="huffman", threads=0, tuning_cache=None):
        dev = _device_for(backend, linear.weight.device, threads, tuning_cache)
        return cls(linear, dev, pipeline, resident, threads)

    def _upload(self, w):
        host = w.to("cpu", torch.bfloat16).contiguous()
        self._weights = Weights(self.device_, host.data_ptr(), host.shape[0], host.shape[1], self._resident, self._threads)

    # -- what it holds
    @property
    def dtype(self):
        return torch.bfloat16

    @property
    def resident_bytes(self):
        """Bytes the weight occupies on its device now (the compressed blob; approximate when the
        palette IR is resident too)."""
        return self._weights.resident_bytes

    def _decoded_weight(self):
        out = torch.empty((self.out_features, self.in_features), dtype=torch.bfloat16)
        self._weights.decode_into(out.data_ptr())
        return out if self._torch_device.type == "cpu" else out.to(self._torch_device)

    @property
    def weight(self):
        """The original weight, decoded (a new tensor each access: costs a full decode)."""
        return self._decoded_weight()

    def to_linear(self):
        """A plain nn.Linear with the original weight (decoded) and this bias."""
        lin = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None, device="meta")
        lin.weight = nn.Parameter(self._decoded_weight(), requires_grad=False)
        if self.bias is not None:
            lin.bias = self.bias
        return lin

    def choice(self, batch=1):
        """What the AUTO pipeline runs at this batch size: (pipeline, from the tuning cache?, params)."""
        return self._weights.choice(batch)

    # -- computing
    def _product(self, x2):
        batch = x2.shape[0]
        if self.device_.backend == "cuda":
            if x2.device != self._torch_device:
                raise UsageError(f"input on {x2.device}, compressed weight on {self._torch_device}")
            y = torch.empty((batch, self.out_features), dtype=torch.float32, device=x2.device)
            if batch:
                # PyTorch's current stream: x2 and y were allocated on it, so the caching
                # allocator reuses their memory only after this product, in stream order
                stream = torch.cuda.current_stream(x2.device).cuda_stream
                self._weights.matmul_async(self._pipeline, x2.data_ptr(), y.data_ptr(), batch, stream)
            return y
        if x2.device.type != "cpu":
            raise UsageError(f"input on {x2.device}: backend 'cpu' computes on host tensors")
        y = torch.empty((batch, self.out_features), dtype=torch.float32)
        if batch:
            self._weights.matmul(self._pipeline, x2.data_ptr(), y.data_ptr(), batch)
        return y

    def forward(self, x):
        if not (x.is_floating_point()):
            raise UsageError(f"CompressedLinear takes floating-point input, got {x.dtype}")
        if x.shape[-1] != self.in_features:
            raise UsageError(f"input's last dimension is {x.shape[-1]}, this layer takes {self.in_features}")
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features).to(torch.bfloat16).contiguous()
        if torch.is_grad_enabled() and x2.requires_grad:
            y = _Product.apply(x2, self)
        else:
            y = self._product(x2)
        if self.bias is not None:
            y = y + self.bias.to(torch.float32)
        return y.to(x.dtype).reshape(*lead, self.out_features)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
            f"pipeline={self.pipeline}, resident={self._resident} {self.resident_bytes} bytes, "
            f"device={self.device_.name!r}"
        )

    # -- state_dict: the original weight goes out, and comes back in re-encoded
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        destination[prefix + "weight"] = self._decoded_weight()
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        key = prefix + "weight"
        if key in state_dict:
            w = state_dict[key]
            if tuple(w.shape) != (self.out_features, self.in_features):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(w.shape)}, "
                    f"the shape in the current model is {(self.out_features, self.in_features)}."
                )
            else:
                self._upload(w.detach())
        elif strict:
            missing_keys.append(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        if key in unexpected_keys:
            unexpected_keys.remove(key)


# ---------------------------------------------------------------- whole models

class CompressionReport:
    """What compress_model did: per replaced layer (name, shape, bytes before, bytes after), the
    Linear layers left alone and why, and the model's weight memory before and after."""

    def __init__(self):
        self.layers = []
        self.skipped = []
        self.model_bytes_before = 0
        self.model_bytes_after = 0

    @property
    def bytes_before(self):
        return sum(b for _, _, b, _ in self.layers)

    @property
    def bytes_after(self):
        return sum(a for _, _, _, a in self.layers)

    def __str__(self):
        mib = 1 << 20
        ratio = self.bytes_after / self.bytes_before if self.bytes_before else 1.0
        mratio = self.model_bytes_after / self.model_bytes_before if self.model_bytes_before else 1.0
        return (
            f"compressed {len(self.layers)} Linear weights: {self.bytes_before / mib:.2f} MiB -> "
            f"{self.bytes_after / mib:.2f} MiB ({100 * ratio:.2f}%); model weights "
            f"{self.model_bytes_before / mib:.2f} MiB -> {self.model_bytes_after / mib:.2f} MiB "
            f"({100 * mratio:.2f}%); {len(self.skipped)} Linear layers left as they were"
        )

    __repr__ = __str__


def _weight_bytes(model):
    """Bytes of the model's distinct parameters and buffers, plus compressed weights' resident bytes."""
    seen = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    for m in model.modules():
        if isinstance(m, CompressedLinear):
            total += m.resident_bytes
    return total


def _selected(select, name, module):
    if callable(select):
        return bool(select(name, module))
    dims = (C.c_uint64 * 2)(*module.weight.shape)
    return bool(lib.uw_select_tensor(SELECT[select], f"{name}.weight".encode(), b"BF16", 2, dims))


def compress_model(model, select="mlp", backend="cpu", *, pipeline="auto", resident="huffman", threads=0,
                   tuning_cache=None, tune=False):
    """Replace the selected nn.Linear layers of `model` (in place) by CompressedLinear layers
    whose weights stay compressed; returns a CompressionReport (weight memory before/after).

    select: "mlp" (the library's rule: gate/up/down_proj, fc1/fc2, w1/w2/w3, experts, ...),
    "all" (every BF16 Linear weight with at least 4096 elements), or a callable(name, module)
    -> bool. Only BF16 weights are compressed; a weight shared with another module (tied
    embeddings) is left alone, since the other module keeps it in memory anyway.
    backend: "cpu" (host memory, the model on the CPU) or "cuda" (the model on an NVIDIA GPU;
    needs a library built with -DUW_CUDA=ON; the product runs on PyTorch's current stream).
    pipeline: "auto" (the tuning cache's choice per shape and batch, else the library's default
    for the resident forms: fused-huffman; on the cpu with the palette form, palette-direct) or a
    name ("plain-bf16" uploads plain BF16: the uncompressed baseline, bit-identical output).
    tuning_cache: None = ~/.cache/unweight/tuning.tsv, a path, or False (no cache).
    tune: False, or batch sizes (e.g. [1, 16]) to measure every new shape at and save to the cache
    (slow: a few seconds per shape)."""
    if isinstance(model, nn.Linear):
        raise UsageError("compress_model replaces a model's submodules; for one layer use CompressedLinear.from_linear")
    if not callable(select) and select not in SELECT:
        raise UsageError(f"select={select!r}: expected 'mlp', 'all' or a callable(name, module)")
    pipeline_code(pipeline)
    if tune and tuning_cache is False:
        raise UsageError("tune needs a tuning cache")
    if pipeline == "plain-bf16":
        resident = "bf16"
    report = CompressionReport()
    report.model_bytes_before = _weight_bytes(model)
    uses = {}
    for _, p in model.named_parameters(remove_duplicate=False):
        uses[id(p)] = uses.get(id(p), 0) + 1
    todo = []
    for name, m in model.named_modules():
        if type(m) is not nn.Linear:
            continue
        w = m.weight
        if w.dtype != torch.bfloat16:
            report.skipped.append((name, f"dtype {w.dtype} (only BF16 weights are compressed)"))
        elif uses.get(id(w), 0) > 1:
            report.skipped.append((name, "weight shared with another module (tied)"))
        elif not _selected(select, name, m):
            report.skipped.append((name, f"not selected by select={select if isinstance(select, str) else 'callable'}"))
        else:
            todo.append((name, m))
    for name, m in todo:
        before = m.weight.numel() * m.weight.element_size()
        dev = _device_for(backend, m.weight.device, threads, tuning_cache)
        new = CompressedLinear(m, dev, pipeline, resident, threads)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, new)
        if tune:
            for b in tune:
                new._weights.tune(int(b))
        report.layers.append((name, (new.out_features, new.in_features), before, new.resident_bytes))
    if tune and todo:
        dev.tuner.save()
    report.model_bytes_after = _weight_bytes(model)
    return report
