"""Scraping vLLM's Prometheus /metrics for the whole run into raw JSONL.

One line per scrape: `{"timestamp": requested_at, "answered_at": ..., "samples": [[name,
labels_json, value], ...]}` (epoch seconds), so a
crash loses at most the scrape being written. Only `vllm:*` samples are kept (histogram buckets
included, `_created` timestamps dropped). Parsing uses prometheus_client's text parser.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.schemas.raw import SERVER_METRICS, as_run_dir
from bench.schemas.records import MetricsScrape
from bench.schemas.run_dir import RunDir

BASELINE_TIMEOUT_S = 15.0  # a busy server can answer /metrics slowly; the baseline matters most


def parse_metrics(text: str) -> list[list[Any]]:
    samples: list[list[Any]] = []
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("vllm:"):
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = json.dumps(dict(sorted(sample.labels.items())), separators=(",", ":"))
            samples.append([sample.name, labels, float(sample.value)])
    return samples


class MetricsScraper:
    """A background thread scraping `<base_url>/metrics` every `interval_s` until stopped."""

    def __init__(
        self,
        base_url: str,
        run_dir: RunDir | Path,
        interval_s: float = 1.0,
        headers: dict[str, str] | None = None,
    ):
        self.url = base_url.rstrip("/") + "/metrics"
        self.path = as_run_dir(run_dir).raw_file(SERVER_METRICS, "scrape")
        self.interval_s = interval_s
        self._headers = headers or {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-scraper", daemon=True)
        self.scrapes = 0
        self.failures = 0

    def start(self) -> MetricsScraper:
        """Take a baseline scrape before the load starts (counters are diffed against it), then
        keep scraping in the background."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with httpx.Client(timeout=BASELINE_TIMEOUT_S) as client:
            self.scrape_once(client)
        self._thread.start()
        return self

    def scrape_once(self, client: httpx.Client) -> bool:
        # The server takes its snapshot somewhere between these two times; a busy server or
        # machine can make that seconds. The window logic needs both (see server_summary).
        requested_at = time.time()
        try:
            resp = client.get(self.url, headers=self._headers)
            resp.raise_for_status()
            samples = parse_metrics(resp.text)
        except (httpx.HTTPError, ValueError):
            self.failures += 1
            return False
        record: MetricsScrape = {
            "timestamp": requested_at,
            "answered_at": time.time(),
            "samples": samples,
        }
        line = json.dumps(record, separators=(",", ":"))
        with self.path.open("a") as fh:
            fh.write(line + "\n")
        self.scrapes += 1
        return True

    def _run(self) -> None:
        with httpx.Client(timeout=max(5.0, self.interval_s)) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                self.scrape_once(client)
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
            self.scrape_once(client)  # a last scrape after the load: closes the window

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
