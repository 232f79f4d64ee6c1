"""CloudWatch for the current AWS SDKs, in front of moto.

The Rust SDK speaks Smithy RPC v2 CBOR to CloudWatch
(POST /service/GraniteServiceVersion20100801/operation/<Op>); moto speaks
the JSON 1.0 protocol boto3 uses. This translates: the CBOR request (tag-1
timestamps become epoch seconds) goes to moto as JSON 1.0 with
`X-Amz-Target: GraniteServiceVersion20100801.<Op>`, and moto's answer comes
back as CBOR with `Timestamps` as tag-1 values and the `smithy-protocol:
rpc-v2-cbor` header. So metric data put with boto3 reaches the real SDK.
"""

import datetime
import json
import re

import cbor2

PATH = re.compile(r"^/service/GraniteServiceVersion20100801/operation/([A-Za-z]+)$")
CBOR_HEADERS = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}


def _to_json(value):
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    return value


def _timestamps_to_datetimes(value):
    if isinstance(value, dict):
        return {
            k: ([datetime.datetime.fromtimestamp(float(t), datetime.timezone.utc) for t in v]
                if k == "Timestamps" and isinstance(v, list) else _timestamps_to_datetimes(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_timestamps_to_datetimes(v) for v in value]
    return value


def error(status, code, message):
    return status, dict(CBOR_HEADERS), cbor2.dumps({"__type": code, "message": message})


def answer(forward, method, path, headers, body):
    """(status, headers, body); `forward(method, path, headers, body)` reaches moto."""
    m = PATH.match(path.split("?", 1)[0])
    if method != "POST" or not m:
        return None  # not the CBOR protocol: let moto answer it as it is
    if headers.get("Content-Type") != "application/cbor" or headers.get("smithy-protocol") != "rpc-v2-cbor":
        return error(400, "InvalidParameterValue", "expected an rpc-v2-cbor request")
    try:
        request = cbor2.loads(body) if body else {}
    except Exception as e:  # noqa: BLE001 - any decoding failure is the client's
        return error(400, "InvalidParameterValue", f"body is not CBOR: {e}")
    operation = m.group(1)
    fwd_headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"GraniteServiceVersion20100801.{operation}",
    }
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        if headers.get(name):
            fwd_headers[name] = headers[name]
    status, _, data = forward("POST", "/", fwd_headers, json.dumps(_to_json(request)).encode())
    try:
        doc = json.loads(data or b"{}")
    except ValueError:
        return error(500, "InternalServiceError", "moto answered something that is not JSON")
    if status != 200:
        code = str(doc.get("__type", "InternalServiceError")).rsplit("#", 1)[-1]
        return error(status, code, doc.get("message") or doc.get("Message") or "")
    body = cbor2.dumps(_timestamps_to_datetimes(doc), datetime_as_timestamp=True, timezone=datetime.timezone.utc)
    return 200, dict(CBOR_HEADERS), body
