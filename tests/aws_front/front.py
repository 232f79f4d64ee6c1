#!/usr/bin/env python3
"""The AWS front: test infrastructure that stands between the AWS SDK and moto.

A real HTTP server on loopback. It forwards every request to a moto server
(started in-process with --moto, or named with --upstream) and itself answers,
in each service's real wire protocol, what moto cannot:

  * scenario overrides for states moto never produces (VPC link statuses
    other than AVAILABLE, ...), applied to moto's answers;
  * AWS's request quotas (token buckets per access key, region and quota,
    AWS's defaults or the scenario's), answered with the service's own
    throttling error, when the scenario has "quotas";
  * injected faults per service/operation: throttling, 5xx errors, delays,
    connection resets, malformed bodies and truncated ones (half the body
    promised, then the connection closes); a fault may strike every request,
    a number of times ("times") or a share of them ("probability", drawn
    from the scenario's "seed").

The scenario is a JSON file (see scenarios/*.json and README.md beside this
file) and can be replaced at run time with PUT /_front/scenario. Requests
seen are counted per service and operation at GET /_front/requests, those
throttled for the quotas at GET /_front/throttled.

The exporter has no test-only code path: it reaches this server through the
standard AWS_ENDPOINT_URL variables, exactly as it would reach AWS.
"""

import argparse
import http.client
import json
import random
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cbor2

import cloudwatch
import interconnect
import patches
import tls_targets

# Services by SigV4 signing name, with the wire protocol their errors use.
PROTOCOLS = {
    "apigateway": "rest-json",
    "sts": "query",
    "elasticloadbalancing": "query",
    "ec2": "ec2",
    "logs": "json",
    "acm": "json",
    "monitoring": "cbor",
    "interconnect": "cbor",
}

# REST-JSON operations by method and path, for the services that use paths.
REST_OPERATIONS = [
    ("GET", r"^/v2/vpclinks/?$", "apigatewayv2", "GetVpcLinks"),
    ("GET", r"^/v2/vpclinks/[^/]+$", "apigatewayv2", "GetVpcLink"),
    ("POST", r"^/v2/vpclinks/?$", "apigatewayv2", "CreateVpcLink"),
    ("GET", r"^/v2/apis/?$", "apigatewayv2", "GetApis"),
    ("GET", r"^/v2/apis/[^/]+/integrations/?$", "apigatewayv2", "GetIntegrations"),
    ("GET", r"^/v2/apis/[^/]+/stages/?$", "apigatewayv2", "GetStages"),
    ("GET", r"^/vpclinks/?$", "apigateway", "GetVpcLinks"),
    ("GET", r"^/vpclinks/[^/]+$", "apigateway", "GetVpcLink"),
    ("POST", r"^/vpclinks/?$", "apigateway", "CreateVpcLink"),
    ("GET", r"^/restapis/?$", "apigateway", "GetRestApis"),
    ("GET", r"^/restapis/[^/]+/resources/?$", "apigateway", "GetResources"),
    ("PUT", r"^/restapis/[^/]+/resources/[^/]+/methods/[^/]+/integration/?$", "apigateway", "PutIntegration"),
    ("GET", r"^/restapis/[^/]+/stages/?$", "apigateway", "GetStages"),
]

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade", "content-length", "host",
}


def signed_region(headers):
    """The region of the request's SigV4 credential scope."""
    m = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/[^/]+/aws4_request", headers.get("Authorization", ""))
    return m.group(1) if m else ""


def signed_access_key(headers):
    """The access key id of the request's SigV4 credential (which credentials signed it)."""
    m = re.search(r"Credential=([^/]+)/", headers.get("Authorization", ""))
    return m.group(1) if m else ""


def identify(method, path, headers, body):
    """Returns (service, operation) for a request, as AWS names them."""
    service = "unknown"
    auth = headers.get("Authorization", "")
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", auth)
    if m:
        service = m.group(1)
    parsed = urllib.parse.urlsplit(path)
    m = re.match(r"^/service/([^/]+)/operation/([^/]+)$", parsed.path)
    if m:
        return (service if service != "unknown" else m.group(1).lower()), m.group(2)
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    for method_, pattern, svc, op in REST_OPERATIONS:
        if method == method_ and re.match(pattern, parsed.path):
            return svc, op
    params = urllib.parse.parse_qs(parsed.query)
    if "Action" not in params and body and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        params = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    if "Action" in params:
        return service, params["Action"][0]
    return service, f"{method} {parsed.path}"


def query_params(path, headers, body):
    """The parameters of a query-protocol request (form body or query string)."""
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    if body and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        params.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
    return params


