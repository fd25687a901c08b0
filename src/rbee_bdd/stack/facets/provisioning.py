"""A model hub for a stack's hives, and what provisioning left on a hive's filesystem."""

from __future__ import annotations

from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.stack.facets.base import Facet
from rbee_bdd.stack.model_hub import ModelHub


class StackProvisioning(Facet):
    """Model hubs the nodes reach, and the files provisioning made (or must not have made)."""

    def start_hub(self, cleanup: CleanupStack, bytes_per_second: float = 0.0) -> ModelHub:
        """A model hub the nodes can reach, stopped by *cleanup*."""
        return ModelHub(self.target.harness_address(), bytes_per_second).start(cleanup)

    def traces(self, hive: str, name: str) -> dict[str, list[str]]:
        """Where provisioning model *name* could leave a file: the hive's catalog, its download
        directory, and anything named after the name's last part in the node's /tmp (not all of /tmp:
        on the local target it is the host's, which other scenarios write to at the same time)."""
        node, stem = self.stack.hive_nodes[hive], name.replace("\\", "/").rsplit("/", 1)[-1]
        try:
            downloads = node.list_dir(self.target.download_dir(hive))
        except (FileNotFoundError, AssertionError):  # not made yet (each target says so its own way)
            downloads = ["(no such directory)"]
        in_tmp = [entry for entry in node.list_dir("/tmp") if stem and entry.startswith(stem)]
        return {"catalog": self.stack.hive(hive).models()["models"], "download dir": downloads,
                f"/tmp/{stem}*": in_tmp}

    def downloaded_files(self, hive: str) -> list[str]:
        """The names in the hive's download directory, read on its own filesystem."""
        return self.stack.hive_nodes[hive].list_dir(self.target.download_dir(hive))
