"""Which URLs a hive may download models from."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from rbee.common.errors import RbeeError
from rbee.hive.hubs import HubPolicy, hub_url


def allowed(policy: HubPolicy, url: str) -> bool:
    try:
        asyncio.run(policy.check(url))
    except RbeeError as exc:
        assert (exc.code, exc.status) == ("URL_NOT_ALLOWED", 403)
        return False
    return True


def test_listed_hubs_allow_only_what_is_under_them() -> None:
    policy = HubPolicy([hub_url("http://10.1.2.3"), hub_url("https://hub.example:8443/models")])
    assert allowed(policy, "http://10.1.2.3:4567/tiny.gguf")  # no port listed: any port of that host
    assert allowed(policy, "https://hub.example:8443/models/tiny.gguf")
    assert allowed(policy, "https://hub.example:8443/models")
    for url in ("https://10.1.2.3/tiny.gguf", "http://10.1.2.4/tiny.gguf", "https://hub.example/models/x",
                "https://hub.example:8443/modelsx/tiny.gguf", "https://hub.example:8443/other",
                "http://user@10.1.2.3/tiny.gguf", "ftp://10.1.2.3/tiny.gguf", "http://10.1.2.3:port/x"):
        assert not allowed(policy, url), url


def test_without_hubs_only_public_addresses() -> None:
    policy = HubPolicy([])
    assert allowed(policy, "http://93.184.215.14/tiny.gguf")  # checked, never fetched here
    for url in ("http://127.0.0.1:7833/metrics", "http://[::1]/x", "http://169.254.169.254/latest",
                "http://10.0.0.1/x", "http://172.17.0.1/x", "http://192.168.1.1/x", "http://0.0.0.0/x",
                "http://localhost/x"):
        assert not allowed(policy, url), url


@pytest.mark.parametrize("text", ["hub.example", "ftp://hub", "http://u@hub", "http://hub/?a=1", "http://:80",
                                  "http://hub:port"])
def test_a_bad_model_hub_flag_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        hub_url(text)
