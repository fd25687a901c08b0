"""rbee-keeper: the command line for queen-rbee.

``rbee-keeper infer --model M "prompt"`` submits a job, writes the completion's tokens
to stdout as they arrive and narration to stderr, and ends with ``✅ Complete``
(exit 0) or ``❌ Failed: <reason>`` (exit 1) on stderr. Ctrl+C cancels the job (exit 130).
The client token comes from ``--token-file`` or ``$RBEE_TOKEN`` (never from the command line).

``rbee-keeper hives|workers|status`` show what queen knows (``--json`` for scripts) and
``rbee-keeper logs JOB_ID`` a job's narration and its end: exit 0, or 1 with ``❌ Failed: …``.

``rbee-keeper audit verify FILE`` checks a daemon's audit trail: exit 0 when the hash chain holds,
1 naming the first broken record, 2 when the file cannot be read.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from rbee.common.audit import anchor_path, verify
from rbee.common.cli import ArgumentParser, positive
from rbee.common.secrets import SecretError, secret_from
from rbee.keeper import operator

PROG = "rbee-keeper"
DEFAULT_QUEEN = "http://127.0.0.1:7833"
TOKEN_ENV = "RBEE_TOKEN"
LOCAL_GRACE_S = 3.0  # past the job's deadline, give up on a queen that does not end the stream


Failed = operator.QueenError  # ends the command with ``❌ Failed: <reason>``


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _submit(client: httpx.Client, base: str, body: dict[str, Any]) -> dict[str, Any]:
    return operator.call(client, "POST", f"{base}/v1/jobs", 201, json=body)


def _follow(client: httpx.Client, url: str, deadline: float, verbose: bool) -> None:
    """Print tokens and narration until the terminal marker; raise Failed on error."""
    wrote = False
    # Between two bytes the stream may be silent at most until the deadline: queen sends a
    # keep-alive every few seconds, so a read that times out means the deadline has passed.
    read_timeout = max(1.0, deadline - time.monotonic())
    try:
        with connect_sse(client, "GET", url, timeout=httpx.Timeout(10.0, read=read_timeout)) as source:
            events = source.iter_sse()
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError
                try:
                    sse = next(events)
                except httpx.ReadTimeout:
                    raise TimeoutError from None
                except StopIteration:
                    raise Failed("stream closed without a result") from None
                if sse.event == "token":
                    sys.stdout.write(json.loads(sse.data)["t"])
                    sys.stdout.flush()
                    wrote = True
                elif sse.event == "narration":
                    if verbose:
                        event = json.loads(sse.data)
                        _err(f"[{event['actor']}] {event['action']} : {event['human']}")
                elif sse.data == "[DONE]":
                    return
                elif sse.data == "[CANCELLED]":
                    raise Failed("job cancelled")
                elif sse.data.startswith("[ERROR] "):
                    raise Failed(sse.data.removeprefix("[ERROR] "))
    except (httpx.HTTPError, SSEError) as exc:
        raise Failed(f"lost the stream from queen: {exc}") from None
    finally:
        if wrote:
            sys.stdout.write("\n")
            sys.stdout.flush()


def _cancel(client: httpx.Client, base: str, job_id: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        client.delete(f"{base}/v1/jobs/{job_id}", timeout=2.0)


def client_headers(args: Any) -> dict[str, str] | None:
    """The Authorization header from --token-file or $RBEE_TOKEN ({} without one); None after an error."""
    try:
        token = secret_from(args.token_file, TOKEN_ENV, "token file")
    except SecretError as exc:
        _err(f"{PROG}: error: {exc}")
        return None
    return {"Authorization": f"Bearer {token}"} if token else {}


def verify_with(args: Any) -> ssl.SSLContext | bool:
    """queen's certificate is checked against --tls-ca (or $RBEE_TLS_CA), else the system's CAs."""
    if not args.tls_ca:
        return True
    try:
        return ssl.create_default_context(cafile=str(args.tls_ca))
    except OSError as exc:  # ssl.SSLError too: not PEM
        problem = "not a PEM CA bundle" if isinstance(exc, ssl.SSLError) else exc.strerror
        _err(f"{PROG}: error: cannot use the TLS CA bundle {args.tls_ca}: {problem}")
        raise SystemExit(2) from None


def operate(args: Any) -> int:
    headers = client_headers(args)
    if headers is None:
        return 2
    with httpx.Client(timeout=httpx.Timeout(5.0), headers=headers, verify=verify_with(args)) as client:
        return operator.run(operator.COMMANDS[args.command], client, args.queen_url.rstrip("/"), args)


def infer(args: Any) -> int:
    base = args.queen_url.rstrip("/")
    body = {"operation": "infer", "model": args.model, "prompt": args.prompt,
            "max_tokens": args.max_tokens, "temperature": args.temperature, "timeout_s": args.timeout}
    if args.seed is not None:
        body["seed"] = args.seed
    deadline = time.monotonic() + args.timeout + LOCAL_GRACE_S
    job_id = ""
    headers = client_headers(args)
    if headers is None:
        return 2
    with httpx.Client(timeout=httpx.Timeout(5.0), headers=headers, verify=verify_with(args)) as client:
        try:
            job = _submit(client, base, body)
            job_id = job["job_id"]
            _follow(client, base + job["sse_url"], deadline, not args.quiet)
        except Failed as exc:
            _err(f"❌ Failed: {exc}")
            return 1
        except TimeoutError:
            _cancel(client, base, job_id)
            _err(f"❌ Failed: TIMEOUT: queen did not end the job within {args.timeout:g} s")
            return 1
        except KeyboardInterrupt:
            if job_id:
                _cancel(client, base, job_id)
            _err("❌ Failed: cancelled by Ctrl+C")
            return 130
    _err("✅ Complete")
    return 0


def audit_verify(args: Any) -> int:
    anchor = args.anchor or (anchor_path(args.file) if anchor_path(args.file).exists() else None)
    try:
        verdict = verify(args.file, anchor)
    except OSError as exc:
        _err(f"{PROG}: error: cannot read {args.file}: {exc.strerror}")
        return 2
    if verdict.broken_at:
        print(f"{args.file}: broken at record {verdict.broken_at}: {verdict.why}")
        return 1
    if not verdict.intact:
        print(f"{args.file}: {verdict.records} record(s), chain intact, but {verdict.anchor}")
        return 1
    found = verdict.anchor or "no anchor: a cut tail or a replaced file cannot be seen"
    print(f"{args.file}: {verdict.records} record(s), chain intact, {found}")
    return 0


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog=PROG, description="Command line for queen-rbee.")
    parser.add_argument("--queen-url", default=os.environ.get("RBEE_QUEEN_URL", DEFAULT_QUEEN),
                        help=f"queen's address (env RBEE_QUEEN_URL, default {DEFAULT_QUEEN})")
    parser.add_argument("--tls-ca", type=Path, default=os.environ.get("RBEE_TLS_CA") or None, metavar="FILE",
                        help="PEM CA bundle to verify an https:// queen with (env RBEE_TLS_CA; default: the system's)")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("infer", help="run one completion and stream it")
    run.add_argument("prompt")
    run.add_argument("--model", required=True)
    run.add_argument("--max-tokens", type=int, default=32)
    run.add_argument("--temperature", type=float, default=0.7)
    run.add_argument("--seed", type=int)
    run.add_argument("--timeout", type=positive, default=30.0, metavar="SECONDS")
    run.add_argument("--quiet", action="store_true", help="no narration on stderr")
    run.set_defaults(run=infer)
    for name, text in [("hives", "the hives queen knows"), ("workers", "the workers of available hives"),
                       ("status", "queen's state and counts of hives and workers"),
                       ("logs", "a job's narration and its end (follows a running job to its end)")]:
        command = commands.add_parser(name, help=text)
        if name == "logs":
            command.add_argument("job_id")
            command.add_argument("--wait", type=positive, default=300.0, metavar="SECONDS",
                                 help="give up on a job silent this long")
        if name == "workers":
            command.add_argument("--model", help="only workers of this model")
        command.add_argument("--json", action="store_true", help="JSON for scripts instead of a table")
        command.set_defaults(run=operate)
    for command in (run, *(commands.choices[name] for name in operator.COMMANDS)):
        command.add_argument("--token-file", type=Path, metavar="FILE",
                             help=f"the client token, in a file only you can read (or ${TOKEN_ENV})")
    audit = commands.add_parser("audit", help="check a daemon's audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    check = audit_commands.add_parser("verify", help="verify the hash chain; name the first broken record")
    check.add_argument("file", type=Path)
    check.add_argument("--anchor", type=Path, metavar="FILE",
                       help="the trail's anchor (default FILE.anchor, when there is one)")
    check.set_defaults(run=audit_verify)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    raise SystemExit(args.run(args))


if __name__ == "__main__":
    main()
