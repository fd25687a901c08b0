"""llm-worker-rbee: load one GGUF model and serve completions."""

from __future__ import annotations

import os
from pathlib import Path

from rbee.common import config
from rbee.common.cli import ArgumentParser, die, setup_logging
from rbee.common.daemon import listen
from rbee.common.security import add_security_arguments, security_from_args
from rbee.common.server import serve
from rbee.worker.app import ROUTES, create_app
from rbee.worker.engine import Engine, ModelLoadError, check_model_file

PROG = "llm-worker-rbee"


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog=PROG, description="Serve completions from one GGUF model.")
    parser.add_argument("--model", type=Path, required=True, help="path of the .gguf file")
    parser.add_argument("--worker-id", default=f"worker-{os.getpid()}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 lets the OS choose")
    parser.add_argument("--port-file", type=Path, help="where to write the bound port")
    parser.add_argument("--ctx", type=int, default=0, help="context length in tokens (0: the model's own)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-mmap", action="store_true", help="read the weights into memory")
    add_security_arguments(parser)
    args = config.parse_args(parser, PROG, argv)
    setup_logging(PROG, args.log_level)
    security = security_from_args(PROG, args)
    try:
        check_model_file(args.model)
    except ModelLoadError as exc:
        die(PROG, str(exc))
    sock = listen(PROG, args.host, args.port)
    engine = Engine(args.model, args.ctx, args.threads, use_mmap=not args.no_mmap)
    app = create_app(engine, args.worker_id, args.port_file, sock.getsockname()[1], security.denials)
    reloader = config.Reloader(args, {})  # of its settings only the log level changes at run time
    serve(security.guard(app, ROUTES), sock, drain=app.state.drain, limits=security.limits, tls=security.tls,
          reload=config.on_sighup(security.reload, reloader.reload))


if __name__ == "__main__":
    main()
