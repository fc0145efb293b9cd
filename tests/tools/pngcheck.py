#!/usr/bin/python3
"""Small PNG reader for the tests (no imaging library needed).

    pngcheck.py FILE                 prints "WIDTH HEIGHT CHANNELS"; exit 1 if not a valid PNG
    pngcheck.py FILE --pixels OUT    also writes the raw 8-bit pixels (row-major, interleaved)

Checks the signature, every chunk's CRC, IHDR, and that the IDAT stream
inflates to exactly the expected size.  Handles 8-bit grey, RGB and RGBA,
non-interlaced, with any of the five row filters.
"""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("no PNG signature")
    pos, chunks = 8, []
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(tag + body) & 0xFFFFFFFF != crc:
            raise ValueError("bad CRC in %r" % tag)
        chunks.append((tag, body))
        pos += 12 + n
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise ValueError("IHDR or IEND missing")
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = {0: 1, 2: 3, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        raise ValueError("unsupported PNG: depth %d colour type %d" % (depth, ctype))
    raw = zlib.decompress(b"".join(b for t, b in chunks if t == b"IDAT"))
    stride = w * channels
    if len(raw) != h * (stride + 1):
        raise ValueError("IDAT holds %d bytes, expected %d" % (len(raw), h * (stride + 1)))
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if f == 1: row[i] = (row[i] + a) & 255
            elif f == 2: row[i] = (row[i] + b) & 255
            elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            elif f != 0: raise ValueError("bad filter %d" % f)
        out += row
        prev = row
    return w, h, channels, bytes(out)


if __name__ == "__main__":
    try:
        w, h, c, px = read_png(sys.argv[1])
    except (OSError, ValueError, zlib.error) as e:
        print("not a valid PNG: %s" % e)
        sys.exit(1)
    print(w, h, c)
    if len(sys.argv) > 3 and sys.argv[2] == "--pixels":
        open(sys.argv[3], "wb").write(px)
