"""A stack's credentials rotated, its audit trails read and tampered with, the places a secret could leak."""

from __future__ import annotations

import contextlib
import functools
import json
import signal
from pathlib import PurePosixPath
from typing import Any

from rbee_bdd.clients.credentials import ScenarioCredentials, new_token
from rbee_bdd.clients.http import request
from rbee_bdd.core.waiting import eventually
from rbee_bdd.stack.facets.base import Facet


def takes(url: str, token: str) -> bool:
    """Whether *url* accepts *token* (200)."""
    return request("GET", url, headers={"Authorization": f"Bearer {token}"}).status_code == 200


class StackSecurity(Facet):
    """Credentials and audit trails of the stack's daemons, from outside."""

    @property
    def credentials(self) -> ScenarioCredentials:
        assert self.stack.credentials is not None, "the stack runs without credentials"
        return self.stack.credentials

    def replace_client_token(self, scope: str, new: str = "") -> tuple[str, str]:
        """Put a new token (*new*, else a random one) in place of the client token of *scope* in queen's
        token file, send queen SIGHUP, and wait until queen takes the new one: (old token, new token)."""
        old, new = self.credentials.replace_token(scope, new)
        self.target.write_credentials(self.credentials.files())
        self.stack.node("queen").kill(signal.SIGHUP)
        url = f"{self.stack.node('queen').url}/v1/hives"
        eventually(lambda: takes(url, new), 5, "queen to take the new token after SIGHUP")
        return old, new

    def replace_cluster_token(self) -> tuple[str, str]:
        """A new cluster credential in every daemon's file, SIGHUP to queen and each hive, and wait until
        each takes it: (old token, new token)."""
        credentials = self.credentials
        old, new = credentials.cluster_token, new_token()
        credentials.cluster_token = new
        self.target.write_credentials(credentials.files())
        for _, node in self.stack.daemon_nodes():
            node.kill(signal.SIGHUP)
        for name, node in self.stack.daemon_nodes():
            eventually(functools.partial(takes, f"{node.url}/metrics", new), 5,
                       f"{name} to take the new cluster token after SIGHUP")
        return old, new

    def revoke_hive(self, hive: str) -> str:
        """Take *hive*'s own credential out of queen's file, send queen SIGHUP, and wait until queen refuses
        it (401, where before a hive's credential got 403 for a client's request): the revoked token."""
        credentials = self.credentials
        token = credentials.hive_tokens.pop(hive)
        queen = self.stack.node("queen")
        for name, data in credentials.node_files("queen").items():
            queen.write_file(self.target.secret_path(name), data, 0o600)
        queen.kill(signal.SIGHUP)
        url = f"{queen.url}/v1/hives"
        eventually(lambda: request("GET", url, headers={"Authorization": f"Bearer {token}"}).status_code == 401,
                   5, f"queen to refuse the credential of {hive} after SIGHUP")
        return token

    def audit_records(self, node: str) -> list[dict[str, Any]]:
        """The node's audit trail, one dict per line, read from the node's own filesystem."""
        return [json.loads(line) for line in self.audit_bytes(node).decode().splitlines() if line.strip()]

    def audit_bytes(self, node: str) -> bytes:
        return self.stack.node(node).read_file(self.target.audit_path(node))

    def audit_anchor_bytes(self, node: str) -> bytes:
        return self.stack.node(node).read_file(self.target.audit_path(node) + ".anchor")

    def audit_files(self, node: str) -> dict[str, bytes]:
        """Every file of the node's audit trail by name: the trail, its rotated ``.<n>`` files, its anchor."""
        trail = PurePosixPath(self.target.audit_path(node))
        names = [name for name in self.stack.node(node).list_dir(str(trail.parent))
                 if name == trail.name or name.startswith(trail.name + ".")]
        return {name: self.stack.node(node).read_file(str(trail.parent / name)) for name in names}

    def audit_chain(self, node: str) -> list[tuple[str, bytes]]:
        """The files of the node's audit trail its chain runs through, in order: ``.1``, ``.2``, …, then
        the current file (the anchor left out)."""
        trail = PurePosixPath(self.target.audit_path(node)).name
        files = self.audit_files(node)
        rotated = sorted((int(name[len(trail) + 1:]), name) for name in files
                         if name[len(trail) + 1:].isdigit())
        return [(name, files[name]) for _, name in rotated] + [(trail, files[trail])]

    def rewrite_audit(self, node: str, data: bytes) -> None:
        """Replace the node's audit trail with *data*, as an intruder on its machine would."""
        self.stack.node(node).write_file(self.target.audit_path(node), data, mode=0o600)

    def places_secrets_could_leak(self, audit: bool) -> dict[str, str]:
        """Every daemon's log, command lines, the workers' environments and (with *audit*) audit trails."""
        places: dict[str, str] = {}
        for name, node in self.stack.daemon_nodes():
            places[f"{name}'s log"] = node.log_text()
            for row in node.processes():
                places[f"the command line of pid {row.pid} of {name}"] = row.command
                if row.worker_id:
                    with contextlib.suppress(OSError):
                        places[f"the environment of {row.worker_id}"] = "\n".join(
                            f"{k}={v}" for k, v in self.stack.processes.environ(row.pid).items())
            if audit:
                places[f"{name}'s audit trail"] = self.audit_bytes(name).decode(errors="replace")
        return places
