"""Orchestration: a run, a sweep and the SLA search, as loops over load steps.

    run.py             run_benchmark(cfg): the whole run top to bottom; open_run(cfg) for loops
    inputs.py          everything checked before anything starts (eval set, agent, server plan)
    run_folder.py      the run folder: resolved config, manifest, step folders
    server_session.py  a launched or attached server that runs one load step at a time
    load_step.py       one load step: the Locust child, /metrics, the stop rules each tick
    stop_rules.py      why a load step ends (each rule: None or a Stop)
    record_counter.py  completed records counted incrementally from the raw files
    signals.py         SIGINT/SIGTERM -> a clean stop, the signal kept for the exit code
    tables.py          Parquet of a run or of each step, and the step summary table
    judge.py           ADK's LLM-as-judge metrics over the measured turns
    sweep_plan.py      models x engine flags x loads -> combinations and points (pure)
    sweep_folder.py    a sweep's folder: its plan, finished points, summary tables
    sweep.py           a sweep: each combination's points as steps of one server lifetime
    sla_search.py      the SLA search's verdict and next load (pure)
    sla.py             the SLA search: probe, verdict, next load, in one server lifetime

Heavy imports (ADK, pyarrow, Locust's spec) stay inside these modules; importing the package
is free.
"""
