"""Writes a still photo as a short Y4M (YUV 4:2:0) stream for Chromium's fake camera.

Usage: make_y4m.py INPUT.jpg OUTPUT.y4m [WIDTH HEIGHT FRAMES]

The photo is scaled to fit the frame's height (keeping its aspect) on a mid-grey background,
as a person standing in front of a kiosk camera. Chromium loops the file
(--use-file-for-fake-video-capture), so a few frames suffice.
"""

import sys

import numpy as np
from PIL import Image


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    width, height, frames = (int(v) for v in (sys.argv[3:6] or (640, 480, 10)))
    photo = Image.open(source).convert("RGB")
    scale = (height * 0.92) / photo.height
    photo = photo.resize((max(2, int(photo.width * scale)), max(2, int(photo.height * scale))), Image.LANCZOS)
    canvas = Image.new("RGB", (width, height), (118, 124, 130))
    canvas.paste(photo, ((width - photo.width) // 2, (height - photo.height) // 2))
    ycbcr = np.asarray(canvas.convert("YCbCr"), dtype=np.float32)
    y = ycbcr[:, :, 0].astype(np.uint8)
    # 4:2:0: average each 2x2 block of the chroma planes.
    def subsample(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)).round().astype(np.uint8)
    u, v = subsample(ycbcr[:, :, 1]), subsample(ycbcr[:, :, 2])
    frame = b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes()
    with open(target, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(frame)


if __name__ == "__main__":
    main()
