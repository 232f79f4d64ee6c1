"""The AWS Interconnect – multicloud service, as the AWS front serves it.

moto has no Interconnect, so this double answers it from the scenario, in
the service's real wire protocol, Smithy RPC v2 CBOR:

  POST /service/Interconnect/operation/<Operation>
  Content-Type: application/cbor, smithy-protocol: rpc-v2-cbor
  body and answer: CBOR maps; errors: a CBOR map with `__type`.

A request that breaks the protocol is refused, so the tests prove that the
exporter really speaks it. Scenario (all optional):

  "interconnect": {
    "connections": [ {wire-format ConnectionSummary}, ... ],
    "environments": [ {wire-format Environment}, ... ],
    "regions": {"eu-west-1": {"connections": [...], "environments": [...]}}
  }

`regions` replaces the lists for one region; elsewhere the top-level lists
apply. `page_size` {"interconnect:ListConnections": N} caps each page.
Also served: `ListAttachPoints` (the scenario's "attach_points" by
environment id, else the Direct Connect gateways its connections use),
`GetConnection` (a summary with `ownerAccount` and an `activationKey`) and
`ListTagsForResource` (a connection's "tags").

Every connection and environment is checked against the service's own
model (botocore's copy of it: required members, patterns, enums, lengths
and ranges) when the scenario is loaded; one that breaks it is refused with
its place, value and rule (`ModelError`). An item that breaks the model on
purpose (to test what the exporter does with what AWS may send one day: an
enum value it does not know yet) says why in "_beyond_model", and is served
as it is.
"""

import gzip
import json
import pathlib
import re

import botocore
import cbor2

NAMESPACE = "com.amazonaws.interconnect"
CBOR_HEADERS = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
PATH = re.compile(r"^/service/Interconnect/operation/([A-Za-z]+)$")

# Required members of ConnectionSummary and Environment that a scenario may leave out.
CONNECTION_DEFAULTS = {
    "description": "connection",
    "bandwidth": "1Gbps",
    "attachPoint": {"directConnectGateway": "00000000-0000-4000-8000-0000000000d0"},
    "environmentId": "environment",
    "provider": {"cloudServiceProvider": "google"},
    "location": "",
    "type": "dedicated",
    "state": "available",
    "sharedId": "00000000-0000-4000-8000-000000000000",
}
ENVIRONMENT_DEFAULTS = {"location": "", "state": "available", "type": "dedicated",
                        "bandwidths": {"available": [], "supported": []}}
BEYOND_MODEL = "_beyond_model"


class ModelError(ValueError):
    """A scenario value the service's model does not allow."""


def load_model():
    """The Interconnect service model as botocore ships it (the same model
    the Rust SDK is generated from: protocol smithy-rpc-v2-cbor)."""
    root = pathlib.Path(botocore.__file__).parent / "data" / "interconnect"
    path = sorted(root.glob("*/service-2.json*"))[-1]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return json.load(f)


MODEL = load_model()


