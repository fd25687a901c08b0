"""queen-rbee: the orchestrator that places jobs on workers across hives."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rbee.common import config
from rbee.common.cli import non_negative, non_negative_int, positive
from rbee.common.daemon import command_line, listen
from rbee.common.server import serve
from rbee.queen.app import ROUTES, QueenConfig, create_app

PROG = "queen-rbee"


# flag and add_argument's keywords, in --help's order
OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--host", dict(default="127.0.0.1", help="address to listen on")),
    ("--port", dict(type=int, default=7833, help="0 lets the OS choose")),
    ("--port-file", dict(type=Path, help="where to write the bound port")),
    ("--hive-stale-after", dict(type=positive, default=90.0, metavar="SECONDS",
        help="a hive silent this long is unavailable")),
    ("--hive-remove-after", dict(type=positive, metavar="SECONDS",
        help="a hive silent this long is forgotten with its workers (default: twice the above)")),
    ("--ui-buffer", dict(type=int, default=64, metavar="EVENTS",
        help="events a UI subscriber may fall behind before it is dropped")),
    ("--cascade-shutdown", dict(action=argparse.BooleanOptionalAction, default=True,
        help="on SIGTERM, shut every hive (and its workers) down too (default); with "
        "--no-cascade-shutdown queen stops alone and hives keep running, e.g. for a restart")),
    ("--shutdown-grace", dict(type=positive, default=20.0, metavar="SECONDS",
        help="on SIGTERM, how long running jobs may take to finish before they are cancelled")),
    ("--stall-timeout", dict(type=positive, default=30.0, metavar="SECONDS",
        help="a job stream reader that takes no data for this long is disconnected and, "
        "if it was the last, its job cancelled")),
    ("--default-job-timeout", dict(type=non_negative, default=600.0, metavar="SECONDS",
        help="the deadline of a job that gives no timeout_s (default 600; 0: none)")),
    ("--max-jobs-per-principal", dict(type=non_negative_int, default=32, metavar="N",
        help="jobs one client principal may have unfinished at once; more get 429 "
        "QUOTA_EXCEEDED (admin and the cluster excepted; 0: no limit)")),
    ("--max-ui-subscribers", dict(type=non_negative_int, default=100, metavar="N",
        help="readers of /v1/heartbeats/stream at once; more get 503 TOO_MANY_SUBSCRIBERS "
        "(0: no limit)")),
    ("--queue-timeout", dict(type=positive, default=300.0, metavar="SECONDS",
        help="how long a job waits in its model's line while every worker is busy and every hive full, "
        "before it ends with QUEUE_TIMEOUT (default 300)")),
    ("--worker-stall-timeout", dict(type=non_negative, default=60.0, metavar="SECONDS",
        help="a running job's worker that sends no token or narration this long ends the job "
        "with WORKER_STALLED and is stopped (default 60; 0: never)")),
]


def main(argv: list[str] | None = None) -> None:
    args, security = command_line(PROG, "Orchestrate LLM jobs across rbee hives.", OPTIONS, argv)
    sock = listen(PROG, args.host, args.port)
    queen_config = QueenConfig(stale_after_s=args.hive_stale_after, port_file=args.port_file,
                         port=sock.getsockname()[1], remove_after_s=args.hive_remove_after or 0.0,
                         ui_buffer=max(1, args.ui_buffer), stall_timeout_s=args.stall_timeout,
                         shutdown_grace_s=args.shutdown_grace, cascade_shutdown=args.cascade_shutdown,
                         default_job_timeout_s=args.default_job_timeout,
                         max_jobs_per_principal=args.max_jobs_per_principal,
                         max_ui_subscribers=args.max_ui_subscribers,
                         worker_stall_timeout_s=args.worker_stall_timeout, queue_timeout_s=args.queue_timeout)
    app = create_app(queen_config, security)
    registry = app.state.registry
    reloader = config.Reloader(args, {  # what SIGHUP may change, by flag
        "hive_stale_after": lambda v: setattr(registry, "stale_after_s", v),
        "hive_remove_after": lambda v: setattr(registry, "remove_after_s", max(v, registry.stale_after_s)),
        "stall_timeout": lambda v: setattr(queen_config, "stall_timeout_s", v),
        "shutdown_grace": lambda v: setattr(queen_config, "shutdown_grace_s", v),
        "default_job_timeout": lambda v: setattr(queen_config, "default_job_timeout_s", v),
        "max_jobs_per_principal": lambda v: setattr(queen_config, "max_jobs_per_principal", v),
        "max_ui_subscribers": lambda v: setattr(queen_config, "max_ui_subscribers", v),
        "worker_stall_timeout": lambda v: setattr(queen_config, "worker_stall_timeout_s", v),
        "queue_timeout": lambda v: setattr(queen_config, "queue_timeout_s", v),
    })
    serve(security.guard(app, ROUTES), sock, drain=app.state.drain, limits=security.limits, tls=security.tls,
          reload=config.on_sighup(security.reload, reloader.reload), event_loop="auto")


if __name__ == "__main__":
    main()
