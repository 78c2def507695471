"""How fast the app's pages are in a real browser: every page on the demo store, the map at 10k.

The app runs as ``streamlit run app.py`` on 127.0.0.1 (everything else the
browser asks for is aborted) and headless Debian Chromium opens its pages.
What is measured is what a planner waits for, read from the browser's own clock
(``performance.now()``, milliseconds since the navigation started):

* **interactive**: Streamlit's script run has finished and the page is drawn (the
  ``stApp`` element's run state is ``notRunning``, and neither it nor the page's
  elements changed for :data:`SETTLE_MS`: a rerun the page triggers itself, e.g. a
  map reporting its mount, counts as part of the load); the time reported is that
  of the last change, not including the settling wait;
* **map drawn**: the first Leaflet feature of the page's map is in the DOM (an SVG
  ``path.leaflet-interactive`` or the canvas renderer), recorded by a
  MutationObserver inside the map's iframe.

Each page is opened once to warm the caches (imports, the store's works and
conflicts, the GeoJSON of the map) and then ``--repeat`` times, in two ways:
``load`` (a new page load, as a link opened from elsewhere: the JavaScript
bundle, the websocket and the run) and ``nav`` (a click in the sidebar of the
running app: the run only). The median is reported. The map is also measured
on ``--size`` works (``benchmarks/generate.py``) imported into a GeoPackage store.

The server's own share is measured too: the median time of a rerun of each
page's script under Streamlit's AppTest with warm caches (no browser).

Run: ``.venv/bin/python benchmarks/pages.py [--repeat 5] [--size 10000]``; the
table is printed and written to ``benchmarks/out/pages.md`` (and ``.json``).
The targets (issue: every page interactive within 1.5 s after the first load,
the 10k map drawn within 3 s) are printed next to each row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ims_geo.ui.serve import served

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
OUT = ROOT / "benchmarks" / "out"
CHROMIUM = "/usr/bin/chromium"
#: The default page (served at ``/``) and the others by their URL path.
PAGES = ("", "map", "upload", "conflicts", "programme", "cycle", "public")
#: Pages with a Leaflet map whose drawing is timed.
MAP_PAGES = ("map", "conflicts", "public")
#: Targets of the issue, in seconds.
TARGET_PAGE_S = 1.5
TARGET_MAP_S = 3.0
#: A run counts as finished when no new one starts within this many milliseconds.
SETTLE_MS = 600
FRAME = 'iframe[title="streamlit_folium.st_folium"]'

#: Installed in every document (main page and the map's iframe) before its scripts run.
PROBE = """(() => {
  const now = () => performance.timeOrigin + performance.now();
  window.__ims = {runs: [], drawn: null, changed: null};
  const watch = (records) => {
    const app = document.querySelector('[data-testid=stApp]');
    if (app) {
      const state = app.getAttribute('data-test-script-state');
      const runs = window.__ims.runs;
      if (!runs.length || runs[runs.length - 1][0] !== state) runs.push([state, now()]);
    }
    if (records && records.some((r) => r.type === 'childList')) window.__ims.changed = now();
    if (window.__ims.drawn === null &&
        document.querySelector('path.leaflet-interactive, .leaflet-overlay-pane canvas')) {
      window.__ims.drawn = now();
    }
  };
  new MutationObserver(watch).observe(document, {
    subtree: true, childList: true, attributes: true,
    attributeFilter: ['data-test-script-state'],
  });
  // the map component rewrites its document (which drops the observer): poll as well
  if (window === window.top) return;
  const poll = setInterval(() => {
    watch();
    if (window.__ims.drawn !== null) clearInterval(poll);
  }, 10);
})();"""

#: When the page last changed (its run's end, or the last element it added), once the run
#: is over and nothing has changed for SETTLE_MS; else null. A fast run may never show as
#: ``running`` in the DOM (React renders both states at once): its elements show it ran.
SETTLED = """([since, settle]) => {
  const ims = window.__ims;
  const runs = ims.runs.filter(([, t]) => t >= since);
  const last = ims.runs[ims.runs.length - 1];
  if (!last || last[0] !== 'notRunning') return null;
  const changed = ims.changed !== null && ims.changed >= since ? ims.changed : null;
  if (!runs.length && changed === null) return null;
  const end = Math.max(last[1], changed === null ? 0 : changed);
  return performance.timeOrigin + performance.now() - end >= settle ? end : null;
}"""


def _wait_settled(page, since: float, timeout_s: float = 120.0) -> float:
    """Epoch ms at which the page's last run ended (after it stayed idle)."""
    handle = page.wait_for_function(SETTLED, arg=[since, SETTLE_MS], timeout=timeout_s * 1000)
    return float(handle.json_value())