def error_response(service, code, message, status):
    """An AWS error in the service's own protocol: (status, headers, body)."""
    protocol = PROTOCOLS.get(service, "rest-json")
    if service == "apigatewayv2":
        protocol = "rest-json"
    if protocol == "rest-json":
        return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, json.dumps({"message": message}).encode()
    if protocol == "json":
        return status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({"__type": code, "message": message}).encode()
    if protocol == "cbor":
        return status, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}, cbor2.dumps({"__type": code, "message": message})
    if protocol == "ec2":
        body = f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>front</RequestID></Response>"
        return status, {"Content-Type": "text/xml"}, body.encode()
    body = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>front</RequestId></ErrorResponse>"
    return status, {"Content-Type": "text/xml"}, body.encode()


THROTTLE_CODES = {
    "rest-json": ("TooManyRequestsException", 429),
    "json": ("ThrottlingException", 400),
    "cbor": ("ThrottlingException", 400),
    "ec2": ("RequestLimitExceeded", 503),
    "query": ("Throttling", 400),
}


# AWS's default request quotas per account (here: per access key) and
# region, by SigV4 service name or "service:Operation": (requests a second,
# bucket size). API Gateway's V2 API shares its V1 API's.
AWS_QUOTAS = {
    "apigateway": (10.0, 40.0),
    "apigateway:GetResources": (2.5, 5.0),
    "elasticloadbalancing": (10.0, 40.0),
    "ec2": (20.0, 100.0),
    "logs:FilterLogEvents": (5.0, 5.0),
    "monitoring:GetMetricData": (50.0, 50.0),
    "acm:DescribeCertificate": (10.0, 10.0),
}


