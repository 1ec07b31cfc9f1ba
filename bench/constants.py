"""One source for every default. Modules import from here, never the other way round."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

# Bump when a Parquet table's columns change meaning or type; `bench compare` refuses to mix versions.
# 4: the drain (incomplete work with its age, not dropped), the window to the stop, percentile
#    lower bounds, server finish reasons and unclean finishes counted, pass^k null below k trials
# 3: task success, truncated sessions, successes-only throughput, open-loop schedule, cached tokens
# 2: case_passed (ADK rule), percentile bounds, args by value
SCHEMA_VERSION = 4

# The folder that holds the `bench` package: the checkout, or site-packages for an installed wheel.
REPO_ROOT = Path(__file__).resolve().parent.parent
# The source checkout bench runs from (editable install), or None when installed from a wheel.
CHECKOUT_ROOT: Path | None = REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else None


def _shipped_evalsets_dir() -> Path:
    """The wheel carries the eval sets as package data (`bench/_evalsets`); a checkout has them
    at the top level, where they stay so that users and ADK tools find them."""
    packaged = Path(str(resources.files("bench") / "_evalsets"))
    return packaged if packaged.is_dir() else REPO_ROOT / "evalsets"


EVALSETS_DIR = _shipped_evalsets_dir()
DEFAULT_RESULTS_DIR = Path("results")
# The checkout's vLLM environment (scripts/setup.sh); `bench setup-vllm` makes one in the cache.
DEFAULT_VLLM_VENV = REPO_ROOT / ".venv-vllm"
CACHE_VLLM_VENV_NAME = "venv-vllm"


# Tool choice of a run, as named in manifest.json and the summary (`bench run --force-tools`).
TOOL_CHOICE_AUTO = "auto"
TOOL_CHOICE_FORCED = "required_when_expected"

# Server
LOOPBACK_HOST = "127.0.0.1"
HEALTH_TIMEOUT_S = 600.0  # a cold compiled start on a busy 2-core machine can take minutes
STOP_GRACE_S = 5.0  # SIGTERM -> SIGKILL of the whole process group
LOG_TAIL_LINES = 30
MIN_FREE_BYTES = 1 << 20  # below this the results folder counts as full
CPU_KV_CACHE_BYTES = "512M"  # KV cache of a CPU server unless the user sizes it

# Environment for a vLLM child that must never reach a model hub or phone home.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
}

# Load
DEFAULT_USERS = 4
DEFAULT_SPAWN_RATE = 4.0
# Open loop: sessions in flight per load process before an arrival has to wait for a slot.
# High, so the schedule, not the client, decides when sessions start; the waits are counted.
DEFAULT_MAX_SESSIONS_IN_FLIGHT = 1000
DEFAULT_DURATION_S = 60.0
DEFAULT_REQUEST_TIMEOUT_S = 120.0
# At the stop work in flight gets this long to finish (k6's gracefulStop default); what is still
# running after it is recorded incomplete, with its age.
DEFAULT_DRAIN_S = 30.0

DEFAULT_EVALSET = "weather_time"
DEFAULT_WEB_PORT = 8089
DEFAULT_MASTER_PORT = 5557  # Locust's own default master port


def default_load_processes() -> int:
    """Locust processes on one machine: half the cores (the server needs the rest), at least 1."""
    return max(1, (os.cpu_count() or 2) // 2)


# The client distorts its figures when it delays them by more than this share of TTFT p50
# (bench.results.client_summary), or when more than this share of ITL gaps are 0 (chunks read
# in one batch) while the server takes at least this long per token.
CLIENT_DELAY_SATURATED_SHARE = 0.10
CLIENT_BATCHED_SHARE_MAX = 0.10
CLIENT_BATCHED_SERVER_ITL_MIN_MS = 1.0
# A flagged load process busier than this (mean CPU, % of one core) needs more processes; one
# less busy was starved by the machine (the saturation warning's advice).
CLIENT_CPU_SATURATED_PCT = 85.0
