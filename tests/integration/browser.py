"""Headless Chromium for the report tests: the page as Chromium built it (--dump-dom) and a
screenshot of it. Debian's chromium, which `./run` installs; a missing browser is a failure,
not a skip, because the HTML report's test is that a real browser draws it."""
import html.parser
import os
import shutil
import subprocess

from PIL import Image


def chromium(args, workdir, timeout=120):
    exe = shutil.which("chromium")
    if exe is None:
        raise AssertionError("chromium is not installed (./run test installs it)")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-extensions", "--no-first-run",
           "--hide-scrollbars", f"--user-data-dir={os.path.join(workdir, 'chromium')}"] + args
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, check=True)


def dump_dom(path, workdir):
    """The DOM of the file PATH after Chromium loaded it, serialised."""
    return chromium(["--dump-dom", "file://" + os.path.abspath(path)], workdir).stdout


def screenshot(path, png, workdir, size="1150,2400"):
    chromium([f"--window-size={size}", f"--screenshot={png}",
              "file://" + os.path.abspath(path)], workdir)
    return png


def ink(png):
    """(share of pixels that are not white, number of distinct colours) of a screenshot."""
    with Image.open(png) as im:
        rgb = im.convert("RGB")
        w, h = rgb.size
        hist = rgb.getcolors(maxcolors=w * h)
    white = sum(n for n, c in hist if c == (255, 255, 255))
    return 1 - white / (w * h), len(hist)


class Svg(html.parser.HTMLParser):
    """Collects, for every <svg> with an id, its elements as (tag, attrs, text) and, for every
    <table> with an id, its rows as lists of cell texts."""

    def __init__(self, dom):
        super().__init__(convert_charrefs=True)
        self.svgs, self.tables = {}, {}
        self._svg = self._table = None
        self._stack = []  # open elements inside the current svg: [tag, attrs, text]
        self._row = self._cell = None
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "id" in a:
            self._svg = a["id"]
            self.svgs[self._svg] = []
        elif self._svg is not None:
            el = [tag, a, ""]
            self.svgs[self._svg].append(el)
            self._stack.append(el)
        if tag == "table" and "id" in a:
            self._table = a["id"]
            self.tables[self._table] = []
        elif self._table is not None and tag == "tr":
            self._row = []
        elif self._row is not None and tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg = None
            self._stack = []
        elif self._svg is not None and self._stack:
            self._stack.pop()
        if tag == "table":
            self._table = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._stack:
            self._stack[-1][2] += data
        if self._cell is not None:
            self._cell += data

    def elements(self, svg, tag, cls=None):
        return [e for e in self.svgs.get(svg, [])
                if e[0] == tag and (cls is None or cls in e[1].get("class", "").split())]
