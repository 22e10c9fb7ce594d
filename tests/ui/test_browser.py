"""The app in a real headless Chromium: every page renders without an exception.

Starts ``python -m ui.serve`` (``streamlit run app.py``) as ``make app`` does, on real
results, opens every page, fails on any Streamlit exception box, and saves a screenshot of
each page to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGES = [
    "home",
    "run",
    "findings",
    "curves",
    "peaks",
    "compare",
    "coordination",
    "transfer",
    "stimuli",
    "stimulus",
]
CHARTS = ("home", "findings", "curves", "peaks", "compare", "coordination", "stimulus")
QUERY = "?model=smollm2-135m&model2=gemma3-270m&set=items&pooling=mean"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serve(app_cache):
    """A fresh ``python -m ui.serve`` (as ``make app``) on a free port; yields its URL."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: make test installs it (scripts/install-system.sh)")
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ui.serve",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env={**os.environ, "STRATA_CACHE": str(app_cache)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(app_cache):
    with _serve(app_cache) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


def _settle(page, timeout: float = 180) -> None:
    """Wait until the page's script has drawn its title and stopped running."""
    page.wait_for_selector("h1", timeout=timeout * 1000)
    deadline = time.time() + timeout
    quiet_since = None
    while time.time() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        if not running:
            quiet_since = quiet_since or time.time()
            if time.time() - quiet_since > 2.5:
                return
        else:
            quiet_since = None
        time.sleep(0.25)


def _shot_without_errors(page, name: str) -> None:
    """Once the page settles, keep its screenshot; no Python exception, no error box."""
    _settle(page)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


@pytest.mark.parametrize("slug", PAGES)
def test_page_renders_without_exception(server, browser, slug):
    SHOTS.mkdir(parents=True, exist_ok=True)
    # tall enough that a screenshot shows most of a page (Streamlit scrolls inside its own
    # container, so full_page alone captures only the viewport)
    page = browser.new_page(viewport={"width": 1440, "height": 2400})
    try:
        path = "" if slug == "home" else slug  # the default page lives at the root
        page.goto(f"{server}/{path}{QUERY}", wait_until="domcontentloaded")
        if slug in CHARTS:
            page.wait_for_selector(".js-plotly-plot", timeout=180_000)
        _shot_without_errors(page, slug)
        assert page.get_by_text("Page not found").count() == 0
        if slug in CHARTS:
            assert page.locator(".js-plotly-plot").count() >= 1
    finally:
        page.close()


def test_drill_down_a_click_on_a_curve_point_lists_its_stimuli(server, browser):
    """Click one marker of a layer curve: the panel below lists that layer's stimuli."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 2400})
    try:
        page.goto(f"{server}/curves{QUERY}", wait_until="domcontentloaded")
        page.wait_for_selector(".js-plotly-plot", timeout=180_000)
        _settle(page)
        markers = page.locator(".js-plotly-plot .scatterlayer .trace .points path")
        assert markers.count() >= 30
        box = markers.nth(12).bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        time.sleep(0.5)
        page.mouse.click(x, y)
        page.get_by_text("Stimuli at").first.wait_for(timeout=180_000)
        _settle(page)
        page.get_by_text("Error analysis by subgroup").first.wait_for(timeout=180_000)
        _settle(page)
        page.screenshot(path=str(SHOTS / "curves-drill-down.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0
        assert page.get_by_text("stimuli wrong (held out").count() == 1
        assert page.locator('[data-testid="stDataFrame"]').count() >= 3
        assert page.locator(".js-plotly-plot").count() == 3  # curve, heatmap, subgroups
    finally:
        page.close()


@pytest.fixture(scope="module")
def deck_files(app_cache):
    """The deck of the real results, in ``artifacts/deck/`` (git-ignored) to look at."""
    from core.present import deck

    out = ROOT / "artifacts" / "deck"
    shutil.rmtree(out, ignore_errors=True)
    return deck.build(
        app_cache / "strata.duckdb", model="smollm2-135m", compare="gemma3-270m", out=out
    )


def test_the_html_deck_opens_offline_in_chromium_without_an_error(browser, deck_files):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    fetched: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    def offline(route):  # the deck must not need the network
        fetched.append(route.request.url)
        route.abort()

    page.route("http*://**", offline)
    try:
        page.goto(deck_files.html.as_uri(), wait_until="load")
        n = page.locator("section.slide").count()
        assert n >= 6 and n == len(deck_files.images) // 2  # a section per PNG + SVG pair
        page.wait_for_function(
            f"document.querySelectorAll('.live .js-plotly-plot .main-svg').length >= {n}",
            timeout=60_000,
        )
        assert not errors, errors
        assert not fetched, fetched
        titles = page.locator(".notes h2").all_inner_texts()
        assert titles[0].startswith("1. smollm2-135m: ")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "deck-html.png"), full_page=True)
    finally:
        page.close()


@pytest.mark.parametrize("slug", ["findings", "curves", "compare", "coordination"])
def test_presentation_mode_renders_without_exception(server, browser, slug):
    """Large fonts on the pages a speaker projects (curves: the hierarchy of mean curves)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 2400})
    try:
        page.goto(f"{server}/{slug}{QUERY}&present=1&mode=1", wait_until="domcontentloaded")
        page.wait_for_selector(".js-plotly-plot", timeout=180_000)
        _shot_without_errors(page, f"{slug}-presentation")
    finally:
        page.close()


def test_a_first_visit_to_a_page_lists_the_app_pages(app_cache, browser):
    """On a fresh server, /curves first: the sidebar holds app.py's titles, not file names."""
    with _serve(app_cache) as url:
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        try:
            page.goto(f"{url}/curves{QUERY}", wait_until="domcontentloaded")
            _settle(page)
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        finally:
            page.close()
    assert "Layer curves" in nav and "Findings" in nav, nav
    assert "coordination" not in nav.split(), nav  # the file names of a v1 multipage app
