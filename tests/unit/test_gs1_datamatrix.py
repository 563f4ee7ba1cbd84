"""GS1 Data Matrix: rendering, decoding and the zxing-cpp behaviours the adapter relies on."""

from __future__ import annotations

import base64
import io
import pathlib
import random
import re
import string
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageFilter

from itptrace.gs1.checkdigit import gs1_check_digit
from itptrace.gs1.datamatrix import (
    DataMatrixError,
    decode_image,
    render_png,
    render_svg,
    symbol_size,
)
from itptrace.gs1.element import GS, CodePayload, parse_scan, to_element_string, to_raw

ALNUM = string.digits + string.ascii_uppercase + string.ascii_lowercase


def random_payload(rng: random.Random, *, timestamp: bool, signed: bool = True) -> CodePayload:
    body = "".join(rng.choice(string.digits) for _ in range(13))
    serial = "".join(rng.choice(ALNUM) for _ in range(9))
    product = "".join(rng.choice(ALNUM) for _ in range(8))
    stamp = f"{rng.randint(24, 40):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return CodePayload(
        gtin=body + gs1_check_digit(body),
        ui=f"ZZT01{serial}{product}",
        key_id=f"{rng.getrandbits(32):08x}" if signed else None,
        tag=base64.urlsafe_b64encode(rng.randbytes(64)).rstrip(b"=").decode() if signed else None,
        timestamp=f"{stamp}{rng.randint(0, 23):02d}" if timestamp else None,
    )


FULL = random_payload(random.Random(2026), timestamp=True)
UNSTAMPED = random_payload(random.Random(2026), timestamp=False)
EU = CodePayload(FULL.gtin, FULL.ui)


def png_image(p: CodePayload, tmp_path: pathlib.Path, **geometry: int) -> Image.Image:
    path = tmp_path / "code.png"
    render_png(p, path, **geometry)
    with Image.open(path) as image:
        return image.convert("L")


def encoded(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def test_a_hundred_random_signed_codes_survive_png_render_decode_and_parse(
    tmp_path: pathlib.Path,
) -> None:
    rng = random.Random(8)
    for index in range(100):
        payload = random_payload(rng, timestamp=index % 2 == 0)
        path = tmp_path / f"{index}.png"
        render_png(payload, path)
        decoded = decode_image(path)
        assert [parse_scan(text) for text in decoded] == [payload], index


def test_the_decoded_text_is_the_raw_element_string_without_a_symbology_identifier(
    tmp_path: pathlib.Path,
) -> None:
    render_png(FULL, tmp_path / "c.png")
    assert decode_image(tmp_path / "c.png") == [to_raw(FULL)]
    assert GS in to_raw(FULL)


def test_an_eu_profile_code_round_trips(tmp_path: pathlib.Path) -> None:
    assert [parse_scan(t) for t in decode_image(encoded(png_image(EU, tmp_path)))] == [EU]


@pytest.mark.parametrize("degrees", [90, 15, 180, 37])
def test_a_rotated_image_still_decodes(tmp_path: pathlib.Path, degrees: int) -> None:
    turned = png_image(FULL, tmp_path).rotate(
        degrees, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC
    )
    assert [parse_scan(t) for t in decode_image(encoded(turned))] == [FULL]


def test_a_slightly_blurred_image_still_decodes(tmp_path: pathlib.Path) -> None:
    blurred = png_image(FULL, tmp_path).filter(ImageFilter.GaussianBlur(radius=1))
    assert [parse_scan(t) for t in decode_image(encoded(blurred))] == [FULL]


def test_a_heavily_blurred_tilted_image_decodes_thanks_to_the_sharpened_retry(
    tmp_path: pathlib.Path,
) -> None:
    # Blur of half a module: measured to defeat the plain pass and yield to the unsharp mask.
    image = png_image(FULL, tmp_path).rotate(15, expand=True, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(radius=3))
    data_matrix = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix)
    assert zxingcpp.read_barcodes(image, formats=data_matrix) == []
    assert [parse_scan(t) for t in decode_image(encoded(image))] == [FULL]


def test_a_jpeg_photo_of_a_code_decodes(tmp_path: pathlib.Path) -> None:
    jpeg = encoded(png_image(FULL, tmp_path).convert("RGB"), format="JPEG")
    assert [parse_scan(t) for t in decode_image(jpeg)] == [FULL]


def test_every_code_in_an_image_is_decoded(tmp_path: pathlib.Path) -> None:
    first, second = png_image(FULL, tmp_path), png_image(EU, tmp_path)
    sheet = Image.new("L", (first.width + second.width + 40, first.height), 255)
    sheet.paste(first, (0, 0))
    sheet.paste(second, (first.width + 40, 0))
    assert sorted(decode_image(encoded(sheet))) == sorted([to_raw(FULL), to_raw(EU)])


