#!/usr/bin/env python3
"""Make a library of N tiny JPEGs (32x24, ~1 KB each, with a DateTimeOriginal each) in 100
folders, for the 100 000-photo re-scan, memory and timeline benches: what they measure is per
file (walk, stat, index records), not per pixel. Resumable and deterministic.

Usage: mktiny.py OUTDIR N
"""
import io, os, sys
from PIL import Image
import piexif

OUT, N = sys.argv[1], int(sys.argv[2])
buf = io.BytesIO()
Image.new("RGB", (32, 24), (90, 140, 200)).save(buf, "JPEG", quality=80)
BASE = buf.getvalue()
for i in range(N):
    folder = os.path.join(OUT, f"{2000 + i % 25}", f"album{i % 100:02d}")
    path = os.path.join(folder, f"img{i:06d}.jpg")
    if os.path.exists(path):
        continue
    os.makedirs(folder, exist_ok=True)
    day, sec = i % 28 + 1, i % 86400
    when = f"{2000 + i % 25}:{i % 12 + 1:02d}:{day:02d} {sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
    exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"Bench"},
                        "Exif": {piexif.ExifIFD.DateTimeOriginal: when.encode()}})
    out = io.BytesIO()
    piexif.insert(exif, BASE, out)
    with open(path + ".tmp", "wb") as f:
        f.write(out.getvalue())
    os.rename(path + ".tmp", path)
print(f"{N} tiny photos in {OUT}")
