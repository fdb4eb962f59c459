"""Decodes an 8-bit PNG (grey, RGB or RGBA, non-interlaced) with zlib and struct only, and
reports its size, how many distinct colours it has and the fraction of non-white pixels.

usage: png_stats.py FILE.png
prints {"width": W, "height": H, "colours": N, "non_white": F}
"""
import json
import struct
import sys
import zlib

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
assert depth == 8 and interlace == 0 and colour in (0, 2, 6), "unsupported PNG layout"
bpp = {0: 1, 2: 3, 6: 4}[colour]
raw = zlib.decompress(idat)
stride = width * bpp
rows, previous, i = [], bytearray(stride), 0
for _ in range(height):
    kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = previous[x]
        c = previous[x - bpp] if x >= bpp else 0
        if kind == 1:
            line[x] = (line[x] + a) & 255
        elif kind == 2:
            line[x] = (line[x] + b) & 255
        elif kind == 3:
            line[x] = (line[x] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    previous = line
pixels = [row[x:x + bpp] for row in rows for x in range(0, stride, bpp)]
white = bytes([255] * bpp)
non_white = sum(1 for p in pixels if p != white and not (bpp == 4 and p[3] == 0))
print(json.dumps({"width": width, "height": height, "colours": len(set(pixels)), "non_white": non_white / len(pixels)}))
