"""Draw Sotto's brand icons (custom_components/sotto/brand/icon.png and icon@2x.png).

The icon is a microphone inside a speech bubble on a night-blue tile, with an amber
dot for the recording indicator: a voice assistant that shows when it listens. Run with the
project's venv: `.venv/bin/python scripts/draw_brand.py`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "custom_components" / "sotto" / "brand"
SCALE = 4  # draw large, then downsample for smooth edges
SIZE = 512 * SCALE


def s(value: float) -> int:
    """Scale a coordinate from the 512-pixel design grid."""
    return round(value * SCALE)


def draw() -> Image.Image:
    """Return the 512x512 icon."""
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    # Tile.
    pen.rounded_rectangle((s(16), s(16), s(496), s(496)), radius=s(104), fill=(24, 42, 74, 255))
    # Speech bubble with a tail at the lower left.
    bubble = (236, 242, 250, 255)
    pen.rounded_rectangle((s(84), s(92), s(428), s(372)), radius=s(92), fill=bubble)
    pen.polygon([(s(150), s(340)), (s(124), s(436)), (s(232), s(360))], fill=bubble)
    # Microphone capsule and stand, in the tile colour.
    ink = (24, 42, 74, 255)
    pen.rounded_rectangle((s(214), s(128), s(298), s(262)), radius=s(42), fill=ink)
    pen.arc((s(182), s(170), s(330), s(300)), start=0, end=180, fill=ink, width=s(18))
    pen.rectangle((s(247), s(298), s(265), s(330)), fill=ink)
    pen.rounded_rectangle((s(212), s(322), s(300), s(340)), radius=s(9), fill=ink)
    # A small amber dot: the recording indicator that never lies.
    pen.ellipse((s(358), s(120), s(396), s(158)), fill=(255, 176, 32, 255))
    return image.resize((512, 512), Image.Resampling.LANCZOS)


def main() -> None:
    """Write both icon sizes."""
    OUT.mkdir(parents=True, exist_ok=True)
    big = draw()
    big.save(OUT / "icon@2x.png")
    big.resize((256, 256), Image.Resampling.LANCZOS).save(OUT / "icon.png")


if __name__ == "__main__":
    main()
