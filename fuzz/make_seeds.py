"""Writes small, synthetic seed inputs for simgate's fuzz targets (run by scripts/fuzz.sh).

Seeds are generated at run time, never committed: a few valid inputs per target give libFuzzer
a start past the first checks (a decodable image, a well-formed MRZ, a multipart body with the
endpoint's fields, a manifest line). Images are drawn here with Pillow; when the fetched face
photos exist (fixtures/faces, gitignored), downscaled copies are added, still only under the
output directory. MRZ lines are the ICAO 9303 worked examples ("UTO" is ICAO's fictional state).

Usage: python make_seeds.py OUT_DIR [REPO_ROOT]
"""

import io
import os
import struct
import sys
from pathlib import Path

try:
    from PIL import Image, ImageDraw, ImageFont
except ImportError:  # Without Pillow only the text seeds are written; the image targets start empty.
    Image = None

TD3 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]
TD2 = ["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"]
TD1 = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
]
MRVA = [
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
]
MRVB = ["V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "L8988901C4XXX4009078F9612109<<<<<<<<"]
OCRB_FONT = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"


def write(out: Path, target: str, name: str, data: bytes) -> None:
    folder = out / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def encode(image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def face_trailer(first_byte: int) -> bytes:
    """Two fake detections for TrailerFaceEngine (fuzz/src/lib.rs), read from the input's end.

    The engine letterboxes to a side picked by the input's first byte; the anchor is put in
    the middle of the stride-8 grid for that side, with a box about four anchors wide and
    landmarks where eyes, nose and mouth would be, so the quality gate runs on a face-like
    geometry.
    """
    side = [32, 64, 96, 128][first_byte % 4]
    columns = side // 8
    anchor = (columns // 2) * columns + columns // 2

    def signed(value: float) -> int:
        return int(round(value * 8)) & 0xFF

    hits = b""
    for offset, score in ((0, 255), (3, 10)):
        landmarks = [-0.6, -0.5, 0.6, -0.5, 0.0, 0.1, -0.45, 0.6, 0.45, 0.6]
        hits += bytes([0]) + struct.pack("<H", anchor + offset) + bytes([score])
        hits += bytes(signed(v) for v in (0.0, 0.0, 1.4, 1.6))
        hits += bytes(signed(v) for v in landmarks)
    return hits


def image_seeds(out: Path, root: Path) -> None:
    if Image is None:
        print("make_seeds: Pillow missing; image targets start from an empty corpus")
        return
    gradient = Image.new("RGB", (64, 48))
    gradient.putdata([(x * 4, y * 5, (x * y) % 256) for y in range(48) for x in range(64)])
    face = Image.new("RGB", (96, 96), (200, 170, 150))
    draw = ImageDraw.Draw(face)
    draw.ellipse((20, 10, 76, 86), fill=(225, 190, 170))
    for eye_x in (36, 60):
        draw.ellipse((eye_x - 6, 36, eye_x + 6, 44), fill=(250, 250, 250))
        draw.ellipse((eye_x - 3, 37, eye_x + 3, 43), fill=(40, 30, 20))
    draw.line((48, 46, 46, 60), fill=(150, 110, 100), width=2)
    draw.arc((36, 60, 60, 74), 0, 180, fill=(150, 60, 60), width=3)
    images = {
        "gradient.png": encode(gradient, "PNG"),
        "gradient.jpg": encode(gradient, "JPEG", quality=80),
        "gradient-progressive.jpg": encode(gradient, "JPEG", quality=70, progressive=True),
        "gray.png": encode(gradient.convert("L"), "PNG"),
        "rgba.png": encode(gradient.convert("RGBA"), "PNG"),
        "palette.png": encode(gradient.convert("P"), "PNG"),
        "face.png": encode(face, "PNG"),
        "face.jpg": encode(face, "JPEG", quality=85),
    }
    try:
        images["face.webp"] = encode(face, "WEBP", quality=80)
        images["face-lossless.webp"] = encode(face, "WEBP", lossless=True)
    except (KeyError, OSError):
        pass
    # EXIF orientation 6 (rotate 90 degrees): the decoder applies it.
    exif = Image.Exif()
    exif[0x0112] = 6
    images["face-rotated.jpg"] = encode(face, "JPEG", quality=85, exif=exif.tobytes())
    photos = sorted((root / "fixtures" / "faces").glob("*/*.jpg"))[:4]
    for photo in photos:
        with Image.open(photo) as opened:
            small = opened.convert("RGB")
            small.thumbnail((128, 128))
            images[f"photo-{photo.stem}.jpg"] = encode(small, "JPEG", quality=80)
    for name, data in images.items():
        write(out, "image_quality", name, data)
        write(out, "image_quality", "trailer-" + name, data + face_trailer(data[0]))

    try:
        font = ImageFont.truetype(OCRB_FONT, 22)
    except OSError:
        font = ImageFont.load_default()
    for name, lines in (("td3", TD3), ("td1", TD1), ("td2", TD2)):
        width = 30 + 14 * len(lines[0])
        document = Image.new("RGB", (width, 150 + 30 * len(lines)), (235, 232, 220))
        draw = ImageDraw.Draw(document)
        draw.rectangle((20, 20, 110, 130), fill=(150, 140, 130))
        draw.text((130, 30), "PASSPORT  UTOPIA", fill=(40, 40, 90), font=font)
        for index, line in enumerate(lines):
            draw.text((15, 140 + 30 * index), line, fill=(10, 10, 10), font=font)
        data_png = encode(document, "PNG")
        data_jpg = encode(document, "JPEG", quality=85)
        write(out, "document_check", f"{name}.png", data_png)
        write(out, "document_check", f"{name}.jpg", data_jpg)
        write(out, "document_check", f"{name}-portrait.jpg", data_jpg + face_trailer(data_jpg[0]))
    write(out, "document_check", "gradient.png", images["gradient.png"])


def mrz_seeds(out: Path) -> None:
    for name, lines in (("td3", TD3), ("td2", TD2), ("td1", TD1), ("mrva", MRVA), ("mrvb", MRVB)):
        write(out, "mrz_text", name, "\n".join(lines).encode())
    write(out, "mrz_text", "td3-ocr-noise", ("  " + TD3[0].lower() + "\r\n\n" + TD3[1] + "  \n").encode())
    # OCR lookalikes in the number and a date (O for 0, I for 1): the corrector's input.
    noisy = TD3[1].replace("0", "O", 1).replace("1", "I", 1)
    write(out, "mrz_text", "td3-lookalikes", (TD3[0] + "\n" + noisy).encode())


def multipart_body(boundary: str, fields) -> bytes:
    body = b""
    for name, filename, content in fields:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename:
            body += b"Content-Type: image/jpeg\r\n"
        body += b"\r\n" + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def multipart_seeds(out: Path) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 32 + b"\xff\xd9"
    mrz = "\n".join(TD3).encode()
    endpoints = {
        0: [("reference", "a.jpg", jpeg), ("probe", "b.jpg", jpeg)],
        1: [("image", "doc.jpg", jpeg), ("mrz_text", None, mrz), ("channel", None, b"kiosk")],
        2: [("image", "doc.jpg", jpeg), ("back", "back.jpg", jpeg), ("mrz_text", None, mrz)],
        3: [("frames", f"f{i}.jpg", jpeg) for i in range(3)],
    }
    boundary = "simgate-fuzz-boundary"
    for endpoint, fields in endpoints.items():
        body = multipart_body(boundary, fields)
        for chunk in (0, 7):
            data = bytes([endpoint, chunk]) + boundary.encode() + b"\n" + body
            write(out, "multipart_uploads", f"endpoint{endpoint}-chunk{chunk}", data)


def token_seeds(out: Path) -> None:
    # Mode 0 takes the rest as the token; mode 1 splices the rest into a valid token.
    write(out, "jwt_verify", "shape", b"\x00eyJhbGciOiJFZERTQSJ9.e30.c2ln")
    write(out, "jwt_verify", "none", b"\x00eyJhbGciOiJub25lIiwidHlwIjoiZXNpbS1hY3RpdmF0aW9uK2p3dCJ9.e30.")
    write(out, "jwt_verify", "splice-header", b"\x01\x00\x00")
    write(out, "jwt_verify", "splice-payload", b"\x01\x60\x04AAAA")
    write(out, "jwt_verify", "splice-signature", b"\x03\xf0\x02__")
    # jwt_tamper decodes its input with `arbitrary`; a few byte patterns reach different edits.
    for index, data in enumerate([b"\x00" * 32, bytes(range(64)), b"\x01\x01\x02\x03" * 16]):
        write(out, "jwt_tamper", f"pattern{index}", data)


def otp_seeds(out: Path) -> None:
    for index, data in enumerate([b"\x00" * 64, bytes(range(128)), b"SHA256\x00Carrier\x00" * 8]):
        write(out, "otp_input", f"pattern{index}", data)


def manifest_seeds(out: Path) -> None:
    jsonl = (
        b'{"id": "r1", "document_image": "docs/r1.jpg", "selfie_image": "selfies/r1.jpg", "label": "genuine"}\n'
        b'{"id": "r2", "portrait_image": "p/r2.png", "selfie_images": ["s/r2a.jpg", "s/r2b.jpg"]}\n'
        b'{"id": "r3", "verification_id": "ver_01HZX3K8Q9", "selfie_image": "s3://bucket/r3.jpg", "msisdn": "+491701234567"}\n'
        b"\n"
        b"not json\n"
    )
    csv = (
        b"id,document_image,portrait_image,verification_id,selfie_image,selfie_images,label\n"
        b"r1,docs/r1.jpg,,,selfies/r1.jpg,,genuine\n"
        b'r2,,p/r2.png,,,"s/a.jpg|s/b.jpg",impostor\n'
        b"r3,,,ver_01HZX3K8Q9,,,\n"
    )
    write(out, "reverify_manifest", "jsonl", b"\x00" + jsonl)
    write(out, "reverify_manifest", "jsonl-explicit", b"\x02" + jsonl)
    write(out, "reverify_manifest", "csv", b"\x01" + csv)
    write(out, "reverify_manifest", "csv-explicit", b"\x03" + csv)


def main() -> None:
    out = Path(sys.argv[1])
    root = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parent.parent
    image_seeds(out, root)
    mrz_seeds(out)
    multipart_seeds(out)
    token_seeds(out)
    otp_seeds(out)
    manifest_seeds(out)
    total = sum(len(files) for _, _, files in os.walk(out))
    print(f"make_seeds: {total} seed files in {out}")


if __name__ == "__main__":
    main()
