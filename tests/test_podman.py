"""What the Podman wrapper says before any scenario runs, when what it finds cannot serve the run."""

import http.server
import socketserver
import threading
from pathlib import Path

import pytest

from rbee_bdd.host import podman
from rbee_bdd.host.podman import PodmanUnavailable, check_engine, version_of


def test_versions_compare_by_their_numbers():
    assert version_of("4.3.1") == (4, 3, 1)
    assert version_of("4.10.0-dev") == (4, 10, 0)
    assert version_of("4.10.0")[:2] > version_of("4.9.9")[:2]
    assert version_of("unknown") == ()


def test_nothing_listening_means_no_service(tmp_path: Path):
    assert check_engine(f"unix://{tmp_path / 'none.sock'}") is None


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class Answer(http.server.BaseHTTPRequestHandler):
    body = b"<html>not an engine</html>"
    status = 404

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass

    def address_string(self) -> str:
        return "unix"


def serve(path: Path, handler: type[http.server.BaseHTTPRequestHandler]) -> UnixHTTPServer:
    server = UnixHTTPServer(str(path), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_socket_that_answers_but_is_no_engine_is_named(tmp_path: Path):
    path = tmp_path / "web.sock"
    server = serve(path, Answer)
    try:
        with pytest.raises(PodmanUnavailable, match="not as a Docker-compatible API"):
            check_engine(f"unix://{path}")
    finally:
        server.shutdown()


class OldPodman(Answer):
    status = 200

    def do_GET(self) -> None:
        self.body = (b"OK" if self.path.endswith("/_ping") else
                     b'{"Version": "3.4.4", "ApiVersion": "1.40", "Components": [{"Name": "Podman Engine"}]}')
        super().do_GET()


def test_a_podman_too_old_is_named_with_its_version(tmp_path: Path):
    path = tmp_path / "old.sock"
    server = serve(path, OldPodman)
    try:
        with pytest.raises(PodmanUnavailable, match=r"Podman 3\.4\.4 .* too old"):
            check_engine(f"unix://{path}")
    finally:
        server.shutdown()


def test_a_user_without_subordinate_ids_is_told_the_fix(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(podman.os, "geteuid", lambda: 1234)
    monkeypatch.setenv("USER", "nobody-here")
    real_path = podman.Path

    def tables_elsewhere(path: str) -> Path:  # /etc/subuid and /etc/subgid: files that do not exist
        return real_path(tmp_path / "empty") if path.startswith("/etc/sub") else real_path(path)

    monkeypatch.setattr(podman, "Path", tables_elsewhere)
    with pytest.raises(PodmanUnavailable, match=r"no range in /etc/subuid.*usermod --add-subuids"):
        podman.check_rootless()


def test_the_socket_of_a_user_is_not_root_s(monkeypatch):
    monkeypatch.setattr(podman.os, "geteuid", lambda: 1234)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1234")
    assert podman.default_socket() == Path("/run/user/1234/rbee-podman.sock")
