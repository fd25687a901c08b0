"""The Docker engine the suite talks to: where it is, and what is wrong when it does not answer.

``python -m rbee_bdd.host.engine check`` is ``make``'s preflight; ``python -m rbee_bdd.host.engine image NAME``
checks that a user's own image exists (the suite never builds an image it does not own).
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys

import docker
from docker.errors import DockerException, ImageNotFound
from docker.types import Ulimit

DEFAULT_ADDRESS = "unix:///var/run/docker.sock"


class EngineUnavailable(Exception):
    """No usable Docker engine, or the image is missing; the message says which and what to do."""


def address() -> str:
    """Where the Docker client looks for the engine: ``DOCKER_HOST`` or the default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_ADDRESS


def diagnose(error: object) -> str:
    """A reader's sentence for the client's error: not running, permission denied, or as it said."""
    text = str(error)
    where = f"the Docker engine at {address()}"
    if "Permission denied" in text or "PermissionError" in text:
        return (f"permission denied on {where}: run as root, or as a user in the engine's group "
                f"(engine said: {text})")
    if any(sign in text for sign in ("No such file or directory", "FileNotFoundError", "Connection refused",
                                     "ConnectionRefusedError", "Name or service not known")):
        return f"{where} is not running (engine client said: {text}); start it, or set DOCKER_HOST"
    return f"{where} does not answer: {text}"


def connect(timeout: int = 60) -> docker.DockerClient:
    """A client for the engine, or EngineUnavailable with the diagnosis."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        raise EngineUnavailable(f"{diagnose(exc)}; `make bdd-local` runs the suite on local processes") from None
    return client


def name_and_version(client: docker.DockerClient) -> tuple[str, str]:
    """The engine's name and version from its version call: ("Podman Engine", "4.3.1"), ("Engine", …) for
    Docker, "" where it does not say."""
    info = client.version()
    components = info.get("Components") or [{}]
    return str(components[0].get("Name", "")), str(info.get("Version", ""))


@functools.cache
def engine_name(client: docker.DockerClient) -> str:
    """The engine's name (asked once per client)."""
    return name_and_version(client)[0]


def is_podman(client: docker.DockerClient) -> bool:
    return engine_name(client).startswith("Podman")


# On Podman a container's limits are asked at most at these: Podman's service lowers its own nproc to
# 32768 (seen on 4.3.1), and a container cannot get more than the service has.
PODMAN_LIMIT_CAPS = {"nofile": (resource.RLIMIT_NOFILE, 1048576), "nproc": (resource.RLIMIT_NPROC, 32768)}


def container_ulimits(client: docker.DockerClient) -> list[Ulimit]:
    """Resource limits to ask for each container: none on Docker (its defaults start); on Podman, this
    process's hard limits up to PODMAN_LIMIT_CAPS. Podman's defaults (nofile 1048576, nproc 4194304) can be
    above the host's, and root without CAP_SYS_RESOURCE cannot raise a limit: runc fails with "error setting
    rlimit type 7" (nofile) or "type 6" (nproc)."""
    if not is_podman(client):
        return []
    limits = []
    for name, (kind, cap) in PODMAN_LIMIT_CAPS.items():
        hard = resource.getrlimit(kind)[1]
        value = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
        limits.append(Ulimit(name=name, soft=value, hard=value))
    return limits


def require_image(client: docker.DockerClient, image: str) -> None:
    """EngineUnavailable unless *image* exists on the engine."""
    try:
        client.images.get(image)
    except ImageNotFound:
        raise EngineUnavailable(f"image {image!r} is not on the engine at {address()}: build your image and tag "
                                f"it {image!r} (the suite uses the image you name as it is, and never builds "
                                "or replaces it)") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rbee_bdd.host.engine", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="exit 2, saying why, unless an engine answers")
    image = commands.add_parser("image", help="exit 2, saying why, unless the engine has the image")
    image.add_argument("name")
    args = parser.parse_args(argv)
    try:
        client = connect()
        if args.command == "image":
            require_image(client, args.name)
    except EngineUnavailable as exc:
        print(f"bdd: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
