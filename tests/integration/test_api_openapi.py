"""The OpenAPI document describes every API route the server registers."""

from __future__ import annotations

from openapi_spec_validator import validate
from pytest_aiohttp import AiohttpClient

from config.settings import Settings
from panamia.app import create_app


async def test_every_api_route_is_documented(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    registered = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith(("/api/", "/auth/"))
        and route.method != "HEAD"
    }
    assert registered, "no API routes registered"
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert registered - documented == set()
    assert documented - registered == set()


async def test_every_reference_resolves(aiohttp_client: AiohttpClient, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    document = await (await client.get("/api/openapi.json")).json()
    schemas = document["components"]["schemas"]
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    refs.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rpartition("/")[2] in schemas, ref


async def test_the_document_is_valid_openapi(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    document = await (await client.get("/api/openapi.json")).json()
    validate(document)  # raises with the first problem found
