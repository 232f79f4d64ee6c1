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
"""

import re

import cbor2

NAMESPACE = "com.amazonaws.interconnect"
CBOR_HEADERS = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
PATH = re.compile(r"^/service/Interconnect/operation/([A-Za-z]+)$")

# Required members of ConnectionSummary and Environment that a scenario may leave out.
CONNECTION_DEFAULTS = {
    "description": "",
    "bandwidth": "1Gbps",
    "environmentId": "",
    "location": "",
    "type": "multicloud",
    "state": "available",
    "sharedId": "shared-0",
}
ENVIRONMENT_DEFAULTS = {"location": "", "state": "available", "type": "multicloud",
                        "bandwidths": {"available": [], "supported": []}}


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
    if operation == "ListConnections":
        items = [{**CONNECTION_DEFAULTS, "arn": f"arn:aws:interconnect:{region}:123456789012:connection/{c.get('id', '')}", **c}
                 for c in data.get("connections", [])]
        connections, token = page(items, request, caps.get("interconnect:ListConnections"))
        doc = {"connections": connections}
    elif operation == "ListEnvironments":
        items = [{**ENVIRONMENT_DEFAULTS, **e} for e in data.get("environments", [])]
        environments, token = page(items, request, caps.get("interconnect:ListEnvironments"))
        doc = {"environments": environments}
    else:
        return error(400, "UnknownOperationException", f"operation {operation} is not served by the test double")
    if token:
        doc["nextToken"] = token
    return 200, dict(CBOR_HEADERS), cbor2.dumps(doc)
