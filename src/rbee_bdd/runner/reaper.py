"""A watcher that outlives the runner: once the runner is gone, nothing of its run stays.

``before_all`` starts one per run (``python -m rbee_bdd.runner.reaper --run ID --owner PID:START``),
in a session of its own so that neither Ctrl+C nor the runner's death reaches it. It checks
twice a second whether the runner still lives; once it does not (an ordinary end, a crash,
``kill -9``), it removes every container, network, process, cgroup slice and temporary
folder labelled or marked with the run, then exits. After an ordinary end there is nothing left to remove.
This is testcontainers' Ryuk, without a container.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from rbee_bdd.core.identity import OWNER_ENV, RUN_ENV, SCENARIO_ENV, owner_alive
from rbee_bdd.host.sweep import of_run, sweep, sweep_dirs, sweep_slices

POLL_S = 0.5


def start(run_id: str, owner: str) -> subprocess.Popen[bytes]:
    """Start the reaper of *run_id*, owned by the runner *owner* (``pid:start-time``)."""
    env = {k: v for k, v in os.environ.items() if k not in (RUN_ENV, OWNER_ENV, SCENARIO_ENV)}
    return subprocess.Popen([sys.executable, "-m", "rbee_bdd.runner.reaper", "--run", run_id, "--owner", owner],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rbee_bdd.runner.reaper", description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--owner", required=True, help="pid:start-time of the runner")
    args = parser.parse_args(argv)
    while owner_alive(args.owner):
        time.sleep(POLL_S)
    sweep(of_run(args.run))
    sweep_slices(args.run)
    sweep_dirs(args.run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
