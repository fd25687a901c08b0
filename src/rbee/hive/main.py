"""rbee-hive: one per machine; runs the workers and reports them to queen."""

from __future__ import annotations

import shlex
import shutil
import socket
import tempfile
from pathlib import Path

from rbee.common.cli import ArgumentParser, die, positive, setup_logging
from rbee.common.server import bind, serve
from rbee.hive.app import HiveConfig, create_app
from rbee.hive.models import ModelCatalog
from rbee.hive.workers import SpawnSettings

PROG = "rbee-hive"


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog=PROG, description="Run LLM workers on this machine for queen-rbee.")
    parser.add_argument("--queen-url", required=True, help="e.g. http://127.0.0.1:7833")
    parser.add_argument("--models", type=Path, required=True, help="directory of <name>.gguf files")
    parser.add_argument("--hive-id", default=socket.gethostname())
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=7835, help="0 lets the OS choose")
    parser.add_argument("--port-file", type=Path, help="where to write the bound port")
    parser.add_argument("--advertise-host", help="host queen uses to reach this hive (default --host)")
    parser.add_argument("--heartbeat-interval", type=positive, default=30.0, metavar="SECONDS")
    parser.add_argument("--worker-cmd", default="llm-worker-rbee", help="worker program and leading args")
    parser.add_argument("--worker-stop-grace", type=positive, default=10.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    setup_logging(PROG)
    if not args.models.is_dir():
        die(PROG, f"model directory {args.models} does not exist")
    command = shlex.split(args.worker_cmd)
    if not command or shutil.which(command[0]) is None:
        die(PROG, f"worker program {args.worker_cmd!r} not found")
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        die(PROG, f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
    port = sock.getsockname()[1]
    advertise = args.advertise_host or ("127.0.0.1" if args.host == "0.0.0.0" else args.host)
    spawn = SpawnSettings(command=command, bind_host=args.host, advertise_host=advertise,
                          run_dir=Path(tempfile.mkdtemp(prefix="rbee-hive-")),
                          stop_grace_s=args.worker_stop_grace)
    config = HiveConfig(hive_id=args.hive_id, url=f"http://{advertise}:{port}", queen_url=args.queen_url,
                        heartbeat_interval_s=args.heartbeat_interval, catalog=ModelCatalog(args.models),
                        spawn=spawn, port_file=args.port_file, port=port)
    serve(create_app(config), sock)


if __name__ == "__main__":
    main()
