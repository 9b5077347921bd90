#!/usr/bin/env python3
"""make_invalid.py - regenerate the golden invalid files in this folder (stdlib only).

Every file is a small plain or unweight-compressed safetensors file with one defect (see
manifest.tsv: file, expected exit code, level, message substring, what is wrong). The bases are
a 64x64 slice of real weights from tests/data/sample.safetensors plus two passthrough tensors,
compressed by the unweight CLI. run_invalid.sh checks them (CTest golden_invalid_files).

usage: make_invalid.py UNWEIGHT_BIN [SAMPLE.safetensors]
level "open": every command (info, verify, decompress, compress) exits 2 with the message;
level "payload": the headers are intact, so info exits 0; verify and decompress exit 2.
"""
import json, os, struct, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
BIN = sys.argv[1]
SAMPLE = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tests", "data", "sample.safetensors")
W = "layers.0.mlp.up_proj.weight"


def read_st(raw):
    n = struct.unpack("<Q", raw[:8])[0]
    return n, json.loads(raw[8:8 + n]), raw[8 + n:]


def header_bytes(hdr, align=64):
    js = json.dumps(hdr, separators=(",", ":")).encode()
    js += b" " * (-(8 + len(js)) % align)
    return struct.pack("<Q", len(js)) + js


def plain_file(tensors, meta=None):
    hdr, off, blobs = {}, 0, []
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dt, shape, data in tensors:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    return header_bytes(hdr, 8) + b"".join(blobs)


