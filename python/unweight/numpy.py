"""NumPy side: `safetensors.numpy.load_file` for plain and unweight-compressed files."""

from ._file import File

__all__ = ["load_file"]


def load_file(filename, threads=0):
    """{name: np.ndarray} of a safetensors file, plain or compressed, bit for bit the original
    tensors (BF16 as ml_dtypes.bfloat16, F8_* as ml_dtypes' float8 types)."""
    with File(filename, threads) as f:
        return {k: f.numpy(k) for k in f.keys()}
