"""The HTTP API against its own OpenAPI document: every route listed with its model, replies that validate
against it, and a bounded schemathesis run that finds no input answered with a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from qa import Assistant, SentenceTransformerEmbedder
from qa.api import build_api
from tests.api_server import serving
from tests.conftest import SEEDS, make_settings
from tests.fake_ollama import FakeOllama

pytestmark = pytest.mark.contract

ROUTES = {
    ("/api/health", "get"): "Health",
    ("/api/status", "get"): "Status",
    ("/api/ask", "post"): "Answer",
    ("/api/articles", "get"): "ArticlePage",
    ("/api/articles", "post"): "UploadReport",
    ("/api/articles/{doc_id}", "get"): "ArticleRecord",
    ("/api/articles/{doc_id}", "delete"): "Removed",
}


@pytest.fixture(scope="module")
def contract_url(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[str]:
    """The API on loopback over its own index of seeds/ (the fuzzing may upload and delete), Ollama faked; answers
    kept short in case a fuzzed question is close enough to be drafted by the bundled model."""
    ollama = FakeOllama().start()
    index_dir = tmp_path_factory.mktemp("contract") / "index"
    assistant = Assistant(
        make_settings(index_dir, upload_max_mb=1, ollama_host=ollama.url, max_answer_tokens=24), embedder=embedder
    )
    assistant.ingest([SEEDS])
    try:
        with serving(build_api(assistant)) as url:
            yield url
    finally:
        ollama.stop()


@pytest.fixture(scope="module")
def api_schema(contract_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{contract_url}/openapi.json")


def test_the_openapi_document_lists_every_route_with_its_model(contract_url: str) -> None:
    spec = httpx.get(f"{contract_url}/openapi.json").json()
    listed = {(path, method) for path, operations in spec["paths"].items() for method in operations}
    assert listed == set(ROUTES)
    for (path, method), model in ROUTES.items():
        operation = spec["paths"][path][method]
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{model}"}, (path, method)
        assert operation.get("description"), f"{method.upper()} {path} has no description"
    for model in ROUTES.values():
        assert model in spec["components"]["schemas"]
    errors = spec["paths"]["/api/ask"]["post"]["responses"]
    assert {"409", "413", "422", "503"} <= set(errors)
    assert all(errors[s]["content"]["application/json"]["schema"]["$ref"].endswith("/Problem") for s in ("409", "503"))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"question": "How many drones did Russia launch?", "mode": "extract"}, 200),
        ({"question": "What did the mayor of Lisbon say about tram fares?", "mode": "extract"}, 200),  # a refusal
        ({"question": "How many drones did Russia launch?", "choices": ["176", "42"]}, 200),
        ({"question": "  "}, 422),
    ],
)
def test_replies_validate_against_the_published_schema(
    api_schema: Any, contract_url: str, body: dict[str, Any], status: int
) -> None:
    reply = httpx.post(f"{contract_url}/api/ask", json=body, timeout=120)
    assert reply.status_code == status
    api_schema["/api/ask"]["POST"].validate_response(reply)  # raises, naming the mismatch, when it does not


# One test per operation and way of generating: schemathesis's own pytest integration (`@schema.parametrize()` on a
# fixture's schema) sets a private attribute pytest 9 no longer has, so each operation's strategy is driven here.
# Negative cases (bodies and queries that break the schema) only where there is a body or a query to break.
FUZZED = [(path, method, GenerationMode.POSITIVE) for path, method in sorted(ROUTES)] + [
    ("/api/ask", "post", GenerationMode.NEGATIVE),
    ("/api/articles", "get", GenerationMode.NEGATIVE),
    ("/api/articles", "post", GenerationMode.NEGATIVE),
]


@pytest.mark.parametrize(("path", "method", "mode"), FUZZED, ids=lambda v: getattr(v, "value", v))
def test_no_generated_request_gets_a_server_error_or_an_undocumented_reply(
    api_schema: Any, path: str, method: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method.upper()]

    # Bounded: a few examples per operation, derandomized so a failure reproduces, a minute per example at most.
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=8, deadline=60_000, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        case.call_and_validate(
            checks=[not_a_server_error, status_code_conformance, response_schema_conformance], timeout=120
        )

    call()
