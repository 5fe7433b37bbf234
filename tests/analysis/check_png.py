#!/usr/bin/env python3
"""`check_png.py MIN_WIDTH MIN_HEIGHT FILE...`: each FILE is a PNG (signature and IHDR), at least
that large, and decodes to a drawn figure (enough non-white pixels, several colours and pixel variance), so
an empty or blank plot fails. Exit 0 when all are, 1 otherwise, with the reason."""

import struct
import sys

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402  (after the backend choice)

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(path, min_w, min_h):
    with open(path, "rb") as f:
        head = f.read(33)
        size = 33 + len(f.read())
    if head[:8] != SIGNATURE or head[12:16] != b"IHDR":
        print("FAIL: %s is not a PNG (signature %r)" % (path, head[:8]))
        return 1
    width, height = struct.unpack(">II", head[16:24])
    if width < min_w or height < min_h or size < 5000:
        print("FAIL: %s is %dx%d, %d bytes (want at least %dx%d and 5000 bytes)"
              % (path, width, height, size, min_w, min_h))
        return 1
    img = matplotlib.image.imread(path)[:, :, :3]
    drawn = float(np.mean(np.any(img < 0.95, axis=2)))
    rgb = (img[::2, ::2] * 255).astype(np.uint32)  # every 4th pixel: large plots stay fast
    colours = len(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]))
    grey = float(np.var(img))  # pixel variance: a blank or one-colour image has ~0
    if drawn < 0.02 or colours < 8 or grey < 1e-3:
        print("FAIL: %s looks blank (%.1f%% drawn pixels, %d colours, pixel variance %.2g)"
              % (path, 100 * drawn, colours, grey))
        return 1
    print("ok: %s is a %dx%d PNG, %d bytes, %.1f%% drawn, %d colours, pixel variance %.3f"
          % (path, width, height, size, 100 * drawn, colours, grey))
    return 0


def main():
    min_w, min_h = int(sys.argv[1]), int(sys.argv[2])
    return max(check_png(path, min_w, min_h) for path in sys.argv[3:])


if __name__ == "__main__":
    sys.exit(main())
