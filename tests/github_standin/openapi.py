"""Check HTTP requests against GitHub's official OpenAPI description.

Loaded once per process (13 MB). Paths are indexed as compiled regexes; a request is
matched to its operation (literal path segments win over templated ones), then its
required path/query parameters, integer path parameters, query enums/types and JSON body (against the operation's
requestBody schema, `$ref`s resolved into `components`, OpenAPI 3.0 `nullable` turned into
JSON Schema) are checked. Every problem is returned as a message: the stand-in answers
like GitHub would (404/422) and records a violation that fails the test.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Match:
    template: str
    operation_id: str
    problems: tuple[str, ...]
    status: int  # 0 when fine, else what GitHub would answer (404, 422)


BASE_URI = "urn:github-openapi"


def _to_json_schema(node):
    """OpenAPI 3.0 schema object -> JSON Schema (nullable -> type/anyOf with null); local
    `$ref`s point into the shared registry resource so every validator reuses one crawl."""
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "examples",
                                                                      "discriminator", "xml", "externalDocs")}
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#/"):
        out["$ref"] = BASE_URI + out["$ref"]
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = list(out["enum"]) + [None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class OpenApiChecker:
    def __init__(self, spec_path: Path) -> None:
        spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
        self.components = spec.get("components", {})
        self._registry = None
        routes = []
        for template, item in spec["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$"
            names = re.findall(r"\{([^}]+)\}", template)
            routes.append((len(names), template, re.compile(pattern), names, item))
        # literal routes first: /repos/{owner}/{repo}/pulls must not match a deeper template
        self.routes = sorted(routes, key=lambda r: (r[0], r[1]))
        self._validators: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def _param(self, param: dict) -> dict:
        if "$ref" in param:
            return self.components["parameters"][param["$ref"].rsplit("/", 1)[-1]]
        return param

    def _validator(self, template: str, method: str, schema: dict):
        key = (template, method)
        with self._lock:
            if key not in self._validators:
                import jsonschema
                from referencing import Registry, Resource
                from referencing.jsonschema import DRAFT7

                if self._registry is None:
                    document = {"components": _to_json_schema(self.components)}
                    self._registry = Registry().with_resource(BASE_URI, Resource(document, DRAFT7))
                self._validators[key] = jsonschema.Draft7Validator(_to_json_schema(schema), registry=self._registry)
            return self._validators[key]

    def check(self, method: str, path: str, query: dict[str, list[str]], body: bytes | None) -> Match:
        method = method.lower()
        candidates = [r for r in self.routes if r[2].match(path)]
        if not candidates:
            return Match("", "", (f"{method.upper()} {path}: no such path in GitHub's API",), 404)
        for _n, template, regex, names, item in candidates:
            if method in item:
                values = dict(zip(names, regex.match(path).groups()))
                return self._check_operation(template, item, method, query, body, values)
        return Match(candidates[0][1], "", (f"{method.upper()} {candidates[0][1]}: method not allowed",), 404)

    def _check_operation(self, template, item, method, query, body, path_values=None) -> Match:
        operation = item[method]
        problems: list[str] = []
        params = [self._param(p) for p in item.get("parameters", []) + operation.get("parameters", [])]
        for param in params:
            if param.get("in") == "path" and param.get("schema", {}).get("type") == "integer":
                value = (path_values or {}).get(param["name"], "")
                if not re.fullmatch(r"\d+", value):
                    return Match(template, operation.get("operationId", ""),
                                 (f"path parameter {param['name']}={value!r} is not an integer",), 404)
            if param.get("in") != "query":
                continue
            name = param["name"]
            values = query.get(name)
            if not values:
                if param.get("required"):
                    problems.append(f"missing required query parameter {name!r}")
                continue
            schema = param.get("schema", {})
            for value in values:
                if "enum" in schema and value not in schema["enum"]:
                    problems.append(f"query parameter {name}={value!r} not one of {schema['enum']}")
                if schema.get("type") == "integer" and not re.fullmatch(r"-?\d+", value):
                    problems.append(f"query parameter {name}={value!r} is not an integer")
                if schema.get("type") == "boolean" and value not in ("true", "false"):
                    problems.append(f"query parameter {name}={value!r} is not a boolean")
        request_body = operation.get("requestBody")
        if request_body:
            media = request_body.get("content", {}).get("application/json")
            if not body:
                if request_body.get("required"):
                    problems.append("request body is required")
            elif media and "schema" in media:
                try:
                    document = json.loads(body)
                except ValueError as exc:
                    problems.append(f"request body is not JSON: {exc}")
                else:
                    validator = self._validator(template, method, media["schema"])
                    for error in validator.iter_errors(document):
                        where = "/".join(map(str, error.absolute_path)) or "(body)"
                        problems.append(f"request body {where}: {error.message}")
        return Match(template, operation.get("operationId", ""), tuple(problems), 422 if problems else 0)


    def response_problems(self, method: str, path: str, status: int, payload) -> list[str]:
        """What is wrong with an answer (status and JSON body) to `method path`, by the
        operation's response schema: for tests that hold the stand-in's own answers to the
        description. Statuses the operation does not list are a problem too."""
        method = method.lower()
        route = next((r for r in self.routes if r[2].match(path) and method in r[4]), None)
        if route is None:
            return [f"{method.upper()} {path}: no such operation"]
        template, operation = route[1], route[4][method]
        response = operation.get("responses", {}).get(str(status))
        if response is None:
            return [f"{method.upper()} {template}: status {status} is not a documented answer"]
        if "$ref" in response:
            response = self.components["responses"][response["$ref"].rsplit("/", 1)[-1]]
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return []
        validator = self._validator(template, f"{method} {status}", schema)
        return [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
                for e in validator.iter_errors(payload)]


@lru_cache(maxsize=None)
def checker(spec_path: str) -> OpenApiChecker:
    """One checker per description file per process."""
    return OpenApiChecker(Path(spec_path))