def test_a_transparent_png_is_read_on_white(tmp_path: pathlib.Path) -> None:
    grey = np.asarray(png_image(FULL, tmp_path))
    # Dark modules opaque black, light ones fully transparent black: naive greyscale is all black.
    rgba = np.zeros((*grey.shape, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(grey == 0, 255, 0)
    assert [parse_scan(t) for t in decode_image(encoded(Image.fromarray(rgba, "RGBA")))] == [FULL]


def test_an_image_without_a_code_gives_an_empty_list() -> None:
    assert decode_image(encoded(Image.new("L", (200, 200), 255))) == []


def test_bytes_that_are_not_an_image_raise_a_data_matrix_error() -> None:
    with pytest.raises(DataMatrixError, match="not a readable image"):
        decode_image(b"\x89PNG but not really")


def test_a_full_signed_code_is_a_square_of_about_44_modules_and_bigger_than_the_rest() -> None:
    rows, columns = symbol_size(FULL)
    assert rows == columns
    assert 32 <= rows <= 52
    assert symbol_size(UNSTAMPED)[0] <= rows
    unsigned = symbol_size(CodePayload(FULL.gtin, FULL.ui, timestamp=FULL.timestamp))
    assert unsigned[0] == unsigned[1] < rows
    assert symbol_size(EU)[0] < rows


def test_every_symbol_is_square_even_where_a_rectangle_would_be_smaller() -> None:
    # zxing-cpp picks 8x96 for this payload unless told to keep the symbol square.
    key_only = CodePayload(FULL.gtin, FULL.ui, key_id="a1b2c3d4")
    rows, columns = symbol_size(key_only)
    assert rows == columns


def test_the_png_has_the_requested_module_size_and_quiet_zone(tmp_path: pathlib.Path) -> None:
    rows, columns = symbol_size(FULL)
    image = png_image(FULL, tmp_path, module_px=5, quiet_zone=3)
    assert image.size == ((columns + 6) * 5, (rows + 6) * 5)
    pixels = np.asarray(image)
    assert (pixels[:15, :] == 255).all()  # the quiet zone is light
    assert (pixels[15:-15, 15:20] == 0).all()  # the finder pattern's solid left edge is dark


def svg_modules(svg: str) -> np.ndarray:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    width, height = (int(v) for v in root.attrib["viewBox"].split()[2:])
    grid = np.full((height, width), 255, dtype=np.uint8)
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    for x, y, run in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path.attrib["d"]):
        grid[int(y), int(x) : int(x) + int(run)] = 0
    return grid


def test_the_svg_draws_the_same_modules_as_the_png(tmp_path: pathlib.Path) -> None:
    svg = render_svg(FULL, module_px=4, quiet_zone=2)
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    rows, columns = symbol_size(FULL)
    assert root.attrib["width"] == str((columns + 4) * 4)
    assert root.attrib["height"] == str((rows + 4) * 4)
    png = np.asarray(png_image(FULL, tmp_path, module_px=1, quiet_zone=2))
    assert (svg_modules(svg) == png).all()


def test_a_code_without_a_gtin_cannot_be_drawn(tmp_path: pathlib.Path) -> None:
    bare = CodePayload(None, FULL.ui)
    with pytest.raises(DataMatrixError, match="GTIN"):
        render_png(bare, tmp_path / "x.png")
    with pytest.raises(DataMatrixError):
        render_svg(bare)


@pytest.mark.parametrize(("module_px", "quiet_zone"), [(0, 2), (8, -1)])
def test_a_nonsensical_geometry_is_refused(module_px: int, quiet_zone: int) -> None:
    with pytest.raises(ValueError, match=r"module_px|quiet_zone"):
        render_svg(FULL, module_px=module_px, quiet_zone=quiet_zone)


# The two library behaviours the code format is built around. If zxing-cpp changes them,
# these fail and docs/code-format.md needs another look.


def test_zxing_ignores_an_options_string_so_gs1_mode_must_be_a_keyword() -> None:
    plain = zxingcpp.create_barcode(
        to_element_string(EU), zxingcpp.BarcodeFormat.DataMatrix, options="gs1"
    )
    gs1 = zxingcpp.create_barcode(
        to_element_string(EU), zxingcpp.BarcodeFormat.DataMatrix, gs1=True
    )
    assert plain.content_type == zxingcpp.ContentType.Text
    assert gs1.content_type == zxingcpp.ContentType.GS1


def test_zxing_drops_the_separator_after_235_when_another_ai_follows_it() -> None:
    text = f"(01){FULL.gtin}(235){FULL.ui}(91)a1b2c3d4"
    written = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.DataMatrix, gs1=True)
    (read,) = zxingcpp.read_barcodes(written.to_image(scale=4), text_mode=zxingcpp.TextMode.Plain)
    assert read.text == f"01{FULL.gtin}235{FULL.ui}91a1b2c3d4"  # no GS: the UI swallows (91)
