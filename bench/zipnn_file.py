#!/usr/bin/env python3
"""bench/zipnn_file.py - ZipNN file to file, as its own file scripts use it: the whole file's
bytes coded as BF16 (byte grouping + Huffman), written out. Used by bench/file_bench.py.

  zipnn_file.py c|d IN OUT THREADS

Prints the seconds spent reading, coding and writing (the interpreter start and the torch import
that zipnn needs are not in it; the caller times the whole process too)."""
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import zipnn  # noqa: E402


def main():
    op, src, dst, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    t0 = time.perf_counter()
    with open(src, "rb") as f:
        data = bytearray(f.read())  # ZipNN codes its input buffer in place: a private copy
    z = zipnn.ZipNN(input_format="byte", bytearray_dtype="bfloat16", threads=threads)
    out = z.compress(data) if op == "c" else z.decompress(bytes(data))
    with open(dst, "wb") as f:
        f.write(out)
    print(f"{time.perf_counter() - t0:.6f}")


if __name__ == "__main__":
    main()
