"""GS1 Data Matrix (ECC 200) rendering and decoding, over zxing-cpp.

zxing-cpp 3.1 behaviours this adapter relies on (checked by tests/unit/test_gs1_datamatrix.py):

* ``create_barcode(text, DataMatrix, gs1=True)`` reads a bracketed element string and writes
  a GS1 symbol (FNC1 first, FNC1 between fields). Unknown keyword options are ignored
  without a word, so ``options="gs1"`` silently yields a plain, non-GS1 symbol.
* Left to itself the writer may pick a rectangular symbol (8x96 for some payloads);
  ``forceSquare=True`` keeps every pack code square.
* ``Barcode.to_image(scale=1, add_quiet_zones=False)`` is the bare module matrix, one pixel
  per module, 0 for dark and 255 for light. The PNG and SVG here are drawn from it, so the
  module size and quiet zone are ours to choose.
* Reading with ``TextMode.Plain`` returns a GS1 symbol's content as a raw element string
  with GS (0x1D) separators and no symbology identifier, which ``parse_scan`` accepts.
"""

from __future__ import annotations

import io
import pathlib
import time

import numpy as np
import zxingcpp
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from itptrace.gs1.element import CodePayload, to_element_string

__all__ = [
    "DataMatrixError",
    "ImageTooLarge",
    "decode_image",
    "render_png",
    "render_svg",
    "symbol_size",
]

_DARK = 0
_LIGHT = 255


class DataMatrixError(Exception):
    """A payload cannot be drawn as a GS1 Data Matrix, or an image cannot be read at all."""


class ImageTooLarge(DataMatrixError):
    """The image's header declares more pixels than the caller lets be decoded."""


def _modules(p: CodePayload) -> NDArray[np.uint8]:
    """Return the symbol as a (rows, columns) array, 0 for dark and 255 for light."""
    try:
        text = to_element_string(p)
        barcode = zxingcpp.create_barcode(
            text, zxingcpp.BarcodeFormat.DataMatrix, gs1=True, forceSquare=True
        )
        image = barcode.to_image(scale=1, add_quiet_zones=False)
    except ValueError as exc:
        raise DataMatrixError(f"cannot encode the payload as a GS1 Data Matrix: {exc}") from exc
    return np.asarray(image, dtype=np.uint8)


def _check_geometry(module_px: int, quiet_zone: int) -> None:
    if module_px < 1:
        raise ValueError("module_px must be at least 1")
    if quiet_zone < 0:
        raise ValueError("quiet_zone must not be negative")


def symbol_size(p: CodePayload) -> tuple[int, int]:
    """Return the symbol size in modules as (rows, columns), quiet zone excluded."""
    rows, columns = _modules(p).shape
    return int(rows), int(columns)


def render_png(
    p: CodePayload, path: pathlib.Path, *, module_px: int = 8, quiet_zone: int = 2
) -> None:
    """Write ``p`` to ``path`` as a greyscale PNG of a GS1 Data Matrix.

    Each module is ``module_px`` pixels square; ``quiet_zone`` light modules surround the
    symbol (ISO/IEC 16022 asks for at least one).
    """
    _check_geometry(module_px, quiet_zone)
    framed = np.pad(_modules(p), quiet_zone, constant_values=_LIGHT)
    scaled = framed.repeat(module_px, axis=0).repeat(module_px, axis=1)
    Image.fromarray(scaled, mode="L").save(path, format="PNG")


def render_svg(p: CodePayload, *, module_px: int = 8, quiet_zone: int = 2) -> str:
    """Return an SVG document of the GS1 Data Matrix for ``p``.

    The drawing works in module units (the viewBox) and is sized ``module_px`` pixels a
    module. Dark modules are one path of horizontal runs: ``M{x} {y}h{n}v1h-{n}z``.
    """
    _check_geometry(module_px, quiet_zone)
    modules = _modules(p)
    rows, columns = modules.shape
    width, height = columns + 2 * quiet_zone, rows + 2 * quiet_zone
    runs: list[str] = []
    for y, row in enumerate(modules == _DARK):
        x = 0
        while x < columns:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < columns and row[x]:
                x += 1
            runs.append(f"M{start + quiet_zone} {y + quiet_zone}h{x - start}v1h-{x - start}z")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'width="{width * module_px}" height="{height * module_px}" '
        f'viewBox="0 0 {width} {height}" shape-rendering="crispEdges">'
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
        f'<path fill="#000000" d="{"".join(runs)}"/></svg>\n'
    )


def _load_grey(source: pathlib.Path | bytes, max_pixels: int | None) -> Image.Image:
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as opened:
            # ``open`` has read the header only: the size is known before any pixel is
            # decoded (a small compressed file may declare a huge image).
            width, height = opened.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageTooLarge(
                    f"the image is {width} x {height} pixels; at most {max_pixels} are decoded"
                )
            image = opened.convert("RGBA")
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling, far above ours
        raise ImageTooLarge("the image declares far more pixels than a photo of a pack") from exc
    except (OSError, ValueError) as exc:
        raise DataMatrixError(f"not a readable image: {exc}") from exc
    # Transparent pixels often hold black; lay the image on white before dropping alpha.
    backdrop = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(backdrop, image).convert("L")


def _read(image: Image.Image) -> list[str]:
    found = zxingcpp.read_barcodes(
        image,
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix),
        try_rotate=True,
        try_downscale=True,
        try_invert=True,
        text_mode=zxingcpp.TextMode.Plain,
    )
    return [barcode.text for barcode in found if barcode.valid]


def decode_image(
    source: pathlib.Path | bytes,
    *,
    max_pixels: int | None = None,
    deadline: float | None = None,
) -> list[str]:
    """Decode every Data Matrix in a PNG/JPEG (a path or the file's bytes).

    Returns one string per symbol, in the order zxing-cpp reports them: for a GS1 symbol the
    raw element string with GS separators and no symbology identifier; for a plain symbol its
    text. An image without a readable symbol gives an empty list; a file that is not an image
    raises ``DataMatrixError``, one of more than ``max_pixels`` pixels ``ImageTooLarge``
    before it is decoded. Past ``deadline`` (``time.monotonic()``) no second pass is tried.
    """
    image = _load_grey(source, max_pixels)
    decoded = _read(image)
    if not decoded and (deadline is None or time.monotonic() < deadline):
        # Blur spreads a module into its neighbours until the binarizer loses the grid; an
        # unsharp mask restores the edges. Measured: it rescues blur radii around half a module
        # that the first pass misses, at any rotation.
        decoded = _read(image.filter(ImageFilter.UnsharpMask(radius=3, percent=200, threshold=0)))
    return decoded
