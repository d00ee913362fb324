"""Says how much of a PNG is drawn: prints JSON {"width", "height", "ink" (the fraction of pixels that
are not the page's white), "colours" (how many distinct colours), "counts" {"#rrggbb": pixels} for each
colour named on the command line}. Used on Chromium's screenshot of `report --html`."""
import json
import sys

from PIL import Image

image = Image.open(sys.argv[1]).convert("RGB")
width, height = image.size
histogram = image.getcolors(maxcolors=width * height)
total = width * height
white = sum(count for count, colour in histogram if min(colour) >= 250)
wanted = {name: tuple(int(name[i:i + 2], 16) for i in (1, 3, 5)) for name in sys.argv[2:]}
counts = {name: sum(count for count, colour in histogram if colour == rgb) for name, rgb in wanted.items()}
print(json.dumps({"width": width, "height": height, "ink": (total - white) / total,
                  "colours": len(histogram), "counts": counts}))
