"""A real headless Chromium (Debian's, via Selenium) drives the Locust web UI of `bench run --web`
and opens a `bench report` offline."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.testing.fake_server import running_fake_server

pytestmark = pytest.mark.e2e

KEY_ENV = "BENCH_TEST_SERVER_KEY"
API_KEY = "test-key-not-a-secret-8910"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--window-size=1400,1000")  # fmt: skip


@pytest.fixture
def browser(tmp_path: Path) -> Iterator:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip(
            "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        options.add_argument(flag)
    options.binary_location = chromium
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_web_ui_runs_a_test_with_agent_tabs_and_writes_results(browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    port = _free_port()
    results = tmp_path / "results"
    with running_fake_server(api_key=API_KEY, itl_ms=2) as url:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench", "run", "--web", "--web-port", str(port), "--endpoint",
             f"{url}/v1", "--api-key-env", KEY_ENV, "--model", "fake", "--evalset", "weather_time", "--results-dir",
             str(results), "--run-id", "web"],
            env={**os.environ, KEY_ENV: API_KEY}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        try:
            ui = f"http://127.0.0.1:{port}"
            _wait_for(lambda: httpx.get(ui, timeout=2).status_code == 200, 180, "the web UI")
            browser.get(ui)
            for name in ("userCount", "spawnRate"):
                field = _wait_for(lambda n=name: browser.find_element(By.NAME, n), 30, name)
                field.send_keys(Keys.CONTROL, "a")
                field.send_keys("2")
            submit = browser.find_element(By.XPATH, "//button[@type='submit']")
            browser.execute_script("arguments[0].click()", submit)

            def tab(title: str):  # type: ignore[no-untyped-def]
                tabs = browser.find_elements(By.CSS_SELECTOR, "[role=tab]")
                return next((t for t in tabs if t.text.strip().upper() == title.upper()), None)

            def click(element):  # type: ignore[no-untyped-def]
                # A closing dialog or snackbar can cover the tab for a moment; a script click
                # does what the user's click does without racing the animation.
                browser.execute_script("arguments[0].click()", element)

            click(_wait_for(lambda: tab("Tool accuracy: cases"), 60, "the tool-accuracy tab"))
            # Rows arrive as cases finish, in any order: wait for the one this test looks at.
            rows = _wait_for(
                lambda: [r.text for r in browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
                         if r.text.startswith("weather_london")],
                90, "the weather_london row of the tool-accuracy tab",
            )  # fmt: skip
            assert rows
            # The header: agent rates by name, and failures of requests to the server only. The
            # fake server fails no request, and calls tools only for the weather in London and
            # Paris and the time in Tokyo, so the eval set's other turns that expect a call get
            # prose: wrong trajectories (in the accuracy tab), 0% failed requests.
            rates = _wait_for(
                lambda: browser.find_element(By.CSS_SELECTOR, "[data-bench-label=RPS]"), 30,
                "the agent rates in the header",
            )  # fmt: skip
            assert rates.text == "LLM calls/s · turns/s · sessions/s"
            sibling = "return arguments[0].nextElementSibling.textContent"
            assert re.fullmatch(r"\d+\.\d\d · \d+\.\d\d · \d+\.\d\d",
                                browser.execute_script(sibling, rates))  # fmt: skip
            failures = browser.find_element(By.CSS_SELECTOR, "[data-bench-label=Failures]")
            assert failures.text == "Failed requests"
            assert browser.execute_script(sibling, failures) == "0.0%"
            stats = httpx.get(f"{ui}/stats/requests", timeout=5).json()
            assert stats["fail_ratio"] == 0 and "TOOLS" not in {r["method"] for r in stats["stats"]}
            all_cases = _wait_for(
                lambda: [r for r in httpx.get(f"{ui}/bench/live", timeout=5).json()["cases"]
                         if r["case"] == "(all cases)" and r["exact"] < r["turns"]],
                60, "a turn with the wrong tool calls in the accuracy tab",
            )  # fmt: skip
            assert all_cases[0]["errors"] == 0
            click(tab("LLM timings"))
            timing = _wait_for(
                lambda: [r.text for r in browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
                         if r.text.startswith("TTFT") and not r.text.startswith("TTFT 0")],
                60, "TTFT percentiles",
            )  # fmt: skip
            assert timing
            click(tab("Server state"))
            _wait_for(lambda: "requests running" in browser.page_source, 30, "server state")
            live = httpx.get(f"{ui}/bench/live", timeout=5).json()
            assert live["tools"] and live["cases"]
            stop = next(
                b
                for b in browser.find_elements(By.TAG_NAME, "button")
                if b.text.strip().upper() == "STOP"
            )
            click(stop)
            out, _ = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
    assert proc.returncode == 0, out[-3000:]
    run = results / "web"
    for table in ("llm_calls", "turns", "sessions", "summary"):
        assert (run / f"{table}.parquet").exists(), table
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["counts"]["turns"] > 0
    assert API_KEY not in (run / "locust.log").read_text()


def test_report_opens_offline_with_its_plots(browser, tmp_path: Path) -> None:
    """Offline, at 1400 px: the headline first, in words; no table wider than the page; a
    users=1 and a users=4 run of one configuration are two legend entries."""
    from PIL import Image
    from selenium.webdriver.common.by import By

    from bench.report.html import write_report
    from bench.report.runs import find_runs
    from tests.unit.report.runs_factory import write_run

    eager = {"engine_flags": {"enforce_eager": True}}  # the same flags: only the load differs
    runs = [write_run(tmp_path / "results", "a", users=1, sessions=120, seed=0, provenance=eager),
            write_run(tmp_path / "results", "b", users=4, sessions=240, ttft_ms=70.0, seed=1,
                      provenance=eager)]  # fmt: skip
    report = write_report(find_runs(runs), tmp_path / "report.html").html_path
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
    )
    browser.get(report.as_uri())
    assert browser.execute_script("return window.innerWidth") == 1400
    first = browser.execute_script("return document.querySelector('h1').nextElementSibling")
    assert first.get_attribute("id") == "headline"
    headline = first.find_element(By.CSS_SELECTOR, "table.headline")
    labels = [th.text for th in headline.find_elements(By.CSS_SELECTOR, "tbody th")]
    assert [label.rstrip("0123456789") for label in labels[:4]] == [
        "Task success", "Tool accuracy", "Throughput", "Failures"]  # fmt: skip
    assert "% of sessions passed" in headline.text and " turns/s" in headline.text
    assert "users=1" in headline.text and "users=4" in headline.text
    definition = first.find_element(By.CSS_SELECTOR, "tbody th span[title]").get_attribute("title")
    assert definition.startswith("sessions passed / measured sessions with a verdict")
    fits = "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    assert browser.execute_script(fits), "the page scrolls sideways at 1400 px"
    unwrapped = browser.execute_script(
        "return [...document.querySelectorAll('table')].filter(t => !t.closest('.wrap')).length"
    )
    assert unwrapped == 0  # a wide table scrolls inside its box
    legend = browser.find_elements(
        By.CSS_SELECTOR, "figure[data-plot=latency_vs_throughput] figcaption li"
    )
    assert [li.text for li in legend] == ["users=1", "users=4", "Pareto front"]
    images = browser.find_elements(By.CSS_SELECTOR, "img.plot")
    assert len(images) >= 8
    sizes = [browser.execute_script("return arguments[0].naturalWidth", img) for img in images]
    assert all(w > 300 for w in sizes), sizes  # every embedded PNG decoded, none broken
    browser.execute_script("arguments[0].scrollIntoView()", images[0])
    shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    (tmp_path / "report.png").write_bytes(browser.get_screenshot_as_png())
    colours = len(set(shot.getdata()))
    assert colours > 100, f"the screenshot looks blank ({colours} colours)"