def blob_layout(b):
    """Section offsets of a blob (docs/FORMAT.md section 3), computed independently of the C code."""
    al = lambda x, a: (x + a - 1) // a * a
    codec, nsym, order = b[9], b[11], b[12]
    rows, cols = struct.unpack_from("<QQ", b, 16)
    tr, tc, lanes = struct.unpack_from("<III", b, 32)
    count = struct.unpack_from("<Q", b, 64)[0]
    T = -(-rows // tr) * -(-cols // tc)
    n = rows * cols
    o, L = 128, {}
    if codec == 1:
        A = nsym ** order
        for name, size in (("lengths", (A + 1) // 2), ("tilebase", 8 * T), ("laneoff", 4 * T * (lanes - 1)), ("stream", count)):
            L[name] = (o, size)
            o = al(o + size, 16)
    else:
        for name, size in (("excidx", 8 * (T + 1)), ("exc", 4 * count), ("nibbles", (n + 1) // 2)):
            L[name] = (o, size)
            o = al(o + size, 16)
    L["plane"] = (o, n)
    L["end"] = (o + n, al(o + n, 64) - o - n)
    return L


class Compressed:
    def __init__(self, raw):
        self.n, self.hdr, self.data = read_st(raw)
        self.um = json.loads(self.hdr["__metadata__"]["unweight"])
        self.orig = json.loads(self.um["original_header"])

    def blob(self, name):
        b, e = self.hdr[name]["data_offsets"]
        return b, e

    def build(self, data=None, keep_header_hash=True):
        um = dict(self.um)
        if not keep_header_hash:
            um.pop("original_header_xxh3", None)
        hdr = dict(self.hdr)
        hdr["__metadata__"] = dict(hdr["__metadata__"])
        hdr["__metadata__"]["unweight"] = json.dumps(um, separators=(",", ":"))
        return header_bytes(hdr) + (self.data if data is None else data)

    def set_orig(self, orig):
        self.um["original_header"] = json.dumps(orig, separators=(",", ":"))
        self.um.pop("original_header_xxh3", None)  # stdlib has no XXH3: test the other rules


def flip(raw, byte, bit=0):
    b = bytearray(raw)
    b[byte] ^= 1 << bit
    return bytes(b)


def main():
    n, hdr, data = read_st(open(SAMPLE, "rb").read())
    src = "encoder.layer.3.intermediate.dense.weight"
    b0 = hdr[src]["data_offsets"][0]
    full = hdr[src]["shape"][1]
    w = b"".join(data[b0 + 2 * r * full: b0 + 2 * r * full + 128] for r in range(64))
    ln = data[hdr["encoder.layer.3.output.LayerNorm.weight"]["data_offsets"][0]:][:128]
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.25)
    tensors = [(W, "BF16", [64, 64], w), ("layers.0.norm.weight", "BF16", [64], ln), ("scale", "F32", [4], f32)]
    plain = plain_file(tensors, {"format": "pt"})
    for f in os.listdir(HERE):
        if f.endswith(".safetensors"):
            os.remove(os.path.join(HERE, f))
    pp = os.path.join(HERE, "valid_plain.safetensors")
    open(pp, "wb").write(plain)
    cp = os.path.join(HERE, "valid_compressed.safetensors")
    subprocess.run([BIN, "compress", pp, cp, "--threads", "1"], check=True)
    comp = open(cp, "rb").read()
    palp = os.path.join(HERE, "valid_compressed_palette.safetensors")
    subprocess.run([BIN, "compress", pp, palp, "--threads", "1", "--codec", "palette"], check=True)
    pal = open(palp, "rb").read()
    os.remove(palp)

    C = Compressed(comp)
    pn = struct.unpack("<Q", plain[:8])[0]
    cn = C.n
    wb, we = C.blob(W)
    base = 8 + cn + wb  # file offset of the blob
    blob = comp[base:8 + cn + we]
    L = blob_layout(blob)
    P = Compressed(pal)
    pwb, pwe = P.blob(W)
    pbase = 8 + P.n + pwb
    PL = blob_layout(pal[pbase:8 + P.n + pwe])

    cases = []  # (file, level, substring, description, bytes)

    def add(name, level, msg, what, raw):
        cases.append((name + ".safetensors", level, msg, what, raw))

    # ---- truncated at every section boundary
    add("trunc_empty", "open", "too short", "empty file", b"")
    add("trunc_4_bytes", "open", "too short", "4 bytes: not even the header length", plain[:4])
    add("trunc_after_length", "open", "runs past the end", "the 8-byte header length and nothing else", plain[:8])
    add("trunc_mid_json", "open", "runs past the end", "cut in the middle of the JSON header", plain[:8 + pn // 2])
    add("trunc_after_json", "open", "past the end", "header complete, data section missing", plain[:8 + pn])
    add("trunc_mid_tensor", "open", "past the end", "cut inside the first tensor's data", plain[:8 + pn + 4000])
    add("trunc_last_byte", "open", "past the end", "last byte of the last tensor missing", plain[:-1])
    add("c_trunc_mid_json", "open", "runs past the end", "compressed: cut inside the JSON header", comp[:8 + cn - 100])
    add("c_trunc_blob_header", "open", "past the end", "compressed: cut inside the blob header", comp[:base + 64])
    add("c_trunc_blob_index", "open", "past the end", "compressed: cut at the end of the tile index",
        comp[:base + L["laneoff"][0] + L["laneoff"][1]])
    add("c_trunc_blob_stream", "open", "past the end", "compressed: cut inside the exponent stream",
        comp[:base + L["stream"][0] + L["stream"][1] // 2])
    add("c_trunc_blob_plane", "open", "past the end", "compressed: cut inside the plane", comp[:base + L["plane"][0] + 100])
    add("c_trunc_after_blob", "open", "past the end", "compressed: blob complete, passthrough tensors missing", comp[:8 + cn + we])
    add("c_trailing_bytes", "open", "tensors cover", "compressed: 64 bytes appended after the data", comp + bytes(64))

    # ---- bit flips in the blob: header fields, index, stream, payload
    add("flip_blob_magic", "open", "bad magic", "blob magic UWTB with one bit flipped", flip(comp, base + 1, 3))
    add("flip_blob_version", "open", "format version 3 not supported", "blob format version 1 -> 3 (bit flip)", flip(comp, base + 4, 1))
    add("flip_blob_dtype", "open", "dtype code", "blob dtype 1 -> 3 (bit flip)", flip(comp, base + 8, 1))
    add("flip_blob_codec", "open", "codec 5 unknown", "blob codec byte flipped", flip(comp, base + 9, 2))
    add("flip_blob_reserved", "open", "reserved header bytes", "reserved blob header byte 15 set", flip(comp, base + 15, 0))
    add("flip_blob_rows", "open", "header describes", "blob rows 64 -> 65: no longer the original shape", flip(comp, base + 16, 0))
    add("flip_blob_nsym", "open", "palette size", "palette size nibble flipped", flip(comp, base + 11, 4))
    add("flip_blob_code_lengths", "open", "length-0 code", "a code length nibble flipped (not a complete prefix code)",
        flip(comp, base + L["lengths"][0], 1))
    add("flip_blob_lane_offset", "open", "outside the tile", "high bit of a lane offset flipped: lane outside its tile",
        flip(comp, base + L["laneoff"][0] + 3, 7))
    add("flip_blob_stream_bytes", "open", "header describes", "stream length field (count) flipped", flip(comp, base + 64, 5))
    add("flip_blob_stream", "payload", "checksum mismatch", "one bit of the exponent stream flipped",
        flip(comp, base + L["stream"][0] + L["stream"][1] // 2, 4))
    add("flip_blob_plane", "payload", "checksum mismatch", "one bit of the sign/mantissa plane flipped",
        flip(comp, base + L["plane"][0] + 1000, 6))
    add("flip_blob_tensor_hash", "payload", "checksum mismatch", "tensor checksum field flipped", flip(comp, base + 112, 0))
    add("flip_blob_blob_hash", "payload", "checksum mismatch", "blob checksum field flipped", flip(comp, base + 127, 7))
    if L["end"][1]:
        add("flip_blob_padding", "open", "padding", "zero padding after the payload set", flip(comp, base + L["end"][0], 0))
    add("flip_palette_exception_index", "open", "exception index", "palette IR: exception index entry flipped",
        flip(pal, pbase + PL["excidx"][0] + 8, 0))
    add("flip_palette_nibbles", "payload", "checksum mismatch", "palette IR: a nibble flipped",
        flip(pal, pbase + PL["nibbles"][0] + 7, 0))
    pt = 8 + cn + C.hdr["scale"]["data_offsets"][0]
    add("flip_passthrough_data", "payload", "passthrough tensor checksum", "a passthrough tensor's byte flipped", flip(comp, pt + 2, 1))

    # ---- offsets past the end, overlapping tensors
    h = json.loads(plain[8:8 + pn])
    def plain_with(edit, data=plain[8 + pn:]):
        x = json.loads(plain[8:8 + pn])
        edit(x)
        return header_bytes(x, 8) + data
    add("offsets_past_end", "open", "past the end", "last tensor's data_offsets point past the end of the file",
        plain_with(lambda x: x["scale"].__setitem__("data_offsets", [x["scale"]["data_offsets"][0] + 16, x["scale"]["data_offsets"][1] + 16])))
    add("offsets_overlap", "open", "overlapping tensors", "two tensors share bytes",
        plain_with(lambda x: x["scale"].__setitem__("data_offsets", [x["scale"]["data_offsets"][0] - 8, x["scale"]["data_offsets"][1] - 8])))
    add("offsets_hole", "open", "hole in the data section", "8 unused bytes between two tensors",
        plain_with(lambda x: x["scale"].__setitem__("data_offsets", [x["scale"]["data_offsets"][0] + 8, x["scale"]["data_offsets"][1] + 8]),
                   plain[8 + pn:] + bytes(8)))
    add("offsets_reversed", "open", "begin <= end", "data_offsets [end, begin]",
        plain_with(lambda x: x["scale"].__setitem__("data_offsets", x["scale"]["data_offsets"][::-1])))
    c = Compressed(comp)
    c.hdr = dict(c.hdr)
    c.hdr[W] = dict(c.hdr[W], data_offsets=[wb, we + 64], shape=[we + 64 - wb])
    add("c_blob_past_end", "open", "overlapping tensors", "compressed: blob's data_offsets run into the next tensor", c.build())

    # ---- huge declared sizes (nothing may allocate them)
    add("huge_header_length", "open", "exceeds the 104857600-byte limit", "header length field 2^62", struct.pack("<Q", 1 << 62) + plain[8:])
    add("huge_header_101MiB", "open", "exceeds the 104857600-byte limit", "header length 101 MiB (the limit is 100 MiB)", struct.pack("<Q", 101 << 20) + plain[8:])
    add("huge_shape_overflow", "open", "2^50", "shape [2^32, 2^32, 2^32]: the element count overflows",
        plain_with(lambda x: x["scale"].__setitem__("shape", [1 << 32, 1 << 32, 1 << 32])))
    add("huge_tensor_no_data", "open", "bytes in data_offsets", "shape [2^24, 2^20] (2^45 bytes) backed by 16 bytes",
        plain_with(lambda x: x["scale"].__setitem__("shape", [1 << 24, 1 << 20])))
    c = Compressed(comp)
    o = json.loads(json.dumps(c.orig))
    o[W]["shape"] = [1 << 15, 1 << 16]  # 2^31 elements: 4 GiB decoded
    o[W]["data_offsets"] = [0, 2 << 31]
    for k in o:
        if k not in ("__metadata__", W):
            o[k]["data_offsets"] = [d - 8192 + (2 << 31) for d in o[k]["data_offsets"]]
    c.set_orig(o)
    c.um["tensors"][W]["shape"] = [1 << 15, 1 << 16]
    add("huge_original_tensor", "open", "blob holds", "compressed: original header declares a 4 GiB tensor, the blob is 5 KB", c.build())
    c = Compressed(comp)
    big = bytearray(comp[base:8 + cn + we])
    struct.pack_into("<QQ", big, 16, 1 << 20, 1 << 20)
    add("huge_blob_shape", "open", "header describes", "blob header claims 2^20 x 2^20 elements",
        comp[:base] + bytes(big) + comp[8 + cn + we:])
    big = bytearray(comp[base:8 + cn + we])
    struct.pack_into("<Q", big, 64, 1 << 60)
    add("huge_blob_count", "open", "exceeds blob length", "blob stream length field 2^60", comp[:base] + bytes(big) + comp[8 + cn + we:])
    big = bytearray(comp[base:8 + cn + we])
    struct.pack_into("<II", big, 32, 1 << 20, 1 << 20)
    add("huge_blob_tile", "open", "out of range", "blob tile 2^20 x 2^20", comp[:base] + bytes(big) + comp[8 + cn + we:])

    # ---- wrong dtype
    add("dtype_unknown", "open", "dtype 'BF17' unknown", "dtype BF17", plain_with(lambda x: x[W].__setitem__("dtype", "BF17")))
    add("dtype_not_string", "open", "non-string dtype", "dtype is a number", plain_with(lambda x: x[W].__setitem__("dtype", 16)))
    c = Compressed(comp)
    c.hdr = dict(c.hdr)
    c.hdr[W] = dict(c.hdr[W], dtype="I8")
    add("c_blob_not_u8", "open", "1-D U8 blob", "compressed: blob stored as I8", c.build())
    c = Compressed(comp)
    o = json.loads(json.dumps(c.orig))
    o[W]["dtype"] = "F16"
    c.set_orig(o)
    c.um["tensors"][W]["dtype"] = "F16"
    add("c_original_dtype_f16", "open", "original dtype F16", "compressed: the blob claims to code an F16 tensor", c.build())
    c = Compressed(comp)
    c.um["tensors"][W]["dtype"] = "F32"
    add("c_meta_dtype_mismatch", "open", "dtype that differs", "compressed: metadata dtype differs from the original header", c.build())

    # ---- JSON header malformed or enormous
    def raw_header(js, data=plain[8 + pn:]):
        js = js.encode() if isinstance(js, str) else js
        return struct.pack("<Q", len(js)) + js + data
    add("json_not_json", "open", "not valid JSON", "header is prose", raw_header("this is not JSON at all, no sir." + " " * pn)[:8 + pn + 32])
    add("json_array", "open", "not a JSON object", "header is a JSON array", raw_header("[1,2,3]", b""))
    add("json_truncated", "open", "not valid JSON", "header JSON cut short (length field consistent)", raw_header(plain[8:8 + pn // 2]))
    add("json_duplicate_key", "open", "duplicate", "the same tensor name twice",
        raw_header(plain[8:8 + pn].rstrip().replace(b'"scale":', b'"scale":{"dtype":"F32","shape":[4],"data_offsets":[8320,8336]},"scale":', 1)))
    add("json_trailing_garbage", "open", "not valid JSON", "garbage after the JSON object", raw_header(plain[8:8 + pn].rstrip() + b" x"))
    add("json_bad_utf8", "open", "not valid JSON", "invalid UTF-8 in a tensor name", raw_header(plain[8:8 + pn].replace(b"scale", b"sc\xffle")))
    add("json_nul_byte", "open", "not valid JSON", "a NUL byte inside the header", raw_header(plain[8:8 + pn].replace(b"scale", b"sc\x00le")))
    add("json_deep_nesting", "open", "nests", "metadata nested 5000 levels deep",
        raw_header('{"__metadata__":' + "[" * 5000 + "]" * 5000 + "}", b""))
    add("json_huge_array", "open", "more than 8 values", "a shape array of 20000 values",
        raw_header('{"x":{"dtype":"U8","shape":[' + ",".join(["1"] * 20000) + '],"data_offsets":[0,1]}}', b"\0"))
    add("json_extra_key", "open", "unexpected keys", "a tensor entry with an extra key",
        plain_with(lambda x: x[W].__setitem__("extra", 1)))
    add("json_missing_offsets", "open", "data_offsets must be", "a tensor entry without data_offsets", plain_with(lambda x: x[W].pop("data_offsets")))
    add("json_metadata_not_string", "open", "is not a string", "__metadata__ value is a number",
        plain_with(lambda x: x["__metadata__"].__setitem__("format", 1)))
    add("json_negative_dim", "open", "non-negative", "a negative dimension", plain_with(lambda x: x[W].__setitem__("shape", [-64, -64])))
    add("json_too_many_dims", "open", "8 values", "a shape of 9 dimensions",
        plain_with(lambda x: x["scale"].__setitem__("shape", [4, 1, 1, 1, 1, 1, 1, 1, 1])))
    add("json_long_name", "open", "exceeds 4096", "a tensor name of 5000 bytes",
        raw_header(plain[8:8 + pn].replace(b'"scale"', b'"' + b"s" * 5000 + b'"')))
    c = Compressed(comp)
    c.hdr["__metadata__"] = dict(c.hdr["__metadata__"])
    hb = c.build()
    hb = hb.replace(b'\\"format\\":\\"unweight\\"', b'\\"format\\"=\\"unweight\\"', 1)
    add("c_meta_not_json", "open", "not a JSON object", "compressed: __metadata__.unweight is not valid JSON", hb)
    c = Compressed(comp)
    c.um["version"] = 2
    add("c_meta_version_2", "open", "version 2 not supported", "compressed: container version 2", c.build())
    c = Compressed(comp)
    c.um["tensors"]["ghost"] = dict(c.um["tensors"][W])
    add("c_meta_ghost_tensor", "open", "absent from the original header", "compressed: metadata lists a tensor the file lacks", c.build())
    c = Compressed(comp)
    c.um["original_headr"] = c.um.pop("original_header")
    add("c_meta_missing_key", "open", "lacks original_header", "compressed: key original_header misspelt", c.build())
    c = Compressed(comp)
    c.um["original_header_sha"] = "0"
    add("c_meta_unknown_key", "open", "unknown key 'original_header_sha'", "compressed: an unknown key in the unweight metadata", c.build())
    c = Compressed(comp)
    c.um["original_header"] = c.um["original_header"].replace('"format":"pt"', '"format":"pu"')
    add("c_original_header_hash", "open", "original header checksum mismatch", "compressed: one letter of the original header changed", c.build())
    c = Compressed(comp)
    c.um["tensors"][W]["codec"] = "palette"
    add("c_meta_codec_mismatch", "open", "names codec palette", "compressed: metadata says palette, the blob is Huffman", c.build())

    # ---- zero-sized tensors
    add("zero_size_with_bytes", "open", "shape x dtype needs 0", "shape [0, 64] with 128 bytes of data",
        plain_with(lambda x: x["layers.0.norm.weight"].__setitem__("shape", [0, 64])))
    c = Compressed(comp)
    o = json.loads(json.dumps(c.orig))
    o[W]["shape"] = [0, 64]
    o[W]["data_offsets"] = [0, 0]
    for k in o:
        if k not in ("__metadata__", W):
            o[k]["data_offsets"] = [d - 8192 for d in o[k]["data_offsets"]]
    c.set_orig(o)
    c.um["tensors"][W]["shape"] = [0, 64]
    add("c_zero_size_compressed", "open", "blob holds", "compressed: a zero-element tensor stored as a blob", c.build())

    # ---- mismatched shapes
    add("shape_bytes_mismatch", "open", "shape x dtype needs", "shape [64, 64] but 4096 bytes of data_offsets",
        plain_with(lambda x: x[W].__setitem__("shape", [64, 32])))
    c = Compressed(comp)
    c.um["tensors"][W]["shape"] = [32, 128]
    add("c_meta_shape_mismatch", "open", "shape that differs", "compressed: metadata shape [32, 128] vs original [64, 64]", c.build())
    c = Compressed(comp)
    c.hdr = dict(c.hdr)
    c.hdr["scale"] = dict(c.hdr["scale"], shape=[2, 2])
    add("c_passthrough_shape", "open", "passthrough tensor 'scale' differs", "compressed: passthrough stored as [2, 2], original [4]", c.build())
    big = bytearray(comp[base:8 + cn + we])
    struct.pack_into("<QQ", big, 16, 32, 128)
    add("c_blob_other_matrix_view", "open", "header describes", "blob header says 32 x 128 (same count, other layout)",
        comp[:base] + bytes(big) + comp[8 + cn + we:])

    with open(os.path.join(HERE, "manifest.tsv"), "w") as m:
        m.write("# file\texit\tlevel\tmessage substring\twhat is wrong (generated by make_invalid.py)\n")
        m.write("valid_plain.safetensors\t0\tcontrol\t-\tthe plain base file (must be accepted)\n")
        m.write("valid_compressed.safetensors\t0\tcontrol\t-\tthe compressed base file (must be accepted)\n")
        for name, level, msg, what, raw in cases:
            open(os.path.join(HERE, name), "wb").write(raw)
            m.write("%s\t2\t%s\t%s\t%s\n" % (name, level, msg, what))
    print("%d invalid files" % len(cases))


main()
