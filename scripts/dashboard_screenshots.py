"""Drive the real dashboard in headless Chromium: README screenshots, and the helpers that the browser
test (tests/test_dashboard_browser.py) and the page-load benchmark (bench/dashboard_load.py) share.

    python scripts/dashboard_screenshots.py [--docs 20000] [--out docs/screenshots] [--run RUN_DIR]

Starts ``curate dashboard`` on a ``dashboards.sample_run`` run (127.0.0.1, a free port), opens every
page through the sidebar navigation, waits until Streamlit has finished running it, and saves
``<page>.png`` (1400×1000; re-encoded with fewer colours when a PNG is over 300 KB).

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian: ``apt-get install chromium
chromium-driver``); Selenium is given the driver's path, so Selenium Manager never goes online.
Standard library + selenium (+ Pillow for the size optimisation), imported lazily.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CURATE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CURATE_CHROMEDRIVER", "/usr/bin/chromedriver")
WIDTH, HEIGHT = 1400, 1000
MAX_PNG_BYTES = 300_000


@dataclass(frozen=True)
class Page:
    slug: str       # URL path and screenshot name
    nav: str        # sidebar link text
    title: str      # the page's st.title
    ready: str      # CSS selector of the main content that must be drawn


PAGES = (
    Page("funnel", "Funnel", "Filtering funnel", '[data-testid="stMetricValue"]'),
    Page("scores", "Scores", "Scores", '[data-testid="stVegaLiteChart"]'),
    Page("samples", "Samples", "Samples", '[data-testid="stDataFrame"]'),
    Page("decontamination", "Decontamination", "Decontamination", '[data-testid="stDataFrame"]'),
    Page("mixture", "Mixture", "Mixture", '[data-testid="stVegaLiteChart"]'),
    Page("ablations", "Ablations", "Ablations", '[data-testid="stMetricValue"]'),
    Page("sql", "SQL", "SQL", '[data-testid="stDataFrame"]'),
)


def browser_missing() -> str | None:
    """Why the browser checks cannot run here (None when they can)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} not found (Debian: apt-get install chromium chromium-driver; CI installs them)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------- server


class DashboardServer:
    """``curate dashboard RUN_DIR --port P`` in its own process group; ``stop()`` ends the group."""

    def __init__(self, run_dir: Path, *, port: int | None = None, cwd: Path | None = None,
                 log_path: Path | None = None, env: dict | None = None):
        self.run_dir = Path(run_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cwd = Path(cwd) if cwd else Path(tempfile.mkdtemp(prefix="curate-dash-cwd-"))
        self.log_path = Path(log_path) if log_path else self.cwd / "dashboard.log"
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("STREAMLIT_CLIENT_TOOLBAR_MODE", "viewer")  # no "Deploy" button
        self.env.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), self.env.get("PYTHONPATH")]))
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "curate.cli", "dashboard", str(self.run_dir), "--port", str(self.port)]

    def start(self, timeout: float = 90) -> DashboardServer:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dashboard exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"dashboard not healthy after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ------------------------------------------------------------------------------------- browser


def chrome(width: int = WIDTH, height: int = HEIGHT):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}",
              "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-background-networking",
              "--hide-scrollbars"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    # The viewport itself is width × height (the window includes no browser chrome when headless,
    # but be exact for screenshots).
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return driver


_STATE_JS = """
const app = document.querySelector('[data-testid="stApp"]');
if (!app) return null;
const h1 = document.querySelector('[data-testid="stMain"] h1');
return {
  state: app.getAttribute('data-test-script-state'),
  conn: app.getAttribute('data-test-connection-state'),
  status: document.querySelectorAll('[data-testid="stStatusWidget"]').length,
  stale: document.querySelectorAll('[data-stale="true"]').length,
  spinner: document.querySelectorAll('[data-testid="stSpinner"]').length,
  title: h1 ? h1.innerText.trim() : null,
  ready: arguments[0] ? document.querySelectorAll(arguments[0]).length : 1,
  exception: document.querySelectorAll('[data-testid="stException"]').length,
};
"""


def page_state(driver, ready: str | None = None) -> dict | None:
    return driver.execute_script(_STATE_JS, ready)


def _done(s: dict | None, title: str | None) -> bool:
    return bool(s) and s["state"] == "notRunning" and s["conn"] == "CONNECTED" and not s["status"] \
        and not s["stale"] and not s["spinner"] and (title is None or s["title"] == title) \
        and (s["ready"] > 0 or s["exception"] > 0)


def wait_done(driver, title: str | None = None, ready: str | None = None, *, timeout: float = 60,
              settle: float = 0.3, poll: float = 0.05, t0: float | None = None) -> float:
    """Wait until the page titled ``title`` has finished running (script not running, no status
    widget, no stale element, ``ready`` drawn) and stays so for ``settle`` seconds. Returns the
    seconds from ``t0`` (default: now) to the first moment it was done."""
    t0 = time.perf_counter() if t0 is None else t0
    deadline = time.perf_counter() + timeout
    first = None
    while time.perf_counter() < deadline:
        s = page_state(driver, ready)
        now = time.perf_counter()
        if _done(s, title):
            first = now if first is None else first
            if now - first >= settle:
                return first - t0
        else:
            first = None
        time.sleep(poll)
    raise TimeoutError(f"page {title!r} not done after {timeout}s: {page_state(driver, ready)}")