def _wait_drawn(page, timeout_s: float = 120.0) -> float:
    """Epoch ms at which the page's map drew its first feature."""
    page.locator(FRAME).first.wait_for(state="attached", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            if frame is page.main_frame or frame.is_detached():
                continue
            try:
                drawn = frame.evaluate("() => window.__ims ? window.__ims.drawn : null")
            except Exception:  # the iframe was replaced while asked: ask the new one
                continue
            if drawn is not None:
                return float(drawn)
        time.sleep(0.02)
    raise TimeoutError("the map drew nothing")


def _load(page, url: str, path: str, with_map: bool) -> tuple[float, float | None]:
    """A new page load: seconds from navigation start to interactive and to the map drawn."""
    page.goto(f"{url}/{path}")
    origin = float(page.evaluate("() => performance.timeOrigin"))
    done = _wait_settled(page, origin)
    drawn = _wait_drawn(page) if with_map else None
    return (done - origin) / 1000, None if drawn is None else (drawn - origin) / 1000


def _nav(page, path: str, with_map: bool) -> tuple[float, float | None]:
    """A click in the running app's sidebar: seconds from the click to interactive / map drawn."""
    link = page.get_by_test_id("stSidebarNav").locator(f'a[href$="/{path}"]').first
    clicked = float(page.evaluate("() => performance.timeOrigin + performance.now()"))
    link.click()
    done = _wait_settled(page, clicked)
    drawn = None
    if with_map:
        for frame in page.frames:  # the map of the page before must not count
            if frame is not page.main_frame and not frame.is_detached():
                try:
                    got = frame.evaluate("() => window.__ims ? window.__ims.drawn : null")
                except Exception:
                    continue
                if got is not None and got >= clicked:
                    drawn = float(got)
        if drawn is None:
            drawn = _wait_drawn(page)
    return (done - clicked) / 1000, None if drawn is None else (drawn - clicked) / 1000


def measure(url: str, pages: tuple[str, ...], repeat: int) -> list[dict[str, object]]:
    """Median seconds per page and way (load, nav) after one warm-up load of each page."""
    from playwright.sync_api import sync_playwright

    rows: list[dict[str, object]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script(PROBE)
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if urlparse(route.request.url).hostname == "127.0.0.1"
                else route.abort()
            ),
        )
        page = context.new_page()
        for path in pages:  # first loads: imports, the store read, caches filled
            _load(page, url, path, path in MAP_PAGES)
        for path in pages:
            with_map = path in MAP_PAGES
            loads = [_load(page, url, path, with_map) for _ in range(repeat)]
            navs = []
            for _ in range(repeat):
                # from another page, so that the click really changes the page
                _load(page, url, "upload" if path != "upload" else "", False)
                navs.append(_nav(page, path, with_map))
            for way, got in (("load", loads), ("nav", navs)):
                ready = statistics.median(g[0] for g in got)
                drawn = [g[1] for g in got if g[1] is not None]
                rows.append(
                    {
                        "page": f"/{path}",
                        "way": way,
                        "interactive_s": round(ready, 2),
                        "map_drawn_s": round(statistics.median(drawn), 2) if drawn else None,
                        "runs": repeat,
                    }
                )
        browser.close()
    return rows


