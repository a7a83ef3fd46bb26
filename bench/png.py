# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny PNG line chart written with zlib and struct only (the benchmark needs no plotting
package): cumulative distributions on linear axes, tick labels in a 3x5 pixel font."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct
import zlib

# 3x5 glyphs, one string of 15 bits (rows top to bottom) per character.
_FONT = {
    '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111',
    '4': '101101111001001', '5': '111100111001111', '6': '111100111101111', '7': '111001010010010',
    '8': '111101111101111', '9': '111101111001111', '.': '000000000000010', '%': '101001010100101',
    'm': '000000111111101', 's': '000111100011111', ' ': '000000000000000',
}


class Canvas:
    def __init__(self, width, height, background=(255, 255, 255)):
        self.width, self.height = width, height
        self.pixels = [bytearray(background * width) for _row in range(height)]

    def dot(self, x, y, color):
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[y][3 * x:3 * x + 3] = bytes(color)

    def line(self, x0, y0, x1, y1, color, thick=1):
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(steps + 1):
            x = int(round(x0 + (x1 - x0) * i / steps))
            y = int(round(y0 + (y1 - y0) * i / steps))
            for dx in range(thick):
                for dy in range(thick):
                    self.dot(x + dx, y + dy, color)

    def text(self, x, y, text, color=(0, 0, 0), scale=2):
        for ch in text:
            glyph = _FONT.get(ch, _FONT[' '])
            for i, bit in enumerate(glyph):
                if bit == '1':
                    for dx in range(scale):
                        for dy in range(scale):
                            self.dot(x + (i % 3) * scale + dx, y + (i // 3) * scale + dy, color)
            x += 4 * scale

    def png(self):
        raw = b''.join(b'\x00' + bytes(row) for row in self.pixels)

        def chunk(kind, data):
            return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
        return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', self.width, self.height, 8, 2, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))


def _nice_step(span, ticks=6):
    raw = span / ticks
    scale = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for mult in (1, 2, 5, 10):
        if raw <= mult * scale:
            return mult * scale
    return 10 * scale


def cdf_chart(path, series, x_max=None, width=800, height=480, unit='ms'):
    """Write ``path``: one cumulative distribution per ``(values, rgb)`` in ``series``,
    x from 0 to ``x_max`` (default: the largest value), y from 0 to 100 %."""
    values = [v for vals, _color in series for v in vals]
    x_max = x_max or (max(values) if values else 1.0) or 1.0
    c = Canvas(width, height)
    left, right, top, bottom = 60, width - 20, 20, height - 40
    grid = (225, 225, 225)
    step = _nice_step(x_max)
    tick = 0.0
    while tick <= x_max + 1e-9:
        x = left + int((right - left) * tick / x_max)
        c.line(x, top, x, bottom, grid)
        label = ('%g' % tick) + (unit if tick == 0 else '')
        c.text(x - 4 * len(label), bottom + 8, label)
        tick += step
    for pct in range(0, 101, 20):
        y = bottom - int((bottom - top) * pct / 100)
        c.line(left, y, right, y, grid)
        label = '%d%%' % pct
        c.text(left - 8 - 8 * len(label), y - 5, label)
    for pct in (50, 99):
        y = bottom - int((bottom - top) * pct / 100)
        c.line(left, y, right, y, (190, 190, 190))
        c.text(right - 24, y - 12, '%d' % pct, (120, 120, 120))
    c.line(left, bottom, right, bottom, (0, 0, 0))
    c.line(left, top, left, bottom, (0, 0, 0))
    for vals, color in series:
        vals = sorted(vals)
        px, py = left, bottom
        for i, v in enumerate(vals):
            x = left + int((right - left) * min(v, x_max) / x_max)
            y = bottom - int((bottom - top) * (i + 1) / len(vals))
            c.line(px, py, x, py, color, 2)
            c.line(x, py, x, y, color, 2)
            px, py = x, y
    with open(path, 'wb') as f:
        f.write(c.png())