def nav_link(driver, text: str):
    from selenium.webdriver.common.by import By

    for a in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a'):
        if a.text.strip().splitlines()[-1:] == [text]:  # icon ligature, newline, label
            return a
    raise LookupError(f"no sidebar link {text!r}")


def click_page(driver, page: Page, *, timeout: float = 60) -> float:
    """Open ``page`` through its sidebar link; seconds until it finished running."""
    link = nav_link(driver, page.nav)
    t0 = time.perf_counter()
    link.click()
    return wait_done(driver, page.title, page.ready, timeout=timeout, t0=t0)


def open_url(driver, url: str, page: Page, *, timeout: float = 60) -> float:
    t0 = time.perf_counter()
    driver.get(url)
    return wait_done(driver, page.title, page.ready, timeout=timeout, t0=t0)


def exceptions(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')]


def screenshot(driver, *paths: Path) -> bytes:
    """The viewport as PNG, re-encoded with a palette when it is over ``MAX_PNG_BYTES``; written to
    every path given."""
    png = driver.get_screenshot_as_png()
    if len(png) > MAX_PNG_BYTES:
        png = shrink_png(png)
    for p in paths:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        Path(p).write_bytes(png)
    return png


def shrink_png(png: bytes) -> bytes:
    try:
        from PIL import Image
    except ImportError:
        return png
    img = Image.open(io.BytesIO(png)).convert("RGB")
    best = png
    for colors in (256, 128, 64):
        buf = io.BytesIO()
        img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(buf, "PNG", optimize=True)
        if len(buf.getvalue()) < len(best):
            best = buf.getvalue()
        if len(best) <= MAX_PNG_BYTES:
            break
    return best


# ------------------------------------------------------------------------------------- README


def prepare_for_screenshot(driver, page: Page) -> None:
    """Small interactions so each picture shows something telling (then wait for the rerun)."""
    from selenium.webdriver.common.keys import Keys

    if page.slug == "scores":  # move the threshold off the minimum: the kept/below colours show
        before = metrics(driver).get("Threshold")
        move_slider(driver, "scores_threshold_fineweb_line_punct_ratio", Keys.ARROW_RIGHT, 90)
        deadline = time.monotonic() + 60  # the value is sent after a debounce: wait for the rerun
        while metrics(driver).get("Threshold") == before and time.monotonic() < deadline:
            time.sleep(0.2)
        wait_done(driver, page.title, page.ready)


def move_slider(driver, key: str, key_name: str, times: int) -> None:
    """Focus the slider widget ``key`` (its hidden range input) and press ``key_name`` ``times``."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    thumb = driver.find_element(By.CSS_SELECTOR, f'.st-key-{key} input[type="range"]')
    driver.execute_script("arguments[0].focus()", thumb)
    ActionChains(driver).send_keys(key_name * times).perform()
    time.sleep(0.5)  # the slider sends its value after a short debounce


def metrics(driver) -> dict[str, str]:
    """Metric label → shown value, on the current page."""
    from selenium.webdriver.common.by import By

    out = {}
    for m in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]'):
        label = m.find_element(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]').text.strip()
        out[label] = m.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]').text.strip()
    return out


def grid_cells(driver, index: int = 0) -> list[list[str]]:
    """Rows of the ``index``-th dataframe of the main area (its accessible glide-grid table: only
    the rows drawn in the viewport). A non-selectable dataframe's ``key`` is not in the DOM."""
    from selenium.webdriver.common.by import By

    frames = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMain"] [data-testid="stDataFrame"]')
    if len(frames) <= index:
        return []
    rows = []
    for tr in frames[index].find_elements(By.CSS_SELECTOR, 'table[role="grid"] tbody tr'):
        rows.append([td.get_attribute("textContent") for td in tr.find_elements(By.CSS_SELECTOR, 'td')])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=20_000, help="documents of the generated run (default 20000)")
    ap.add_argument("--run", default=None, help="use this run directory instead of generating one")
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    args = ap.parse_args(argv)
    why = browser_missing()
    if why:
        print(f"dashboard_screenshots: {why}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="curate-shots-") as tmp:
        run = Path(args.run) if args.run else Path(tmp) / "run"
        if not args.run:
            from dashboards import sample_run

            sample_run.make_run(run, args.docs, seed=0)
        with DashboardServer(run, cwd=Path(tmp)) as server:
            driver = chrome()
            try:
                driver.get(server.url + "/")
                wait_done(driver, PAGES[0].title, PAGES[0].ready, timeout=180)
                for page in PAGES:
                    if page is not PAGES[0]:
                        click_page(driver, page, timeout=180)
                    prepare_for_screenshot(driver, page)
                    errs = exceptions(driver)
                    if errs:
                        raise RuntimeError(f"{page.slug}: {errs}")
                    png = screenshot(driver, out / f"{page.slug}.png")
                    print(f"{out / (page.slug + '.png')}: {len(png):,} bytes")
            finally:
                driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
