#!/usr/bin/env python3
"""Draws web/static/images/pokeball.png (64x64 RGBA) from circles and a band, with 4x4
supersampling for smooth edges, and writes it with zlib alone (no imaging library), so the
picture is made here rather than downloaded. Deterministic: the same bytes every run.

    python3 scripts/make-pokeball.py [OUTPUT]
"""
import struct
import sys
import zlib
from pathlib import Path

SIZE = 64
SS = 4  # samples per pixel side
RED, WHITE, BLACK = (227, 53, 13), (250, 250, 250), (30, 30, 30)


def colour_at(x: float, y: float):
    """Colour of the point (x, y) in pixel units, or None outside the ball."""
    cx = cy = SIZE / 2
    dx, dy = x - cx, y - cy
    r = (dx * dx + dy * dy) ** 0.5
    outer = SIZE / 2 - 1
    if r > outer:
        return None
    if r > outer - 3.5:                  # outline
        return BLACK
    if r < 6.5:                          # button
        return WHITE
    if r < 11:                           # button ring
        return BLACK
    if abs(dy) < 3.2:                    # band
        return BLACK
    return RED if dy < 0 else WHITE


def render() -> bytes:
    rows = []
    for py in range(SIZE):
        row = bytearray([0])  # filter type 0
        for px in range(SIZE):
            acc = [0, 0, 0]
            hits = 0
            for sy in range(SS):
                for sx in range(SS):
                    c = colour_at(px + (sx + 0.5) / SS, py + (sy + 0.5) / SS)
                    if c is not None:
                        hits += 1
                        for i in range(3):
                            acc[i] += c[i]
            if hits:
                row += bytes(round(a / hits) for a in acc) + bytes([round(255 * hits / (SS * SS))])
            else:
                row += bytes(4)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "web/static/images/pokeball.png"
    out.write_bytes(render())
    print(out)
