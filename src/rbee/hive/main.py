"""rbee-hive: one per machine; runs the workers and reports them to queen."""

from __future__ import annotations

import argparse
import logging
import shlex
import shutil
import socket
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from rbee.common import config
from rbee.common.cli import die, non_negative, non_negative_int, positive
from rbee.common.daemon import command_line, listen
from rbee.common.security import Security
from rbee.common.server import serve
from rbee.hive.app import ROUTES, HiveConfig, create_app
from rbee.hive.cgroups import CgroupError, Limits, parse_cpu_limit, parse_memory_limit
from rbee.hive.hubs import HubPolicy, hub_url
from rbee.hive.instance import instance_id
from rbee.hive.models import ModelCatalog
from rbee.hive.monitor import ProcessMonitor
from rbee.hive.worker_env import WorkerCredential, env_names
from rbee.hive.workers import SpawnSettings

PROG = "rbee-hive"


# flag and add_argument's keywords, in --help's order
OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--queen-url", dict(required=True, help="e.g. http://127.0.0.1:7833")),
    ("--models", dict(type=Path, required=True, help="directory of <name>.gguf files")),
    ("--hive-id", dict(default=socket.gethostname())),
    ("--download-dir", dict(type=Path, metavar="DIR",
        help="where models provisioned from a hub go (default: the --models directory)")),
    ("--state-dir", dict(type=Path, metavar="DIR",
        help="the hive's own files: model catalog, records of ready workers (which a hive "
        "started after a crash adopts); default ~/.local/share/rbee/<hive-id>")),
    ("--catalog", dict(type=Path, metavar="FILE",
        help="the SQLite model catalog (default <state-dir>/catalog.sqlite)")),
    ("--host", dict(default="127.0.0.1", help="address to listen on")),
    ("--port", dict(type=int, default=7835, help="0 lets the OS choose")),
    ("--port-file", dict(type=Path, help="where to write the bound port")),
    ("--advertise-host", dict(help="host queen uses to reach this hive (default --host)")),
    ("--heartbeat-interval", dict(type=positive, default=30.0, metavar="SECONDS")),
    ("--worker-cmd", dict(default="llm-worker-rbee", help="worker program and leading args")),
    ("--worker-args", dict(default="", metavar="ARGS",
        help="extra arguments for every worker, e.g. '--no-mmap'")),
    ("--worker-health-interval", dict(type=positive, default=5.0, metavar="SECONDS",
        help="how often each worker's /v1/ready is checked (2 failures in a row: unhealthy)")),
    ("--worker-health-failures", dict(type=non_negative_int, default=10, metavar="N",
        help="failed health checks in a row after which a worker is killed and removed "
        "(WORKER_UNHEALTHY; default 10; 0: never, it stays unhealthy)")),
    ("--worker-stop-grace", dict(type=positive, default=10.0, metavar="SECONDS")),
    ("--worker-idle-timeout", dict(type=non_negative, default=900.0, metavar="SECONDS",
        help="a worker without a job this long is stopped, freeing its memory (default 900; 0: never); "
        "checked at every --worker-health-interval")),
    ("--worker-start-timeout", dict(type=positive, default=120.0, metavar="SECONDS",
        help="a worker not ready this long after its spawn is stopped (WORKER_START_TIMEOUT)")),
    ("--shutdown-grace", dict(type=positive, default=30.0, metavar="SECONDS",
        help="on SIGTERM, how long workers running a job may take to finish it before every "
        "worker is stopped (new spawns are refused meanwhile: HIVE_DRAINING)")),
    ("--model-hub", dict(type=hub_url, action="append", default=[], metavar="URL",
        help="a base URL models may be downloaded from (repeatable); without one, only hosts "
        "whose addresses are all public")),
    ("--download-stall-timeout", dict(type=positive, default=30.0, metavar="SECONDS",
        help="a model download that gets no byte this long ends with DOWNLOAD_STALLED")),
    ("--worker-cpu-limit", dict(type=parse_cpu_limit, default=(None, 100_000),
        metavar="'QUOTA PERIOD'", help="default cpu.max of each worker (default: max)")),
    ("--worker-memory-limit", dict(type=parse_memory_limit, metavar="SIZE",
        help="default memory limit of each worker, e.g. 512M (default: none)")),
    ("--max-workers", dict(type=non_negative_int, default=16, metavar="N",
        help="workers this hive runs at most (default 16; 0: no limit)")),
    ("--device", dict(choices=("cpu", "gpu"), default="cpu",
        help="where workers run; gpu: each is placed on the GPU with the most free memory, "
        "and refused when the model does not fit there")),
    ("--no-cgroups", dict(action="store_true", help="run workers without cgroups")),
    ("--cgroup-slice", dict(default="rbee.slice", metavar="NAME",
        help="the slice under the hive's own cgroup (one per hive where several share a machine)")),
    ("--nvidia-smi", dict(default="nvidia-smi", help="nvidia-smi program to query")),
    ("--nvidia-smi-timeout", dict(type=positive, default=1.0, metavar="SECONDS")),
    ("--gpu-interval", dict(type=positive, default=2.0, metavar="SECONDS",
        help="how often nvidia-smi is read")),
    ("--worker-env", dict(type=env_names, action="extend", default=[], metavar="NAME[,NAME…]",
        help="more variables of the hive's environment that workers get (beside PATH, HOME, "
        "LANG, LC_*, TZ, TMPDIR, LD_LIBRARY_PATH, PYTHON*, RBEE_LOG_LEVEL, COVERAGE_*); "
        "never a credential")),
]


