"""rbee-keeper run against a stack as a user would: its submit token in the environment, never on the command line."""

from __future__ import annotations

from rbee_bdd.clients.keeper import KeeperProcess, KeeperResult, run_keeper
from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.stack.facets.base import Facet


class StackKeeper(Facet):
    """rbee-keeper against the stack's queen, to its end or in the background."""

    def run(self, args: list[str], timeout: float = 60.0) -> KeeperResult:
        """rbee-keeper *args*, run to its end (or *timeout*)."""
        config = self.stack.config
        return run_keeper(config.keeper_cmd, self.stack.queen().url, args, timeout, self.env(), config.profile.rename)

    def start(self, args: list[str], cleanup: CleanupStack) -> KeeperProcess:
        """rbee-keeper *args* in the background, stopped by *cleanup*."""
        config = self.stack.config
        keeper = KeeperProcess(config.keeper_cmd, self.stack.queen().url, args, self.env(), config.profile.rename)
        cleanup.push("stop rbee-keeper", keeper.stop)
        return keeper

    def env(self) -> dict[str, str]:
        """rbee-keeper's environment: a user's submit token (in the environment, never on its command line),
        and over TLS the scenario's CA to check queen's certificate against (``RBEE_TLS_CA``)."""
        token = {"RBEE_TOKEN": self.stack.client_token("submit")} if self.stack.credentials is not None else {}
        ca = {"RBEE_TLS_CA": str(self.stack.ca_file)} if self.stack.ca_file is not None else {}
        return {**self.stack.config.coverage_env(), **token, **ca}
