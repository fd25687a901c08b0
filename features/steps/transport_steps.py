"""Transport: HTTPS on every hop, what a relay on the network sees, peers refusing bad certificates."""

import socket
from urllib.parse import urlsplit

from behave import then
from hamcrest import assert_that, empty, equal_to, greater_than, starts_with

from rbee_bdd.runner.world import StepContext, noted

TLS_HANDSHAKE = b"\x16\x03"  # a TLS record of type handshake, version 3.x: how every TLS connection begins


@then('queen, hive "{hive}" and its workers are reached over HTTPS only')
def step_all_https(context: StepContext, hive):
    stack = context.stack
    queen = stack.queen()
    hives = {row["hive_id"]: row["url"] for row in queen.hives()}
    workers = [row["url"] for row in queen.workers(hive_id=hive)]
    assert_that(len(workers), greater_than(0), f"workers of {hive} queen knows")
    for what, url in [("queen", stack.node("queen").url), (hive, hives.get(hive, "")),
                      *((f"a worker of {hive}", url) for url in workers)]:
        assert_that(url, starts_with("https://"), f"the address of {what}")


@then("queen answers no request in plain HTTP on its port")
def step_no_plaintext(context: StepContext):
    url = urlsplit(context.stack.node("queen").url)
    with socket.create_connection((str(url.hostname), int(url.port or 0)), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: queen\r\nConnection: close\r\n\r\n")
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    assert_that(answer.startswith(b"HTTP/"), equal_to(False), f"queen's answer to plain HTTP: {answer[:80]!r}")


@then("the relay between the hives and queen carried TLS only, and no credential of the scenario")
def step_relay_saw_nothing(context: StepContext):
    relay = noted(context.stack.relay, "relay")
    sent, received = relay.seen("to upstream"), relay.seen("from upstream")
    assert_that(len(sent), greater_than(1000), "bytes the hives sent queen through the relay")
    assert_that(sent[:2], equal_to(TLS_HANDSHAKE), "how the hives' first connection began")
    secrets = noted(context.stack.credentials, "credentials").secrets()
    found = [f"secret {i} of {len(secrets)}" for i, secret in enumerate(secrets) if secret.encode() in sent + received]
    clear = [word for word in (b"Authorization", b"Bearer", b"hive-heartbeat", b"HTTP/1.1") if word in sent + received]
    assert_that(found + [w.decode() for w in clear], empty(), "what the relay saw in the clear")


@then("the relay between the hives and queen saw the cluster credential in the clear")
def step_relay_saw_credential(context: StepContext):
    relay = noted(context.stack.relay, "relay")
    token = context.stack.cluster_token.encode()
    assert_that(token in relay.seen("to upstream"), equal_to(True),
                f"the cluster credential among the {len(relay.seen('to upstream'))} bytes the relay carried")

