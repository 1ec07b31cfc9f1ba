"""Single-stream decode efficiency against the memory-bandwidth bound (see STACK-FACTS).

Decoding reads every weight once per step, so one stream can make at most
peak_bandwidth / weight_bytes tokens per second. Measured: 1000 / TPOT p50 at concurrency 1,
the server's own TPOT (vLLM's `request_time_per_output_token`, p50 or else its exact mean) when
/metrics was scraped, else the client's: the server counts every generated token, while the
client cannot time the tokens a tool parser holds back.
"""

from __future__ import annotations

from typing import Any

# Peak memory bandwidth in TB/s, matched by substring of the GPU name (most specific first).
PEAK_BANDWIDTH_TBPS: tuple[tuple[str, float], ...] = (
    ("H100 SXM", 3.35),
    ("H100 PCIe", 2.0),
    ("H100", 3.35),
    ("H200", 4.8),
    ("B200", 8.0),
    ("A100-SXM4-80GB", 2.04),
    ("A100 80GB", 2.04),
    ("A100-PCIE-40GB", 1.56),
    ("A100 40GB", 1.56),
    ("A100", 1.56),
    ("L40S", 0.86),
    ("L4", 0.30),
)


def peak_bandwidth_tbps(gpu_name: str) -> float | None:
    for key, tbps in PEAK_BANDWIDTH_TBPS:
        if key.lower() in gpu_name.lower():
            return tbps
    return None


def roofline(
    gpus: list[dict[str, Any]],
    weight_bytes: int | None,
    users: int | None,
    tpot_p50_ms: float | None,
    server_tpot_ms: float | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "roofline_bound_tokens_per_s": None,
        "roofline_achieved_tokens_per_s": None,
        "roofline_efficiency_pct": None,
    }
    if not gpus:
        return {**out, "roofline_note": "not applicable: no GPU"}
    if not weight_bytes:
        return {
            **out,
            "roofline_note": "not applicable: the model's weight bytes are unknown (catalog weight_bytes)",
        }
    tbps = peak_bandwidth_tbps(str(gpus[0].get("name", "")))
    if tbps is None:
        return {
            **out,
            "roofline_note": f"not applicable: no peak bandwidth known for {gpus[0].get('name')}",
        }
    bound = tbps * 1e12 / weight_bytes
    out["roofline_bound_tokens_per_s"] = bound
    tpot_ms, source = (server_tpot_ms, "server") if server_tpot_ms else (tpot_p50_ms, "client")
    if users != 1 or not tpot_ms:
        return {
            **out,
            "roofline_note": "bound only: efficiency is measured at concurrency 1 (--users 1)",
        }
    achieved = 1000.0 / tpot_ms
    return {
        **out,
        "roofline_achieved_tokens_per_s": achieved,
        "roofline_efficiency_pct": 100 * achieved / bound,
        "roofline_note": f"{gpus[0].get('name')}: {tbps} TB/s peak, "
        f"{weight_bytes / 1e9:.2f} GB of weights, {source} TPOT",
    }
