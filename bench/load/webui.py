"""Agent tabs in Locust's web UI: tool accuracy (per case, per tool), LLM timings, server state.

Hooked from the locustfile with `register(events, spec)`; this module never imports locust (it
is handed Locust's event hooks and environment), so its counting is testable without gevent.

- Data: the locustfile passes each finished LLM call, turn and session record in the request
  event's `context["record"]`. Records are classified as the summary does
  (`bench.scoring.outcome`): task success over sessions (a session cut short by a failure is a
  failure, an incomplete one is left out), judged by the eval set's criteria with ADK's
  evaluators (`bench.scoring.case_pass`, judge metrics aside) in the process that ran the
  session, only when a web UI will show it; tool accuracy and latencies over completed calls
  and turns. With `--processes N` the workers send what they saw since their last report to
  the master (`report_to_master` / `worker_report`), where the web UI runs.
- Tabs: Locust's `extended_tabs` / `extended_tables` template args, and `extended_stats` added
  to `/stats/requests` (polled by the UI every ~2 s). `/bench/live` serves the same as JSON.
- Header: request failures and agent rates instead of Locust's sums (`bench.load.webui_header`).
- Server state: a greenlet in the web UI process scrapes the server's `/metrics` (with the API
  key from `BENCH_SERVER_API_KEY` and any extra headers) every 2 s.
- Stopping the test in the UI ends the run: Locust quits, `bench run` writes the Parquet
  tables exactly as after a headless run.
- `--web-login`: a login page; the one user and password come from `BENCH_WEB_AUTH`
  (`user:password`, set by `bench run --web-auth`), never from a file.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import secrets
import time
from typing import Any

import numpy as np

from bench.load import webui_header
from bench.schemas.errors import BenchError
from bench.schemas.records import TEXT_REPLY, TOOL_CALL_REPLY
from bench.schemas.settings import SERVER_API_KEY_ENV, WEB_AUTH_ENV
from bench.scoring.case_pass import CaseVerdict
from bench.scoring.outcome import is_failed, is_incomplete, is_ok, session_outcome
from bench.scoring.tally import AccuracyBoard, CaseTally

log = logging.getLogger(__name__)

SCRAPE_INTERVAL_S = 2.0
END_AFTER_STOP_S = 1.5  # let the UI get its answer to "stop" before the server goes away
MAX_VALUES = 200_000  # latency values kept per timing for percentiles
TIMINGS = {"ttft": "TTFT", "ttft_text": "TTFT, text replies",
           "ttft_tool": "TTFT, tool-call replies (parser hold-back in)", "tpot": "TPOT",
           "tpot_text": "TPOT, text replies", "tpot_tool": "TPOT, tool-call replies",
           "tool_holdback": "tool parser hold-back", "llm": "LLM call", "turn": "turn",
           # a thinking model (bench.agent.reasoning_timing): the first answer or tool call,
           # and a turn's time spent thinking
           "ttfo": "TTFO (first output token)", "thinking": "thinking per turn"}  # fmt: skip
# the reply kinds' rows (bench.results.reply_kinds)
_KIND_KEYS = {TEXT_REPLY: "text", TOOL_CALL_REPLY: "tool"}
WIRE_KEY = "bench_live"

TAB_CASES, TAB_TOOLS, TAB_TIMINGS, TAB_SERVER = (
    "bench-cases",
    "bench-tools",
    "bench-llm",
    "bench-server",
)


def web_auth_configured() -> bool:
    user, _, password = os.environ.get(WEB_AUTH_ENV, "").partition(":")
    return bool(user and password)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_web_host(host: str) -> None:
    """The web UI starts and stops load: only on loopback, unless a login protects it."""
    if not is_loopback(host) and not web_auth_configured():
        raise BenchError(
            f"--web-host {host}: the web UI controls the load; on a non-loopback address it needs "
            f"--web-auth USER:PASSWORD (or {WEB_AUTH_ENV})"
        )


def _columns(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    # single-word keys: the UI camel-cases keys, and these survive it unchanged
    return [{"key": k, "title": t} for k, t in pairs]


EXTENDED_TABS = [
    {"title": "Tool accuracy: cases", "key": TAB_CASES},
    {"title": "Tool accuracy: tools", "key": TAB_TOOLS},
    {"title": "LLM timings", "key": TAB_TIMINGS},
    {"title": "Server state", "key": TAB_SERVER},
]
EXTENDED_TABLES = [
    {"key": TAB_CASES, "structure": _columns(
        ("case", "Eval case"), ("sessions", "Sessions"), ("success", "Task success"),
        ("cutshort", "Cut short by a failure"), ("incomplete", "Incomplete at the end"),
        ("turns", "Completed turns"), ("exact", "Turns exactly right"),
        ("rate", "Share exactly right (completed turns)"), ("errors", "Failed turns"),
        ("expected", "Calls expected"), ("called", "Calls made"), ("recall", "Name recall"),
        ("precision", "Name precision"))},
    {"key": TAB_TOOLS, "structure": _columns(
        ("tool", "Tool"), ("expected", "Expected"), ("called", "Called"), ("matched", "Name matched"),
        ("exact", "Exact (name+args)"), ("missed", "Missed"), ("extra", "Extra"),
        ("recall", "Recall"), ("precision", "Precision"), ("exactrate", "Exact rate"))},
    {"key": TAB_TIMINGS, "structure": _columns(
        ("name", "Timing"), ("count", "Count"), ("p50", "p50 (ms)"), ("p90", "p90 (ms)"),
        ("p99", "p99 (ms)"), ("mean", "Mean (ms)"), ("max", "Max (ms)"))},
    {"key": TAB_SERVER, "structure": _columns(
        ("name", "Server metric"), ("now", "Now"), ("max", "Max seen"))},
]  # fmt: skip


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ms(value: float) -> str:
    return f"{value:.1f}"


def _sum_cases(board: AccuracyBoard) -> CaseTally:
    """Every case's counts added up."""
    merged = AccuracyBoard()
    for case in board.by_case.values():
        merged.merge(AccuracyBoard(by_case={"all": case}))
    return merged.by_case["all"]


