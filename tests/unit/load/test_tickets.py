from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from bench.load.tickets import TicketCounter


def _claim_all(run_dir: str, n_cases: int, limit: int, out: mp.Queue) -> None:
    counter = TicketCounter(run_dir, n_cases, max_sessions=limit)
    numbers = []
    while (ticket := counter.claim()) is not None:
        numbers.append((ticket.number, ticket.case_index, ticket.trial))
    out.put(numbers)


def test_two_processes_get_each_ticket_exactly_once(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(str(tmp_path), 3, 400, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    claimed = results[0] + results[1]
    assert sorted(n for n, _, _ in claimed) == list(range(400))
    assert all(case == n % 3 and trial == n // 3 for n, case, trial in claimed)
    assert results[0] and results[1]  # both processes got some


def test_order_seeded_trials_and_limits(tmp_path: Path) -> None:
    counter = TicketCounter(tmp_path / "a", 4, seed=7, trials=2)
    tickets = []
    while (t := counter.claim()) is not None:
        tickets.append(t)
    assert len(tickets) == 8  # n * trials
    first, second = [t.case_index for t in tickets[:4]], [t.case_index for t in tickets[4:]]
    assert sorted(first) == [0, 1, 2, 3] and first == second  # one shuffle, repeated
    assert [t.trial for t in tickets] == [0] * 4 + [1] * 4

    unlimited = TicketCounter(tmp_path / "b", 2)
    assert [unlimited.claim().case_index for _ in range(5)] == [0, 1, 0, 1, 0]  # type: ignore[union-attr]


def test_open_loop_schedule_is_shared(tmp_path: Path) -> None:
    a = TicketCounter(tmp_path, 2, session_rate=4.0, arrival="constant")
    b = TicketCounter(tmp_path, 2, session_rate=4.0, arrival="constant")
    t0, t1, t2 = a.claim(), b.claim(), a.claim()
    assert t0 and t1 and t2
    assert abs((t1.arrival_at - t0.arrival_at) - 0.25) < 1e-9  # type: ignore[operator]
    assert abs((t2.arrival_at - t0.arrival_at) - 0.5) < 1e-9  # type: ignore[operator]
    poisson = TicketCounter(tmp_path / "p", 2, session_rate=10.0, seed=1)
    times = [poisson.claim().arrival_at for _ in range(200)]  # type: ignore[union-attr]
    mean_gap = (times[-1] - times[0]) / 199
    assert 0.07 < mean_gap < 0.13