def check_shape(value, shape_name, where):
    """Raises ModelError where `value` breaks shape `shape_name`."""
    shape = MODEL["shapes"][shape_name]
    kind = shape["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            raise ModelError(f"{where}: {value!r} is not a structure ({shape_name})")
        members = shape["members"]
        for key in value:
            if key not in members:
                raise ModelError(f"{where}.{key}: not a member of {shape_name}")
        if shape.get("union"):
            if len(value) != 1:
                raise ModelError(f"{where}: a {shape_name} union sets exactly one member, not {sorted(value)}")
        for key in shape.get("required", []):
            if key not in value:
                raise ModelError(f"{where}.{key}: required by {shape_name}")
        for key, member in value.items():
            check_shape(member, members[key]["shape"], f"{where}.{key}")
    elif kind == "list":
        if not isinstance(value, list):
            raise ModelError(f"{where}: {value!r} is not a list ({shape_name})")
        for i, item in enumerate(value):
            check_shape(item, shape["member"]["shape"], f"{where}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            raise ModelError(f"{where}: {value!r} is not a map ({shape_name})")
        for key, item in value.items():
            check_shape(key, shape["key"]["shape"], f"{where} key {key!r}")
            check_shape(item, shape["value"]["shape"], f"{where}[{key!r}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise ModelError(f"{where}: {value!r} is not a string ({shape_name})")
        if "enum" in shape and value not in shape["enum"]:
            raise ModelError(f"{where}: {value!r} is not one of {shape['enum']} ({shape_name})")
        if "pattern" in shape and not re.fullmatch(shape["pattern"], value):
            raise ModelError(f"{where}: {value!r} does not match {shape['pattern']} ({shape_name})")
        if not shape.get("min", 0) <= len(value) <= shape.get("max", len(value)):
            raise ModelError(f"{where}: {value!r} is not {shape.get('min', 0)} to {shape.get('max')} characters ({shape_name})")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ModelError(f"{where}: {value!r} is not an integer ({shape_name})")
        if not shape.get("min", value) <= value <= shape.get("max", value):
            raise ModelError(f"{where}: {value!r} is not {shape.get('min')} to {shape.get('max')} ({shape_name})")


def served_connection(c, region):
    """A scenario connection as ListConnections serves it: the members the
    scenario leaves out filled in, the ARN made from the id."""
    arn = f"arn:aws:interconnect:{region}:123456789012:connection/{c.get('id', '')}"
    served = {"id": c.get("id", ""), **CONNECTION_DEFAULTS, "arn": arn, **c}
    return {k: v for k, v in served.items() if k not in (BEYOND_MODEL, "tags")}


def served_environment(e):
    return {k: v for k, v in {**ENVIRONMENT_DEFAULTS, **e}.items() if k != BEYOND_MODEL}


def validate(scenario):
    """Raises ModelError for the first connection or environment of the
    scenario that breaks the model (as served, defaults filled in)."""
    data = scenario.get("interconnect", {})
    lists = [("interconnect", data, "us-east-1")]
    lists += [(f"interconnect.regions.{r}", d, r) for r, d in data.get("regions", {}).items()]
    for where, d, region in lists:
        for i, c in enumerate(d.get("connections", [])):
            if BEYOND_MODEL not in c:
                check_shape(served_connection(c, region), "ConnectionSummary", f"{where}.connections[{i}]")
                check_shape(c.get("tags", {}), "TagMap", f"{where}.connections[{i}].tags")
        for i, e in enumerate(d.get("environments", [])):
            if BEYOND_MODEL not in e:
                check_shape(served_environment(e), "Environment", f"{where}.environments[{i}]")
        for env, points in d.get("attach_points", {}).items():
            for i, point in enumerate(points):
                check_shape(point, "AttachPointDescriptor", f"{where}.attach_points.{env}[{i}]")


def error(status, code, message):
    body = cbor2.dumps({"__type": f"{NAMESPACE}#{code}", "message": message})
    return status, dict(CBOR_HEADERS), body


def data_for(scenario, region):
    data = scenario.get("interconnect", {})
    regional = data.get("regions", {}).get(region)
    return regional if regional is not None else data


def page(items, request, size_cap):
    size = request.get("maxResults") or 100
    if size_cap:
        size = min(size, size_cap)
    start = int(request.get("nextToken") or 0)
    out = items[start:start + size]
    token = str(start + size) if start + size < len(items) else None
    return out, token


def answer(scenario, region, method, path, headers, body):
    """(status, headers, body) for one Interconnect request."""
    m = PATH.match(path.split("?", 1)[0])
    if method != "POST" or not m:
        return error(404, "UnknownOperationException", f"no operation at {method} {path}")
    if headers.get("Content-Type") != "application/cbor":
        return error(415, "InterconnectValidationException", "Content-Type must be application/cbor")
    if headers.get("smithy-protocol") != "rpc-v2-cbor":
        return error(400, "InterconnectValidationException", "the smithy-protocol header must be rpc-v2-cbor")
    try:
        request = cbor2.loads(body) if body else {}
    except Exception as e:  # noqa: BLE001 - any decoding failure is the client's
        return error(400, "InterconnectValidationException", f"body is not CBOR: {e}")
    if not isinstance(request, dict):
        return error(400, "InterconnectValidationException", "body must be a CBOR map")

    operation = m.group(1)
    data = data_for(scenario, region)
    caps = scenario.get("page_size", {})
    connections = [served_connection(c, region) for c in data.get("connections", [])]
    token = None
    if operation == "ListConnections":
        page_of, token = page(connections, request, caps.get("interconnect:ListConnections"))
        doc = {"connections": page_of}
    elif operation == "ListEnvironments":
        items = [served_environment(e) for e in data.get("environments", [])]
        environments, token = page(items, request, caps.get("interconnect:ListEnvironments"))
        doc = {"environments": environments}
    elif operation == "ListAttachPoints":
        environment = request.get("environmentId")
        if not environment:
            return error(400, "InterconnectValidationException", "environmentId is required")
        points = data.get("attach_points", {}).get(environment)
        if points is None:
            gateways = sorted({c["attachPoint"]["directConnectGateway"] for c in connections
                               if c.get("environmentId") == environment
                               and "directConnectGateway" in c.get("attachPoint", {})})
            points = [{"type": "DirectConnectGateway", "identifier": g, "name": f"gateway {g[:8]}"} for g in gateways]
        attach_points, token = page(points, request, caps.get("interconnect:ListAttachPoints"))
        doc = {"attachPoints": attach_points}
    elif operation == "GetConnection":
        found = [c for c in connections if request.get("identifier") in (c["id"], c["arn"])]
        if not found:
            return error(404, "InterconnectResourceNotFoundException", f"no connection {request.get('identifier')!r}")
        doc = {"connection": {**found[0], "ownerAccount": "123456789012", "activationKey": "activation-key-never-exported"}}
    elif operation == "ListTagsForResource":
        found = [c for c in data.get("connections", []) if served_connection(c, region)["arn"] == request.get("arn")]
        if not found:
            return error(404, "InterconnectResourceNotFoundException", f"no resource {request.get('arn')!r}")
        doc = {"tags": found[0].get("tags", {})}
    else:
        return error(400, "UnknownOperationException", f"operation {operation} is not served by the test double")
    if token:
        doc["nextToken"] = token
    return 200, dict(CBOR_HEADERS), cbor2.dumps(doc)
