"""The dashboard in a real browser: ``curate dashboard`` on a generated run, driven by headless
Chromium through Selenium. Every page is opened through the sidebar, its numbers are compared with
DuckDB over the same files, and a screenshot of each is saved (in pytest's tmp dir, and in
``$CURATE_SCREENSHOTS_DIR`` when set, for CI artifacts).

Needs /usr/bin/chromium and /usr/bin/chromedriver (CI installs them); skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("dashboard_screenshots", ROOT / "scripts" / "dashboard_screenshots.py")
ds = sys.modules.setdefault("dashboard_screenshots", importlib.util.module_from_spec(_spec))
if not hasattr(ds, "PAGES"):
    _spec.loader.exec_module(ds)

_MISSING = ds.browser_missing()
if _MISSING:
    pytest.skip(f"browser test skipped: {_MISSING}", allow_module_level=True)
pytest.importorskip("streamlit")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from curation.query import run_sql  # noqa: E402
from dashboards import queries, sample_run  # noqa: E402

N_DOCS = 3000
PAGE = {p.slug: p for p in ds.PAGES}
VIEW = "decontaminate"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> sample_run.SampleRun:
    return sample_run.make_run(tmp_path_factory.mktemp("browser-run") / "run", N_DOCS, seed=1)


@pytest.fixture(scope="module")
def con(run):
    c = run_sql.connect(run.run_dir)
    yield c
    c.close()


@pytest.fixture(scope="module")
def server_cwd(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("server-cwd")


@pytest.fixture(scope="module")
def server(run, server_cwd):
    srv = ds.DashboardServer(run.run_dir, cwd=server_cwd)
    try:
        srv.start(timeout=120)
        yield srv
    finally:
        srv.stop()  # the whole process group: curate → streamlit


@pytest.fixture(scope="module")
def driver(server):
    d = ds.chrome()
    try:
        d.get(server.url + "/")
        ds.wait_done(d, PAGE["funnel"].title, PAGE["funnel"].ready, timeout=120)
        yield d
    finally:
        d.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> list[Path]:
    dirs = [tmp_path_factory.mktemp("screenshots")]
    extra = os.environ.get("CURATE_SCREENSHOTS_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        dirs.append(Path(extra))
    return dirs


def snap(driver, shots: list[Path], name: str) -> None:
    png = ds.screenshot(driver, *[d / f"{name}.png" for d in shots])
    assert png.startswith(b"\x89PNG") and len(png) > 5_000


def goto(driver, slug: str) -> None:
    ds.click_page(driver, PAGE[slug], timeout=120)
    assert driver.current_url.rstrip("/").endswith("" if slug == "funnel" else f"/{slug}"), driver.current_url
    assert not ds.exceptions(driver), ds.exceptions(driver)


def num(text: str) -> int:
    return int(text.replace(",", ""))


def one(con, sql: str, params=()):
    return con.execute(sql, list(params)).fetchone()


def main_text(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, '[data-testid="stMain"]').text


# ------------------------------------------------------------------------------------- pages


def test_every_page_through_the_sidebar(driver, con, run, shots):
    """Each page opened by clicking its sidebar link; what it shows against DuckDB."""
    links = [ds.nav_link(driver, p.nav) for p in ds.PAGES]
    assert len(links) == 7

    # Funnel (the default page): totals and kept counts are SQL over the latest stage.
    goto(driver, "scores")  # leave, so that the Funnel link is really clicked
    goto(driver, "funnel")
    m = ds.metrics(driver)
    total, kept = one(con, f"SELECT count(*), count(*) FILTER (WHERE drop_reason IS NULL) FROM {VIEW}")
    # Tokens as the run's tokenizer counts them (the sample run's mixture names the bundled one).
    rows = con.execute(f"SELECT text, drop_reason IS NULL FROM {VIEW}").fetchall()
    counts = queries.token_counter(run.run_dir).count([t for t, _ in rows])
    tokens, kept_tokens = int(counts.sum()), int(sum(c for c, (_, k) in zip(counts.tolist(), rows) if k))
    # Documents: the records extraction ran on (not WARC requests, non-2xx, non-HTML or cut-short records).
    not_docs = one(con, f"""SELECT count(*) FROM {VIEW} WHERE drop_reason LIKE 'warc.%' OR drop_reason LIKE 'http.%'
                             OR drop_reason IN ('trafilatura_v1.not_html', 'error.truncated')""")[0]
    assert num(m["Records read"]) == total == N_DOCS
    assert num(m["Documents"]) == total - not_docs
    assert num(m["Kept documents"]) == kept
    assert num(m["Tokens"]) == tokens
    assert num(m["Kept tokens"]) == kept_tokens
    snap(driver, shots, "funnel")

    # Scores: at the lowest threshold every scored document is kept; moved up, the count is the
    # page's own SQL (shown in its caption) run here.
    goto(driver, "scores")
    key = "fineweb_line_punct_ratio"  # the first key in sorted order: the default choice
    scored = one(con, f"SELECT count(*) FROM {VIEW} WHERE element_at(scores, '{key}')[1] IS NOT NULL")[0]
    assert num(ds.metrics(driver)["Documents kept"]) == scored
    before = ds.metrics(driver)["Threshold"]
    ds.move_slider(driver, f"scores_threshold_{key}", Keys.ARROW_RIGHT, 120)
    deadline = time.monotonic() + 60  # the slider sends its value after a debounce: wait for the rerun
    while ds.metrics(driver).get("Threshold") == before and time.monotonic() < deadline:
        time.sleep(0.2)
    ds.wait_done(driver, PAGE["scores"].title, PAGE["scores"].ready)
    assert ds.metrics(driver)["Threshold"] != before
    caption = next(c.text for c in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stCaptionContainer"]')
                   if "Same number in SQL" in c.text)
    sql = caption.split("Same number in SQL:", 1)[1].strip()
    expected = one(con, sql)[0]
    shown = num(ds.metrics(driver)["Documents kept"])
    assert shown == expected and 0 < shown < scored, (sql, shown, expected, scored)
    snap(driver, shots, "scores")

    # Samples: the sampled documents, then one typed id whose raw HTML is in the run's WARC.
    goto(driver, "samples")
    sampled = ds.grid_cells(driver, 0)
    assert sampled and all(len(r[0]) == 40 for r in sampled), sampled  # sha1 ids
    doc_id, url = one(con, f"""SELECT id, url FROM {VIEW} WHERE source_file LIKE '%sample.warc.gz'
                               AND drop_reason IS NULL ORDER BY id LIMIT 1""")
    box = driver.find_element(By.CSS_SELECTOR, ".st-key-samples_doc_id input")
    box.send_keys(doc_id, Keys.ENTER)
    deadline = time.monotonic() + 60
    while url not in main_text(driver) and time.monotonic() < deadline:
        time.sleep(0.2)
    ds.wait_done(driver, PAGE["samples"].title, PAGE["samples"].ready)
    assert url in main_text(driver)
    html = " ".join(c.text for c in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stCode"]'))
    assert "<html" in html.lower(), html[:300]
    assert not ds.exceptions(driver)
    snap(driver, shots, "samples")

    # Decontamination: the report's and SQL's numbers of contaminated documents.
    goto(driver, "decontamination")
    contaminated = one(con, f"SELECT count(*) FROM {VIEW} WHERE decontam_status = 'contaminated'")[0]
    report = json.loads((run.run_dir / "decontaminate" / "_report.json").read_text())
    assert contaminated > 0
    assert num(ds.metrics(driver)["Contaminated documents"]) == report["docs_by_status"]["contaminated"] == contaminated
    snap(driver, shots, "decontamination")

    # Mixture: the manifest's sources and totals.
    goto(driver, "mixture")
    manifest = json.loads((run.run_dir / "mix" / "mixture_manifest.json").read_text())
    m = ds.metrics(driver)
    assert num(m["Sources"]) == len(manifest["sources"]) > 0
    assert num(m["Achieved tokens"]) == manifest["achieved_total_tokens"]
    snap(driver, shots, "mixture")

    # Ablations: the finished demo ablation with its regression fit.
    goto(driver, "ablations")
    m = ds.metrics(driver)
    assert "Held-out rank correlation" in m and "Predicted metric of the proposal" in m
    assert "finished" in main_text(driver).lower()
    snap(driver, shots, "ablations")

    # SQL: the default example ran (outcomes, counted).
    goto(driver, "sql")
    rows = ds.grid_cells(driver, 0)
    counts = dict(con.execute(f"SELECT coalesce(drop_reason, 'kept'), count(*) FROM {VIEW} GROUP BY 1").fetchall())
    assert rows and all(num(n) == counts[o] for o, n in rows), rows
    snap(driver, shots, "sql")
    assert not ds.exceptions(driver)


def _run_sql(driver, sql: str) -> None:
    area = driver.find_element(By.CSS_SELECTOR, ".st-key-sql_text textarea")
    area.click()
    area.send_keys(Keys.CONTROL, "a")
    area.send_keys(Keys.DELETE)
    area.send_keys(sql)
    area.send_keys(Keys.CONTROL, Keys.ENTER)  # commits the text area (a rerun)
    time.sleep(0.3)
    ds.wait_done(driver, PAGE["sql"].title, None)
    driver.find_element(By.CSS_SELECTOR, ".st-key-sql_run button").click()
    time.sleep(0.3)
    ds.wait_done(driver, PAGE["sql"].title, None)


def test_sql_console_runs_a_select_and_refuses_a_write(driver, con, run, server_cwd, shots):
    goto(driver, "sql")
    expected = one(con, f"SELECT count(*) FROM {VIEW} WHERE lang = 'de' AND drop_reason IS NULL")[0]
    _run_sql(driver, f"SELECT count(*) AS n FROM {VIEW} WHERE lang = 'de' AND drop_reason IS NULL")
    assert ds.grid_cells(driver, 0) == [[str(expected)]]
    assert "1 rows" in main_text(driver)

    # A SELECT returning rows: the caption counts them; over the row limit (1,000), it says so.
    n_de = one(con, f"SELECT count(*) FROM {VIEW} WHERE lang = 'de'")[0]
    assert 0 < n_de < 1000
    _run_sql(driver, f"SELECT id, url FROM {VIEW} WHERE lang = 'de'")
    assert f"{n_de:,} rows" in main_text(driver)
    assert one(con, f"SELECT count(*) FROM {VIEW} WHERE drop_reason IS NULL")[0] > 1000
    _run_sql(driver, f"SELECT id FROM {VIEW} WHERE drop_reason IS NULL")
    assert "1,000 rows (the first 1,000" in main_text(driver)

    before = {p for p in run.run_dir.rglob("*")} | {p for p in server_cwd.rglob("*")}
    _run_sql(driver, "COPY (SELECT 1) TO 'x.csv'")
    errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlert"]')]
    assert any("Refused, nothing was executed" in e for e in errors), errors
    assert not re.search(r"\b[\d,]+ rows\b", main_text(driver))  # the caption of a result
    after = {p for p in run.run_dir.rglob("*")} | {p for p in server_cwd.rglob("*")}
    assert not [p for p in after - before if p.name != "dashboard.log"], after - before
    assert not list(run.run_dir.rglob("x.csv")) and not list(server_cwd.rglob("x.csv")) and not (ROOT / "x.csv").exists()
    assert not ds.exceptions(driver)
    snap(driver, shots, "sql_refused")


# ------------------------------------------------------------------------------------- network


def _non_loopback_ips() -> list[str]:
    ips = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            ips.add(info[4][0])
    except OSError:
        pass
    try:  # the address of the default route (UDP connect sends nothing)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            ips.add(s.getsockname()[0])
    except OSError:
        pass
    return sorted(ip for ip in ips if not ip.startswith("127.") and ip != "0.0.0.0")


def _listen_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of sockets listening on ``port``."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.rsplit(":", 1)
            if state == "0A" and int(p, 16) == port:  # 0A: LISTEN
                out.add(addr)
    return out


def test_server_listens_on_loopback_only(server):
    addrs = _listen_addresses(server.port)
    if addrs:  # /proc readable: exactly 127.0.0.1 (little-endian hex)
        assert addrs == {"0100007F"}, addrs
    for ip in _non_loopback_ips():
        with pytest.raises(OSError):
            socket.create_connection((ip, server.port), timeout=3).close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=3):
        pass
