"""The emitted OpenAPI: repeated schemas as components, validated whole or in parts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from toolgen._components import factor_schemas
from toolgen.openapi import validate_openapi
from zapi.errors import SpecValidationError

GOLDEN = sorted(Path(__file__).parent.joinpath("golden").glob("*.openapi.json"))


def _user(name: str) -> dict[str, Any]:
    link = {"type": "object", "properties": {"href": {"type": "string", "x-observed": 3}}}
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "examples": [name], "x-observed": 3},
            "links": {
                "type": "object",
                "properties": {"self": link, "avatar": copy.deepcopy(link)},
            },
        },
        "required": ["name"],
        "x-observed": 3,
    }


def _doc() -> dict[str, Any]:
    def op(name: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "operationId": name,
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": schema}}}
            },
        }

    listing = {"type": "object", "properties": {"values": {"type": "array", "items": _user("b")}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/users/{id}": {
                "get": {
                    **op("get_user", _user("a")),
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                }
            },
            "/users": {"get": op("list_users", listing)},
        },
    }


class TestFactoring:
    """Object schemas that occur more than once are written once, under components."""

    def test_repeats_become_refs(self) -> None:
        """The user (twice), its links (twice) and link object (four times): one component each."""
        doc = _doc()
        before = json.dumps(doc, sort_keys=True)
        out = factor_schemas(doc)
        assert json.dumps(doc, sort_keys=True) == before, "the input (shared with cards) changed"
        schemas = out["components"]["schemas"]
        assert sorted(schemas) == ["GetUserResponse", "Links", "Self"]
        user = out["paths"]["/users/{id}"]["get"]["responses"]["200"]["content"]
        assert user["application/json"]["schema"] == {
            "$ref": "#/components/schemas/GetUserResponse"
        }
        assert schemas["GetUserResponse"]["properties"]["links"] == {
            "$ref": "#/components/schemas/Links"
        }
        assert schemas["Links"]["properties"] == {
            "avatar": {"$ref": "#/components/schemas/Self"},
            "self": {"$ref": "#/components/schemas/Self"},
        }
        assert "x-observed" not in json.dumps(out)
        assert schemas["GetUserResponse"]["properties"]["name"]["examples"] == ["a"]
        validate(out)
        validate_openapi(out, full=True)
        validate_openapi(out, full=False)

    def test_different_structures_stay_apart(self) -> None:
        """A user with another field set is a different component, never merged."""
        doc = _doc()
        listing = doc["paths"]["/users"]["get"]["responses"]["200"]["content"]["application/json"]
        listing["schema"]["properties"]["values"]["items"]["required"] = ["links", "name"]
        out = factor_schemas(doc)
        assert sorted(out["components"]["schemas"]) == ["Links", "Self"]
        item = out["paths"]["/users"]["get"]["responses"]["200"]["content"]["application/json"]
        assert item["schema"]["properties"]["values"]["items"]["required"] == ["links", "name"]


class TestValidation:
    """Validation in parts (large documents) finds what whole validation finds."""

    @pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
    def test_goldens_pass_both_ways(self, path: Path) -> None:
        """Every golden document passes openapi-spec-validator, whole and in parts."""
        doc = json.loads(path.read_text(encoding="utf-8"))
        validate(doc)
        validate_openapi(doc, full=True)
        validate_openapi(doc, full=False)

    @pytest.mark.parametrize(
        ("where", "bad", "message"),
        [
            ("component", {"type": "strin"}, "is not valid"),
            ("component", {"type": "object", "required": "name"}, "is not of type 'array'"),
            ("component", {"$ref": "#/components/schemas/Nope"}, "does not resolve"),
            ("parameter", {"type": 7}, "is not valid"),
            ("inline", {"type": "array", "items": {"enum": "x"}}, "is not of type 'array'"),
        ],
    )
    def test_errors_found_in_parts(self, where: str, bad: dict[str, Any], message: str) -> None:
        """A bad schema anywhere (nested, in a component, a parameter) is refused."""
        doc = factor_schemas(_doc())
        if where == "component":
            doc["components"]["schemas"]["Self"]["properties"]["bad"] = bad
        elif where == "parameter":
            doc["paths"]["/users/{id}"]["get"]["parameters"][0]["schema"] = bad
        else:
            media = doc["paths"]["/users"]["get"]["responses"]["200"]["content"]
            media["application/json"]["schema"]["properties"]["values"]["items"] = bad
        for full in (True, False):
            with pytest.raises(SpecValidationError, match=message):
                validate_openapi(doc, full=full)

    def test_skeleton_errors_found_in_parts(self) -> None:
        """Errors outside schemas (a parameter location) are found by the skeleton check."""
        doc = factor_schemas(_doc())
        doc["paths"]["/users/{id}"]["get"]["parameters"][0]["in"] = "nowhere"
        with pytest.raises(SpecValidationError, match="parameters/0/in") as info:
            validate_openapi(doc, full=False)
        assert "\n" not in str(info.value)
