"""A Figure-2-style chart for scripts/reproduce.py: train error and test
error against the iteration, two panels side by side, each curve the mean
over seeds with a lighter band from the lowest to the highest seed.

Drawn into a numpy RGB array with our own 3x5 pixel font and written by
dataset_layout.write_png (zlib + struct), so no plotting library is needed.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset_layout as dl  # noqa: E402

WIDTH, HEIGHT = 1000, 420
COLOURS = [(31, 90, 200), (210, 40, 40), (30, 150, 60), (150, 60, 180), (230, 140, 20),
           (140, 86, 75), (227, 119, 194), (100, 100, 100), (170, 170, 30), (20, 180, 200)]

# 3 columns x 5 rows a glyph, rows top to bottom, '#' = ink.
_GLYPHS = """
0 ### #.# #.# #.# ###|1 .#. ##. .#. .#. ###|2 ### ..# ### #.. ###|3 ### ..# ### ..# ###
4 #.# #.# ### ..# ..#|5 ### #.. ### ..# ###|6 ### #.. ### #.# ###|7 ### ..# ..# .#. .#.
8 ### #.# ### #.# ###|9 ### #.# ### ..# ###|. ... ... ... ... .#.|% #.# ..# .#. #.. #.#
= ... ### ... ### ...|- ... ... ### ... ...|, ... ... ... .#. #..|: ... .#. ... .#. ...
( .#. #.. #.. #.. .#.|) .#. ..# ..# ..# .#.|+ ... .#. ### .#. ...|/ ..# ..# .#. #.. #..
A .#. #.# ### #.# #.#|B ##. #.# ##. #.# ##.|C ### #.. #.. #.. ###|D ##. #.# #.# #.# ##.
E ### #.. ##. #.. ###|F ### #.. ##. #.. #..|G ### #.. #.# #.# ###|H #.# #.# ### #.# #.#
I ### .#. .#. .#. ###|J ..# ..# ..# #.# ###|K #.# #.# ##. #.# #.#|L #.. #.. #.. #.. ###
M #.# ### ### #.# #.#|N ##. #.# #.# #.# #.#|O ### #.# #.# #.# ###|P ### #.# ### #.. #..
Q ### #.# #.# ### ..#|R ##. #.# ##. #.# #.#|S ### #.. ### ..# ###|T ### .#. .#. .#. .#.
U #.# #.# #.# #.# ###|V #.# #.# #.# #.# .#.|W #.# #.# ### ### #.#|X #.# #.# .#. #.# #.#
Y #.# #.# .#. .#. .#.|Z ### ..# .#. #.. ###|* #.# .#. ### .#. #.#|_ ... ... ... ... ###
"""
FONT = {}
for entry in _GLYPHS.replace("\n", "|").split("|"):
    if entry.strip():
        ch, rows = entry.strip()[0], entry.strip()[1:].split()
        FONT[ch] = [[c == "#" for c in r] for r in rows]


def text(img, x, y, s, colour=(0, 0, 0), scale=2):
    """Upper-case text with its top-left corner at (x, y); unknown characters are blanks."""
    for ch in s.upper():
        glyph = FONT.get(ch)
        if glyph:
            for r, row in enumerate(glyph):
                for c, ink in enumerate(row):
                    if ink:
                        y0, x0 = y + r * scale, x + c * scale
                        img[max(y0, 0):y0 + scale, max(x0, 0):x0 + scale] = colour
        x += 4 * scale


def text_width(s, scale=2):
    return len(s) * 4 * scale


def line(img, x0, y0, x1, y1, colour, thick=2):
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.linspace(x0, x1, n).round().astype(int)
    ys = np.linspace(y0, y1, n).round().astype(int)
    h, w = img.shape[:2]
    for dx in range(thick):
        for dy in range(thick):
            ok = (xs + dx >= 0) & (xs + dx < w) & (ys + dy >= 0) & (ys + dy < h)
            img[ys[ok] + dy, xs[ok] + dx] = colour


class Panel:
    """A plotting area with error (%) up, from y_min, and iteration (or
    x_label) across."""

    def __init__(self, img, left, top, width, height, x_max, y_max, y_min=0.0, x_label="ITERATION"):
        self.img, self.left, self.top, self.w, self.h = img, left, top, width, height
        self.x_max, self.y_max, self.y_min = max(x_max, 1), max(y_max, y_min + 1e-9), y_min
        self.x_label = x_label

    def px(self, x, y):
        return (self.left + x / self.x_max * self.w,
                self.top + self.h - (y - self.y_min) / (self.y_max - self.y_min) * self.h)

    def axes(self, title):
        img = self.img
        line(img, self.left, self.top + self.h, self.left + self.w, self.top + self.h, (0, 0, 0), 1)
        line(img, self.left, self.top, self.left, self.top + self.h, (0, 0, 0), 1)
        for i in range(5):
            yv = self.y_min + (self.y_max - self.y_min) * i / 4
            _, py = self.px(0, yv)
            line(img, self.left - 4, py, self.left + self.w, py, (225, 225, 225), 1)
            label = "%g" % round(yv, 2)
            text(img, self.left - 8 - text_width(label), int(py) - 5, label)
            xv = self.x_max * i / 4
            px, _ = self.px(xv, 0)
            label = "%d" % round(xv)
            text(img, int(px) - text_width(label) // 2, self.top + self.h + 8, label)
        text(img, self.left + (self.w - text_width(title)) // 2, self.top - 22, title)
        text(img, self.left + (self.w - text_width(self.x_label)) // 2, self.top + self.h + 26, self.x_label)

    def band(self, xs, lo, hi, colour):
        pale = tuple(int(c + (255 - c) * 0.75) for c in colour)
        for i in range(len(xs) - 1):
            x0, _ = self.px(xs[i], 0)
            x1, _ = self.px(xs[i + 1], 0)
            for xpix in range(int(round(x0)), int(round(x1)) + 1):
                t = 0 if x1 == x0 else (xpix - x0) / (x1 - x0)
                low = lo[i] + t * (lo[i + 1] - lo[i])
                high = hi[i] + t * (hi[i + 1] - hi[i])
                _, ytop = self.px(0, min(high, self.y_max))
                _, ybot = self.px(0, min(low, self.y_max))
                self.img[int(round(ytop)):int(round(ybot)) + 1, xpix] = pale

    def curve(self, xs, ys, colour):
        for i in range(len(xs) - 1):
            x0, y0 = self.px(xs[i], min(ys[i], self.y_max))
            x1, y1 = self.px(xs[i + 1], min(ys[i + 1], self.y_max))
            line(self.img, x0, y0, x1, y1, colour)


def draw(path, series, x_max):
    """series: list of dicts {label, train: (xs, mean, lo, hi), test: (xs, mean, lo, hi)},
    errors in percent.  Writes a WIDTH x HEIGHT RGB PNG."""
    img = np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
    panels = []
    for i, (key, title) in enumerate((("train", "TRAIN ERROR (%)"), ("test", "TEST ERROR (%)"))):
        top = max([max(s[key][3]) for s in series if len(s[key][0])] + [1.0])
        y_max = min(100.0, top * 1.1)
        p = Panel(img, 70 + i * 490, 40, 400, 300, x_max, y_max)
        p.axes(title)
        panels.append((key, p))
    for draw_band in (True, False):          # every band first, so that no band hides a curve
        for k, s in enumerate(series):
            colour = COLOURS[k % len(COLOURS)]
            for key, p in panels:
                xs, mean, lo, hi = s[key]
                if len(xs) > 1 and draw_band:
                    p.band(xs, lo, hi, colour)
                elif len(xs) > 1:
                    p.curve(xs, mean, colour)
    for k, s in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        y = HEIGHT - 26
        x = 70 + k * 300
        img[y:y + 10, x:x + 20] = colour
        text(img, x + 26, y, s["label"][:32])
    dl.write_png(path, img)


def draw_cost(path, points):
    """Test error against training time, one point a cell with its 95 %
    interval as a vertical bar: points are dicts {label, seconds, mean, low,
    high}.  Writes a WIDTH x HEIGHT RGB PNG."""
    img = np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
    lows = [p["low"] if p["low"] is not None else p["mean"] for p in points]
    highs = [p["high"] if p["high"] is not None else p["mean"] for p in points]
    span = max(max(highs) - min(lows), 0.1)
    panel = Panel(img, 70, 40, 620, 300, max(p["seconds"] for p in points) * 1.15,
                  max(highs) + span * 0.1, max(0.0, min(lows) - span * 0.1), "TRAINING SECONDS PER EPOCH")
    panel.axes("TEST ERROR (%) AGAINST TRAINING TIME")
    for k, (p, low, high) in enumerate(zip(points, lows, highs)):
        colour = COLOURS[k % len(COLOURS)]
        x, y = panel.px(p["seconds"], p["mean"])
        _, y_low = panel.px(p["seconds"], low)
        _, y_high = panel.px(p["seconds"], high)
        line(img, x, y_low, x, y_high, colour)
        img[int(y) - 4:int(y) + 5, int(x) - 4:int(x) + 5] = colour
        text(img, int(x) + 8, int(y) - 5, str(k + 1), colour)
        ly = 50 + 18 * k
        img[ly:ly + 10, 712:732] = colour
        text(img, 738, ly, ("%d " % (k + 1) + p["label"])[:31])
    dl.write_png(path, img)
