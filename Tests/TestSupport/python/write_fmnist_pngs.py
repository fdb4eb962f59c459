"""Writes Fashion-MNIST images as 8-bit grey PNGs into one folder, with no class subfolders
(an unlabeled set), using zlib and struct only.

usage: write_fmnist_pngs.py IDX_DIR SPLIT START END OUT_DIR   (SPLIT: train or t10k)
prints {"written": n}; image i becomes OUT_DIR/img-<i, 5 digits>.png
"""
import gzip
import json
import os
import struct
import sys
import zlib

directory, split, start, end, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
with gzip.open(f"{directory}/{split}-images-idx3-ubyte.gz") as f:
    data = f.read()
count, rows, columns = struct.unpack(">III", data[4:16])
assert 0 <= start < end <= count, "range outside the file"


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


os.makedirs(out, exist_ok=True)
for i in range(start, end):
    pixels = data[16 + i * rows * columns:16 + (i + 1) * rows * columns]
    raw = b"".join(b"\x00" + pixels[y * columns:(y + 1) * columns] for y in range(rows))
    header = struct.pack(">IIBBBBB", columns, rows, 8, 0, 0, 0, 0)
    with open(os.path.join(out, f"img-{i:05d}.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
json.dump({"written": end - start}, sys.stdout)
