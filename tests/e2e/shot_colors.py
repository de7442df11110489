"""shot_colors.py - does a screenshot of a report show its charts? Reads a PNG with Pillow (Debian
python3-pil) and counts the strongly coloured pixels by hue (30-degree bins). The report's tables
and text are black, grey and white; gnuplot draws each model's series in its own colour (purple,
green, blue, ...), so a page whose charts rendered has large areas of at least two hues, and a page
without them has next to none (test_report.sh checks both, so this check can fail).

Usage: shot_colors.py PNG MIN_PIXELS MIN_HUES   exit 0 when at least MIN_HUES hue bins each hold
                                                 MIN_PIXELS pixels
       shot_colors.py PNG --max TOTAL           exit 0 when at most TOTAL coloured pixels
       shot_colors.py --strip-svg IN.html OUT.html   the same page without its inline charts
"""
import colorsys
import re
import sys


def hues(path):
    from PIL import Image

    im = Image.open(path).convert("RGB")
    bins = {}
    for n, (r, g, b) in im.getcolors(im.width * im.height):
        if max(r, g, b) - min(r, g, b) <= 60:  # grey: text, rules, table shading, antialiasing
            continue
        h = colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)[0]
        k = int(h * 360) // 30 * 30
        bins[k] = bins.get(k, 0) + n
    return im.size, bins


def main(argv):
    if argv[1] == "--strip-svg":
        html = open(argv[2], encoding="utf-8").read()
        open(argv[3], "w", encoding="utf-8").write(re.sub(r"<svg\b.*?</svg>", "", html, flags=re.S))
        return 0
    size, bins = hues(argv[1])
    total = sum(bins.values())
    print("  %s: %dx%d, coloured pixels by hue %s" % (argv[1].rsplit("/", 1)[-1], size[0], size[1], sorted(bins.items())))
    if argv[2] == "--max":
        return 0 if total <= int(argv[3]) else 1
    big = [k for k, n in bins.items() if n >= int(argv[2])]
    return 0 if len(big) >= int(argv[3]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
