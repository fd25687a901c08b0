"""After every scenario, each daemon log of it is read for what must never be there.

A traceback, a credential made for the scenario (or one a probe sent and was refused), or a
phrase of FORBIDDEN fails the scenario with the log's path, the line's number and what was found;
a credential is never quoted, only named by its number. A scenario that provokes one of these on
purpose declares it with a ``@log.<kind>`` tag (``@log.traceback``) and that kind is not looked for.
"""

from __future__ import annotations

from pathlib import Path

# kind → the phrase that shows it; every kind can be declared with @log.<kind>
FORBIDDEN = {
    "traceback": "Traceback (most recent call last)",
    "unretrieved-task-exception": "Task exception was never retrieved",
    "asgi-crash": "Exception in ASGI application",
    "asgi-incomplete": "ASGI callable returned without",  # a handler that left a response half-sent
    "files-exhausted": "Too many open files",
    "private-key": "PRIVATE KEY-----",  # a PEM private key (a daemon's TLS key) written to a log
}
TAG_PREFIX = "log."


def declared(tags: list[str] | set[str]) -> set[str]:
    """The kinds a scenario's tags say it provokes on purpose."""
    return {tag.removeprefix(TAG_PREFIX) for tag in tags if tag.startswith(TAG_PREFIX)}


def scan(log_dir: Path, secrets: list[str], allowed: set[str] | None = None) -> list[str]:
    """``path:line: what`` for every finding in the ``*.log`` files of *log_dir* (empty: clean)."""
    allowed = allowed or set()
    findings: list[str] = []
    for path in sorted(log_dir.glob("*.log")):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                for kind, phrase in FORBIDDEN.items():
                    if kind not in allowed and phrase in line:
                        findings.append(f"{path}:{number}: {kind}: {line.strip()[:200]}")
                findings += [f"{path}:{number}: credential #{index} of the scenario"
                             for index, secret in enumerate(secrets, 1) if secret and secret in line]
    return findings