#: The page scripts of the URL paths (AppTest opens pages by file).
PAGE_FILES = {"": "overview", "map": "map", "upload": "upload", "conflicts": "conflicts",
              "programme": "programme", "cycle": "cycle", "public": "public"}  # fmt: skip


def server_seconds(store: Path, pages: tuple[str, ...], repeat: int) -> dict[str, float]:
    """Median seconds of one rerun of each page's script on the server (AppTest, warm caches).

    The part of a page's time that is the app's own Python: no browser, no websocket.
    """
    from streamlit.testing.v1 import AppTest

    os.environ["IMS_GEO_STORE"] = str(store)
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()
    out: dict[str, float] = {}
    for path in pages:
        at.switch_page(f"ims_geo/ui/pages/{PAGE_FILES[path]}.py").run()  # first run: warm-up
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t0)
        out[f"/{path}"] = round(statistics.median(times), 2)
    return out


def demo_store(folder: Path) -> Path:
    """The demo plans in a GeoPackage store (built once, kept in ``folder``)."""
    from ims_geo.demo import build_demo_store
    from ims_geo.store import open_store

    path = folder / "pages_demo.gpkg"
    if not path.exists():
        build_demo_store(open_store(path))
    return path


def generated_store(folder: Path, size: int, seed: int) -> Path:
    """``size`` generated works (``benchmarks/generate.py``), one plan per organisation."""
    from ims_geo.schema import validate
    from ims_geo.store import open_store

    from benchmarks.generate import generate

    path = folder / f"pages_{size}_{seed}.gpkg"
    if not path.exists():
        works = validate(generate(size, seed=seed)).valid
        store = open_store(path)
        store.import_plans(works, cycle=2027, source=f"generate.py --size {size} --seed {seed}")
    return path


def machine() -> str:
    """CPU model, cores, memory and the load when measured (others share this machine)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores{mem}; load average {load}"


def table(rows: list[dict[str, object]]) -> str:
    """The results as a Markdown table with the targets."""
    lines = [
        "| store | page | way | interactive (s) | map drawn (s) | server run (s) | target met |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        ok = float(r["interactive_s"]) <= TARGET_PAGE_S  # type: ignore[arg-type]
        drawn = r["map_drawn_s"]
        if r["store"] != "demo" and drawn is not None:
            ok = float(drawn) <= TARGET_MAP_S  # type: ignore[arg-type]
        lines.append(
            f"| {r['store']} | `{r['page']}` | {r['way']} | {r['interactive_s']:.2f} | "
            f"{'' if drawn is None else f'{drawn:.2f}'} | {r.get('server_s', '')} | "
            f"{'yes' if ok else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="measured loads per page (median)")
    parser.add_argument("--size", type=int, default=10_000, help="works of the big map store")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pages", default=",".join(PAGES), help="URL paths ('' = overview)")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--workdir", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    pages = tuple(p.strip().strip("/") for p in args.pages.split(","))
    before = machine()
    rows: list[dict[str, object]] = []
    if not args.skip_demo:
        demo = demo_store(args.workdir)
        with served(demo, args.workdir / "pages_demo.log") as url:
            got = measure(url, pages, args.repeat)
        server = server_seconds(demo, pages, args.repeat)
        rows += [{"store": "demo", **r, "server_s": server[str(r["page"])]} for r in got]
    if not args.skip_big:
        big = generated_store(args.workdir, args.size, args.seed)
        with served(big, args.workdir / "pages_big.log") as url:
            got = measure(url, ("map",), args.repeat)
        server = server_seconds(big, ("map",), args.repeat)
        rows += [{"store": f"{args.size:,} works", **r, "server_s": server["/map"]} for r in got]
    text = table(rows)
    note = f"Machine: {before} (before) / {machine()} (after)."
    print(text)
    print(note)
    (args.workdir / "pages.md").write_text(f"{text}\n\n{note}\n", encoding="utf-8")
    (args.workdir / "pages.json").write_text(
        json.dumps({"machine": note, "rows": rows}, indent=1), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