def open_catalog(args: argparse.Namespace, state_dir: Path, download_dir: Path) -> ModelCatalog:
    """The model catalog over --models and --download-dir; exits when it cannot be opened."""
    catalog_path = args.catalog or state_dir / "catalog.sqlite"
    catalog = ModelCatalog([args.models] + ([download_dir] if download_dir != args.models else []), catalog_path)
    try:
        catalog.open()
    except (OSError, sqlite3.Error) as exc:
        die(PROG, f"cannot open the model catalog {catalog_path}: {exc}")
    return catalog


def worker_command(args: argparse.Namespace, security: Security,
                   run_dir: Path) -> tuple[list[str], WorkerCredential | None]:
    """The worker program with its arguments, and the private file it reads the cluster credential from."""
    command = shlex.split(args.worker_cmd)
    if not command or shutil.which(command[0]) is None:
        die(PROG, f"worker program {args.worker_cmd!r} not found")
    command += shlex.split(args.worker_args)
    worker_credential = None
    if cluster_token := security.auth.credentials.cluster_token:  # the workers check queen's and the hive's calls
        worker_credential = WorkerCredential(run_dir / "cluster.token")
        worker_credential.write(cluster_token)
        command += ["--cluster-token-file", str(worker_credential.path)]
    return command + security.transport_flags(), worker_credential


def process_monitor(args: argparse.Namespace) -> ProcessMonitor:
    """Cgroups (unless --no-cgroups) and nvidia-smi, as this machine allows; exits on a cgroup error."""
    monitor_options = {"nvidia_smi": args.nvidia_smi, "nvidia_timeout_s": args.nvidia_smi_timeout}
    try:
        monitor = ProcessMonitor(None, "disabled by --no-cgroups", **monitor_options) if args.no_cgroups \
            else ProcessMonitor.detect(args.cgroup_slice, **monitor_options)
    except CgroupError as exc:
        die(PROG, str(exc), code=2)
    if not monitor.cgroups_enabled:
        logging.getLogger("rbee.hive").warning("workers run without cgroups: %s", monitor.reason)
    return monitor


def hive_config(args: argparse.Namespace, security: Security, port: int) -> HiveConfig:
    """The hive's settings from its arguments (the catalog opened, the worker program found)."""
    state_dir = args.state_dir or Path.home() / ".local" / "share" / "rbee" / args.hive_id
    download_dir = args.download_dir or args.models
    catalog = open_catalog(args, state_dir, download_dir)
    run_dir = Path(tempfile.mkdtemp(prefix="rbee-hive-"))  # private (0700): the workers' credential file too
    command, worker_credential = worker_command(args, security, run_dir)
    advertise = args.advertise_host or ("127.0.0.1" if args.host == "0.0.0.0" else args.host)
    spawn = SpawnSettings(command=command, bind_host=args.host, advertise_host=advertise,
                          run_dir=run_dir, env_names=tuple(args.worker_env),
                          stop_grace_s=args.worker_stop_grace, load_timeout_s=args.worker_start_timeout,
                          idle_timeout_s=args.worker_idle_timeout,
                          health_interval_s=args.worker_health_interval, state_dir=state_dir,
                          remove_after=args.worker_health_failures,
                          max_workers=max(0, args.max_workers), scheme=security.tls.scheme,
                          verify=security.tls.verify())
    quota, period = args.worker_cpu_limit
    return HiveConfig(hive_id=args.hive_id, url=f"{security.tls.scheme}://{advertise}:{port}", queen_url=args.queen_url,
                      heartbeat_interval_s=args.heartbeat_interval, catalog=catalog,
                      spawn=spawn, port_file=args.port_file, port=port, monitor=process_monitor(args),
                      default_limits=Limits(quota, period, args.worker_memory_limit),
                      gpu_interval_s=args.gpu_interval, device=args.device,
                      download_dir=download_dir,
                      shutdown_grace_s=args.shutdown_grace, download_stall_timeout_s=args.download_stall_timeout,
                      worker_credential=worker_credential, hubs=HubPolicy(args.model_hub),
                      instance_id=instance_id(state_dir))


def main(argv: list[str] | None = None) -> None:
    args, security = command_line(PROG, "Run LLM workers on this machine for queen-rbee.", OPTIONS, argv)
    if not args.models.is_dir():
        die(PROG, f"model directory {args.models} does not exist")
    sock = listen(PROG, args.host, args.port)
    settings = hive_config(args, security, sock.getsockname()[1])
    app = create_app(settings, security)
    spawn = settings.spawn
    reloader = config.Reloader(args, {  # what SIGHUP may change, by flag
        "max_workers": lambda v: setattr(spawn, "max_workers", max(0, v)),
        "worker_health_interval": lambda v: setattr(spawn, "health_interval_s", v),
        "worker_health_failures": lambda v: setattr(spawn, "remove_after", v),
        "worker_idle_timeout": lambda v: setattr(spawn, "idle_timeout_s", v),
        "worker_start_timeout": lambda v: setattr(spawn, "load_timeout_s", v),
        "worker_stop_grace": lambda v: setattr(spawn, "stop_grace_s", v),
        "shutdown_grace": lambda v: setattr(settings, "shutdown_grace_s", v),
    })
    workers = app.state.workers
    serve(security.guard(app, ROUTES), sock, drain=app.state.drain, limits=security.limits, tls=security.tls,
          reload=config.on_sighup(security.reload, reloader.reload,
                                  lambda: workers.rotate_credential(security.auth.credentials.cluster_token)))


if __name__ == "__main__":
    main()