class LiveData:
    """What the running test has seen: tool accuracy and latency values (one per process)."""

    def __init__(self, verdict: CaseVerdict | None = None) -> None:
        self.verdict = verdict  # None: session outcomes without a case verdict (no web UI)
        self.reset()

    def reset(self, **_kw: Any) -> None:
        self.board = AccuracyBoard()
        self.timings: dict[str, list[float]] = {k: [] for k in TIMINGS}
        self.session_turns: dict[str, list[dict[str, Any]]] = {}

    def _add(self, key: str, value: Any) -> None:
        if value is None:
            return
        values = self.timings[key]
        values.append(float(value))
        if len(values) > MAX_VALUES:
            del values[: MAX_VALUES // 2]

    def add_llm_call(self, record: dict[str, Any]) -> None:
        if record.get("warmup") or not is_ok(record):
            return
        self._add("ttft", record.get("ttft_ms"))
        self._add("tpot", record.get("tpot_ms"))
        kind = _KIND_KEYS.get(record.get("reply_kind") or "")
        if kind is not None:
            self._add(f"ttft_{kind}", record.get("ttft_ms"))
            self._add(f"tpot_{kind}", record.get("tpot_ms"))
        self._add("tool_holdback", record.get("tool_holdback_ms"))
        self._add("llm", record.get("e2e_ms"))
        self._add("ttfo", record.get("ttfo_ms"))

    def add_turn(self, record: dict[str, Any]) -> None:
        if record.get("warmup"):
            return
        if is_ok(record):
            self._add("turn", record.get("latency_ms"))
            self._add("thinking", record.get("thinking_ms"))
            if self.verdict is not None and record.get("actual_invocation") is not None:
                self.session_turns.setdefault(str(record.get("session_id")), []).append(record)
        self.board.add_turn(
            record.get("case_id") or "?",
            record.get("tool_calls"),
            record.get("expected_tool_calls"),
            error=is_failed(record),
            incomplete=is_incomplete(record),
        )

    def add_session(self, record: dict[str, Any]) -> None:
        """The session's outcome, with the criteria's verdict on its turns when it completed."""
        turns = self.session_turns.pop(str(record.get("session_id")), [])
        if record.get("warmup"):
            return
        complete = len(turns) == (record.get("turns_expected") or 0)
        passed = None
        if self.verdict is not None and complete and not record.get("errors"):
            ordered = sorted(turns, key=lambda t: t.get("invocation_index") or 0)
            passed = self.verdict.passed(ordered)
        self.board.add_session(record.get("case_id") or "?", session_outcome(record, passed))

    def on_request(
        self, request_type: str = "", name: str = "", context: Any = None, **_kw: Any
    ) -> None:
        record = context.get("record") if isinstance(context, dict) else None
        if not isinstance(record, dict):
            return
        if request_type == "TURN":
            self.add_turn(record)
        elif request_type == "SESSION":
            self.add_session(record)
        elif request_type == "LLM" and name == "call":
            self.add_llm_call(record)

    # ---- worker -> master

    def take_wire(self) -> dict[str, Any]:
        """What this process saw since the last report, as JSON-able data; then forget it."""
        data = {"board": self.board.to_dict(), "timings": self.timings}
        self.reset()
        return data

    def merge_wire(self, data: dict[str, Any]) -> None:
        self.board.merge(AccuracyBoard.from_dict(data.get("board") or {}))
        for key, values in (data.get("timings") or {}).items():
            for value in values if key in self.timings else []:
                self._add(key, value)

    # ---- rows of the tabs

    def case_rows(self) -> list[dict[str, Any]]:
        """One row per case, after a first row over all cases (the two headline figures)."""
        rows = self.board.case_rows()
        if rows:
            rows = AccuracyBoard(by_case={"(all cases)": _sum_cases(self.board)}).case_rows() + rows
        return [
            {"case": r["case"], "sessions": r["sessions"],
             "success": _rate(r["task_success_rate"]), "cutshort": r["sessions_cut_short"],
             "incomplete": r["sessions_incomplete"], "turns": r["turns"], "exact": r["exact_turns"],
             "rate": _rate(r["exact_turn_rate"]), "errors": r["errors"], "expected": r["expected"],
             "called": r["called"], "recall": _rate(r["recall"]), "precision": _rate(r["precision"])}
            for r in rows
        ]  # fmt: skip

    def tool_rows(self) -> list[dict[str, Any]]:
        return [
            {"tool": r["tool"], "expected": r["expected"], "called": r["called"],
             "matched": r["matched"], "exact": r["exact"], "missed": r["missed"], "extra": r["extra"],
             "recall": _rate(r["recall"]), "precision": _rate(r["precision"]),
             "exactrate": _rate(r["exact_rate"])}
            for r in self.board.tool_rows()
        ]  # fmt: skip

    def timing_rows(self) -> list[dict[str, Any]]:
        rows = []
        for key, label in TIMINGS.items():
            values = np.asarray(self.timings[key], dtype=float)
            if len(values) == 0:
                rows.append({"name": label, "count": 0, "p50": "-", "p90": "-", "p99": "-",
                             "mean": "-", "max": "-"})  # fmt: skip
                continue
            p50, p90, p99 = np.percentile(values, [50, 90, 99])
            rows.append({"name": label, "count": len(values), "p50": _ms(p50), "p90": _ms(p90),
                         "p99": _ms(p99), "mean": _ms(values.mean()), "max": _ms(values.max())})  # fmt: skip
        return rows


class ServerState:
    """The server's own view from its /metrics: KV-cache usage, running and waiting requests."""

    ROWS = (
        ("KV-cache usage (%)", ("kv_cache_usage_perc", "gpu_cache_usage_perc"), 100.0, "mean"),
        ("requests running", ("num_requests_running",), 1.0, "sum"),
        ("requests waiting", ("num_requests_waiting",), 1.0, "sum"),
        ("preemptions (total)", ("num_preemptions_total", "num_preemptions"), 1.0, "sum"),
    )

    def __init__(self, metrics_url: str, headers: dict[str, str]):
        self.url = metrics_url
        self.headers = headers
        self.now: dict[str, float] = {}
        self.max: dict[str, float] = {}
        self.status = "not scraped yet"
        self.scraped_at: float | None = None

    def update(self, text: str) -> None:
        from bench.server.metrics import parse_metrics

        found: dict[str, list[float]] = {}
        for name, _labels, value in parse_metrics(text):
            found.setdefault(str(name).split(":")[-1], []).append(float(value))
        for label, names, scale, how in self.ROWS:
            values = next((found[n] for n in names if n in found), None)
            if values is None:
                continue
            value = (sum(values) / len(values) if how == "mean" else sum(values)) * scale
            self.now[label] = value
            self.max[label] = max(value, self.max.get(label, value))
        self.scraped_at = time.time()
        self.status = "ok"

    def scrape(self, client: Any) -> None:
        try:
            resp = client.get(self.url, headers=self.headers)
            resp.raise_for_status()
            self.update(resp.text)
        except Exception as exc:  # any failure is shown in the tab, never raised
            self.status = f"failed: {type(exc).__name__}"

    def rows(self) -> list[dict[str, Any]]:
        rows = [
            {"name": label, "now": f"{self.now[label]:.1f}" if label in self.now else "-",
             "max": f"{self.max[label]:.1f}" if label in self.max else "-"}
            for label, *_ in self.ROWS
        ]  # fmt: skip
        age = f", {time.time() - self.scraped_at:.0f} s ago" if self.scraped_at else ""
        rows.append({"name": f"scrape of {self.url}", "now": self.status + age, "max": ""})
        return rows


def metrics_url(api_base: str) -> str:
    base = api_base.rstrip("/")
    return (base[: -len("/v1")] if base.endswith("/v1") else base) + "/metrics"


def server_headers(extra: dict[str, str]) -> dict[str, str]:
    headers = dict(extra)
    key = os.environ.get(SERVER_API_KEY_ENV)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def extended_stats(live: LiveData, server: ServerState | None) -> list[dict[str, Any]]:
    return [
        {"key": TAB_CASES, "data": live.case_rows()},
        {"key": TAB_TOOLS, "data": live.tool_rows()},
        {"key": TAB_TIMINGS, "data": live.timing_rows()},
        {"key": TAB_SERVER, "data": server.rows() if server else []},
    ]


def register(
    events: Any,
    api_base: str,
    extra_headers: dict[str, str] | None = None,
    criteria: dict[str, Any] | None = None,
) -> LiveData:
    """Listen to Locust's events; add the tabs when this process runs the web UI.

    `criteria` (the eval set's) judge sessions for task success where a web UI will show it:
    this process's own UI, or a master's (this process is a worker). Headless runs skip the
    cost (a few ms per session); their figures come from the results stage."""
    live = LiveData()
    events.request.add_listener(live.on_request)
    events.reset_stats.add_listener(live.reset)

    @events.report_to_master.add_listener
    def _to_master(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        data[WIRE_KEY] = live.take_wire()

    @events.worker_report.add_listener
    def _from_worker(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        if WIRE_KEY in data:
            live.merge_wire(data[WIRE_KEY])

    @events.init.add_listener
    def _init(environment: Any, **_kw: Any) -> None:
        options = getattr(environment, "parsed_options", None)
        shown = getattr(environment, "web_ui", None) is not None or bool(
            getattr(options, "worker", False)
        )
        if shown:
            live.verdict = CaseVerdict(criteria or {})
        if getattr(environment, "web_ui", None) is not None:
            server = ServerState(metrics_url(api_base), server_headers(extra_headers or {}))
            environment.host = environment.host or api_base  # shown in the UI (not a secret)
            install(environment, live, server)

    return live


def install(environment: Any, live: LiveData, server: ServerState) -> None:
    """Tabs, routes, login, the /metrics poller and end-on-stop, on the web UI's Flask app."""
    import gevent
    import httpx
    from flask import jsonify, request

    web_ui = environment.web_ui
    app = web_ui.app
    web_ui.template_args["extended_tabs"] = EXTENDED_TABS
    web_ui.template_args["extended_tables"] = EXTENDED_TABLES
    if web_ui.web_login:
        _install_login(web_ui)

    @app.after_request
    def _agent_figures(response: Any) -> Any:
        """The agent tabs' rows and the header in agent terms (`bench.load.webui_header`)."""
        if request.path.endswith("/stats/requests") and response.is_json:
            body = response.get_json()
            if isinstance(body, dict):
                body = webui_header.rewrite_stats(body)
                body["extended_stats"] = extended_stats(live, server)
                response.set_data(json.dumps(body))
        elif request.endpoint == "locust.index" and response.mimetype == "text/html":
            response.set_data(webui_header.add_script(response.get_data(as_text=True)))
        return response

    @app.route("/bench/live")
    @web_ui.auth_required_if_enabled
    def _live() -> Any:
        return jsonify({"cases": live.case_rows(), "tools": live.tool_rows(),
                        "timings": live.timing_rows(), "server": server.rows()})  # fmt: skip

    def poll_metrics() -> None:
        with httpx.Client(timeout=SCRAPE_INTERVAL_S) as client:
            while True:
                server.scrape(client)
                gevent.sleep(SCRAPE_INTERVAL_S)

    gevent.spawn(poll_metrics)
    ending: list[bool] = []

    @environment.events.test_stop.add_listener
    def _end_run_on_stop(**_kw: Any) -> None:
        """A test stopped in the UI ends the run: quit Locust so `bench run` writes the tables."""
        if ending:
            return
        ending.append(True)
        log.info("test stopped in the web UI: ending the run (results are written next)")

        def quit_all() -> None:
            environment.runner.quit()
            web_ui.stop()

        gevent.spawn_later(END_AFTER_STOP_S, quit_all)


def _install_login(web_ui: Any) -> None:
    """One user and password from BENCH_WEB_AUTH for Locust's --web-login page."""
    from flask import Blueprint, redirect, request, session, url_for
    from flask_login import UserMixin, login_user

    user, _, password = os.environ.get(WEB_AUTH_ENV, "").partition(":")

    class WebUser(UserMixin):
        def __init__(self, name: str):
            self.id = name

    web_ui.app.config["SECRET_KEY"] = secrets.token_hex(32)
    web_ui.login_manager.user_loader(lambda name: WebUser(name) if user and name == user else None)
    web_ui.auth_args = {"username_password_callback": "/bench/login"}
    blueprint = Blueprint("bench_auth", __name__)

    @blueprint.route("/bench/login", methods=["POST"])
    def login_submit() -> Any:
        given_user = request.form.get("username", "")
        given_password = request.form.get("password", "")
        ok = hmac.compare_digest(given_user.encode(), user.encode())
        ok = hmac.compare_digest(given_password.encode(), password.encode()) and ok
        ok = ok and bool(user and password)
        if ok:
            login_user(WebUser(user))
            return redirect(url_for("locust.index"))
        session["auth_error"] = "Invalid username or password"
        return redirect(url_for("locust.login"))

    web_ui.app.register_blueprint(blueprint)
