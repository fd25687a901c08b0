"""The daemons' lean start (rbee/_lean_start.py) holds with the installed pydantic, FastAPI and httpx."""

from __future__ import annotations

import subprocess
import sys

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

import rbee.queen  # noqa: F401  (models defined from here on are deferred)

PROBE = """
import rbee.queen, sys
import httpx
import fastapi.openapi.models as models
print(sys.modules.get("httpx._main", "absent"), "click" in sys.modules or "rich" in sys.modules)
print(models.OpenAPI.__pydantic_complete__)
"""


def probe() -> list[str]:
    """What a fresh interpreter that imports rbee first sees (this process's imports may already be done)."""
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return done.stdout.split("\n")


def test_httpx_command_line_is_not_imported() -> None:
    httpx_main, cli_imported = probe()[0].split()
    assert httpx_main == "None", f"httpx._main was imported ({httpx_main}): httpx changed how it loads its CLI"
    assert cli_imported == "False", "click or rich was imported with httpx"


def test_fastapi_openapi_models_are_not_built_at_import() -> None:
    assert probe()[1] == "False", "FastAPI's OpenAPI models were built at import: pydantic's defer_build default moved"


class Body(BaseModel):
    """A model defined after rbee was imported: deferred."""

    n: int = Field(ge=1)


def test_a_deferred_model_validates_and_documents_on_first_use() -> None:
    assert Body.__pydantic_complete__ is False, "defined after rbee was imported, the model was built at once"
    app = FastAPI()

    @app.post("/n")
    def take(body: Body) -> dict[str, int]:
        return {"n": body.n}

    client = TestClient(app)
    assert client.post("/n", json={"n": 2}).json() == {"n": 2}
    assert client.post("/n", json={"n": 0}).status_code == 422
    document = client.get("/openapi.json").json()
    assert "Body" in document["components"]["schemas"], document["components"]