class Quotas:
    """AWS's token buckets: one per access key, region and quota. A request
    takes a token from each bucket that covers it, or is throttled (and
    takes none), as AWS does."""

    def __init__(self, spec):
        scale = float(spec.get("scale", 1))
        limits = dict(AWS_QUOTAS)
        limits.update({k: tuple(v) for k, v in spec.get("limits", {}).items()})
        # "scale" speeds time up: rates times it, bucket sizes as they are.
        self.limits = {k: (rate * scale, burst) for k, (rate, burst) in limits.items()}
        self.buckets = {}

    def take(self, access_key, region, service, operation):
        """True when the request may go; False when it is throttled."""
        service = "apigateway" if service == "apigatewayv2" else service
        keys = [k for k in (service, f"{service}:{operation}") if k in self.limits]
        now = time.monotonic()
        buckets = []
        for key in keys:
            rate, burst = self.limits[key]
            tokens, last = self.buckets.get((access_key, region, key), (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            buckets.append(((access_key, region, key), tokens))
        allowed = all(tokens >= 1 for _, tokens in buckets)
        for bucket, tokens in buckets:
            self.buckets[bucket] = (tokens - 1 if allowed else tokens, now)
        return allowed


class Front:
    def __init__(self, upstream, scenario):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.lock = threading.Lock()
        self.requests = {}
        self.set_scenario(scenario)

    def set_scenario(self, scenario):
        # Refused before anything changes: Interconnect values its model does not allow.
        interconnect.validate(scenario or {})
        with self.lock:
            self.scenario = scenario or {}
            # Remaining uses of each fault; a fault without "times" is permanent.
            self.fault_uses = [f.get("times") for f in self.scenario.get("faults", [])]
            # A fault with "probability" strikes that share of its requests,
            # drawn from a generator seeded by the scenario: repeatable.
            self.random = random.Random(self.scenario.get("seed", 0))
            # AWS's request quotas, enforced when the scenario asks for them.
            self.quotas = Quotas(self.scenario["quotas"]) if "quotas" in self.scenario else None
            self.throttled = {}

    def over_quota(self, service, operation, region, access_key):
        """Throttles a request over AWS's quota (when enforced), counting it."""
        with self.lock:
            if self.quotas is None or self.quotas.take(access_key, region, service, operation):
                return False
            key = f"{service}:{operation}"
            self.throttled[key] = self.throttled.get(key, 0) + 1
            return True

    def count(self, service, operation):
        with self.lock:
            key = f"{service}:{operation}"
            self.requests[key] = self.requests.get(key, 0) + 1

    def take_fault(self, service, operation, region, access_key, path="", body=b""):
        with self.lock:
            for i, fault in enumerate(self.scenario.get("faults", [])):
                if fault.get("path_contains", "") not in path:
                    continue
                # Query and JSON protocols name the resource in the body
                # (a form-encoded or JSON value), not the path.
                wanted = fault.get("body_contains", "")
                if wanted and wanted not in urllib.parse.unquote_plus(body.decode("utf-8", "replace")):
                    continue
                if fault.get("service", "*") not in ("*", service):
                    continue
                if fault.get("operation", "*") not in ("*", operation):
                    continue
                if fault.get("region", "*") not in ("*", region):
                    continue
                if not access_key.startswith(fault.get("access_key_prefix", "")):
                    continue
                if "probability" in fault and self.random.random() >= float(fault["probability"]):
                    continue
                uses = self.fault_uses[i]
                if uses is not None:
                    if uses <= 0:
                        continue
                    self.fault_uses[i] = uses - 1
                return fault
        return None

    def forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            fwd["Host"] = headers.get("Host", f"{self.upstream.hostname}:{self.upstream.port}")
            conn.request(method, path, body=body, headers=fwd)
            resp = conn.getresponse()
            data = resp.read()
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            return resp.status, out, data
        finally:
            conn.close()

    # --- scenario overrides: moto's answer in, the scenario's answer out ---

    def override(self, service, operation, status, headers, data, path=""):
        if status != 200:
            return headers, data
        data = self.paginate(service, operation, data, path)
        links = self.scenario.get("vpc_links", {})
        if links and service in ("apigateway", "apigatewayv2") and operation in ("GetVpcLinks", "GetVpcLink"):
            doc = json.loads(data or b"{}")
            # REST (v1) collections are under "item", apigatewayv2's under "items".
            items = doc.get("item" if service == "apigateway" else "items") if operation == "GetVpcLinks" else [doc]
            status_key = "status" if service == "apigateway" else "vpcLinkStatus"
            message_key = "statusMessage" if service == "apigateway" else "vpcLinkStatusMessage"
            for item in items or []:
                over = links.get(item.get("name", ""))
                if over is None:
                    continue
                if "status" in over:
                    item[status_key] = over["status"]
                if "status_message" in over:
                    item[message_key] = over["status_message"]
            data = json.dumps(doc).encode()
        return headers, data


    def paginate(self, service, operation, data, path):
        """Serves a list in pages of the scenario's `page_size` for this
        operation ("service:Operation"), with the service's own token names,
        so tests prove the client follows every page."""
        size = self.scenario.get("page_size", {}).get(f"{service}:{operation}")
        if not size or service not in ("apigateway", "apigatewayv2"):
            return data
        doc = json.loads(data or b"{}")
        key, token_in, token_out = ("item", "position", "position") if service == "apigateway" else ("items", "nextToken", "nextToken")
        items = doc.get(key) or []
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        start = int(query.get(token_in, ["0"])[0] or 0)
        doc[key] = items[start:start + size]
        doc.pop(token_out, None)
        if start + size < len(items):
            doc[token_out] = str(start + size)
        return json.dumps(doc).encode()


def make_handler(front):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One write per answer would do too; without this, a small body sent
        # after its headers waits for a delayed ACK (40 ms a request).
        disable_nagle_algorithm = True
        server_version = "aws-front"

        def log_message(self, fmt, *args):  # quiet: the tests read stdout
            pass

        def answer(self, service, operation, status, headers, body):
            """An answer from AWS (moto or the front's doubles), with the
            scenario's `strip` applied."""
            if status == 200:
                body = patches.strip_fields(front.scenario, service, operation, headers, body)
            return self.send(status, headers, body)

        def send(self, status, headers, body):
            self.send_response(status)
            for k, v in (headers.items() if isinstance(headers, dict) else headers):
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if getattr(self, "truncate", False):
                # Half the body promised, then the connection closes.
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            self.wfile.write(body)

        def control(self, body):
            path = urllib.parse.urlsplit(self.path).path
            if path == "/_front/health":
                return self.send(200, {"Content-Type": "text/plain"}, b"ok\n")
            if path == "/_front/requests":
                with front.lock:
                    doc = dict(front.requests)
                return self.send(200, {"Content-Type": "application/json"}, json.dumps(doc).encode())
            if path == "/_front/throttled":
                with front.lock:
                    doc = dict(front.throttled)
                return self.send(200, {"Content-Type": "application/json"}, json.dumps(doc).encode())
            if path == "/_front/tls_targets" and self.command == "POST":
                try:
                    spec = json.loads(body or b"{}")
                    address = tls_targets.start(spec.get("names"), spec.get("days", 365))
                except (ValueError, TypeError, AttributeError) as e:
                    return self.send(400, {"Content-Type": "text/plain"}, f"{e}\n".encode())
                return self.send(200, {"Content-Type": "application/json"}, json.dumps({"address": address}).encode())
            if path == "/_front/scenario" and self.command == "PUT":
                try:
                    front.set_scenario(json.loads(body or b"{}"))
                except interconnect.ModelError as e:
                    return self.send(400, {"Content-Type": "text/plain"}, f"scenario refused: {e}\n".encode())
                return self.send(200, {"Content-Type": "text/plain"}, b"ok\n")
            if path == "/_front/scenario":
                return self.send(200, {"Content-Type": "application/json"}, json.dumps(front.scenario).encode())
            return self.send(404, {"Content-Type": "text/plain"}, b"unknown control path\n")

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith("/_front/"):
                return self.control(body)
            service, operation = identify(self.command, self.path, self.headers, body)
            if not self.path.startswith("/moto-api"):
                front.count(service, operation)
            region = signed_region(self.headers)
            if not self.path.startswith("/moto-api") and front.over_quota(service, operation, region, signed_access_key(self.headers)):
                protocol = PROTOCOLS.get(service, "rest-json")
                code, status = THROTTLE_CODES.get(protocol, ("ThrottlingException", 400))
                return self.send(*error_response(service, code, "Rate exceeded", status))
            fault = front.take_fault(service, operation, region, signed_access_key(self.headers), self.path, body)
            self.truncate = bool(fault) and fault.get("kind") == "truncated"
            if fault and not self.truncate:
                kind = fault.get("kind", "error")
                if kind == "delay":
                    time.sleep(float(fault.get("seconds", 1)))
                elif kind == "reset":
                    # Close without answering: the client sees a connection reset.
                    self.close_connection = True
                    try:
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    except OSError:
                        pass
                    return
                elif kind == "malformed":
                    return self.send(200, {"Content-Type": "application/json"}, b"{\"items\": [ this is not json")
                elif kind == "throttle":
                    protocol = PROTOCOLS.get(service, "rest-json")
                    code, status = THROTTLE_CODES.get(protocol, ("ThrottlingException", 400))
                    return self.send(*error_response(service, fault.get("code", code), "Rate exceeded", fault.get("status", status)))
                else:
                    return self.send(*error_response(
                        service,
                        fault.get("code", "InternalFailure"),
                        fault.get("message", "injected failure"),
                        int(fault.get("status", 500)),
                    ))
            if service == "interconnect":
                # moto has no Interconnect: the front is the service.
                return self.answer(service, operation, *interconnect.answer(front.scenario, region, self.command, self.path, self.headers, body))
            if service == "monitoring":
                translated = cloudwatch.answer(front.forward, self.command, self.path, self.headers, body)
                if translated is not None:
                    return self.answer(service, operation, *translated)
            if service == "ec2" and operation == "DescribeVpcEndpointConnections":
                # moto does not implement it (HTML 500): answered from the scenario.
                return self.answer(service, operation, *patches.endpoint_connections(front.scenario, query_params(self.path, self.headers, body)))
            patches.remember_put_integration(self.command, self.path, body)
            upstream_path = self.path
            if front.scenario.get("page_size", {}).get(f"{service}:{operation}"):
                # The front pages this list itself: ask moto for all of it.
                upstream_path = self.path.split("?", 1)[0]
            try:
                status, headers, data = front.forward(self.command, upstream_path, self.headers, body)
            except OSError as e:
                return self.send(*error_response(service, "ServiceUnavailable", f"upstream unreachable: {e}", 503))
            headers, data = front.override(service, operation, status, headers, data, self.path)
            if status == 200:
                if service == "apigateway" and operation == "GetResources":
                    data = patches.restore_integrations(self.path, data)
                elif service == "elasticloadbalancing" and operation == "DescribeLoadBalancers":
                    data = patches.patch_load_balancers(front.scenario, region, data)
                elif service == "elasticloadbalancing" and operation == "DescribeTargetHealth":
                    data = patches.patch_target_health(front.scenario, query_params(self.path, self.headers, body), data)
            return self.answer(service, operation, status, headers, data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any

    return Handler


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="address to listen on (port 0 picks a free one)")
    parser.add_argument("--upstream", help="URL of a running moto server")
    parser.add_argument("--moto", action="store_true", help="start a moto server in this process")
    parser.add_argument("--scenario", help="scenario JSON file")
    args = parser.parse_args()

    upstream = args.upstream
    if args.moto:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from moto.server import ThreadedMotoServer
        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        upstream = f"http://127.0.0.1:{port}"
    if not upstream:
        parser.error("give --upstream URL or --moto")

    scenario = {}
    if args.scenario:
        with open(args.scenario) as f:
            scenario = json.load(f)

    host, _, port = args.listen.rpartition(":")
    try:
        front = Front(upstream, scenario)
    except interconnect.ModelError as e:
        sys.exit(f"scenario refused: {e}")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), make_handler(front))
    server.daemon_threads = True
    # Wait until moto answers before announcing the address.
    for _ in range(200):
        try:
            status, _, _ = front.forward("GET", "/moto-api/", {}, b"")
            break
        except OSError:
            time.sleep(0.05)
    print(f"listening on http://{server.server_address[0]}:{server.server_address[1]} upstream {upstream}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
