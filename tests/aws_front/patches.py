"""Scenario overrides the AWS front applies to moto's answers (or answers
itself) for EC2, ELBv2 and API Gateway, in those services' own formats:
EC2 and ELBv2 speak the query protocol with XML answers, API Gateway JSON.

Scenario keys:

  "load_balancers": {NAME or REGION/NAME: {"state": "failed", "reason": "...",
                            "privatelink_inbound_rules": "on"}}
  "target_health":  {TARGET_GROUP_NAME: {TARGET_ID: {"state": "unhealthy",
                     "reason": "Target.FailedHealthChecks", "description": "..."}}}
  "endpoint_connections": {SERVICE_ID: [{"vpc_endpoint_id": "vpce-1",
                     "owner": "123456789012", "state": "pendingAcceptance"}]}

  "strip":          [{"service": "ec2", "operation": "DescribeSecurityGroups",
                     "field": "ipProtocol"}]: every element (XML) or key (JSON,
                     CBOR) of that name removed from the answer, at any depth:
                     an answer with an optional field missing

moto drops the `connectionId` of REST integrations: the front remembers what
each PutIntegration sent and puts it back into GetResources answers.
"""

import datetime
import json
import re
import threading
import urllib.parse
import xml.etree.ElementTree as ET

import cbor2

ELB_NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"

_lock = threading.Lock()
# (rest api id, resource id, METHOD) -> integration fields moto does not keep
_integrations = {}

PUT_INTEGRATION = re.compile(r"^/restapis/([^/]+)/resources/([^/]+)/methods/([^/]+)/integration/?$")
GET_RESOURCES = re.compile(r"^/restapis/([^/]+)/resources/?$")


def remember_put_integration(method, path, body):
    if method != "PUT":
        return
    m = PUT_INTEGRATION.match(urllib.parse.urlsplit(path).path)
    if not m:
        return
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        return
    kept = {k: doc[k] for k in ("connectionId", "integrationTarget") if k in doc}
    if kept:
        with _lock:
            _integrations[(m.group(1), m.group(2), m.group(3).upper())] = kept


def restore_integrations(path, data):
    m = GET_RESOURCES.match(urllib.parse.urlsplit(path).path)
    if not m:
        return data
    doc = json.loads(data or b"{}")
    api = m.group(1)
    with _lock:
        for resource in doc.get("item", []):
            for verb, method in (resource.get("resourceMethods") or {}).items():
                integration = method.get("methodIntegration")
                kept = _integrations.get((api, resource.get("id"), verb.upper()))
                if integration is not None and kept:
                    for k, v in kept.items():
                        integration.setdefault(k, v)
    return json.dumps(doc).encode()


def _q(tag, ns):
    return f"{{{ns}}}{tag}"


def _text(parent, tag, ns):
    el = parent.find(_q(tag, ns))
    return el.text if el is not None else None


def _set_child(parent, tag, ns, value):
    el = parent.find(_q(tag, ns))
    if el is None:
        el = ET.SubElement(parent, _q(tag, ns))
    el.text = value
    return el


def _xml(root, ns):
    ET.register_namespace("", ns)
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def patch_load_balancers(scenario, region, data):
    overrides = scenario.get("load_balancers") or {}
    if not overrides:
        return data
    root = ET.fromstring(data)
    for member in root.iter(_q("member", ELB_NS)):
        name = _text(member, "LoadBalancerName", ELB_NS)
        over = (overrides.get(f"{region}/{name}") or overrides.get(name)) if name else None
        if not over:
            continue
        if "state" in over or "reason" in over:
            state = member.find(_q("State", ELB_NS))
            if state is None:
                state = ET.SubElement(member, _q("State", ELB_NS))
            if "state" in over:
                _set_child(state, "Code", ELB_NS, over["state"])
            if "reason" in over:
                _set_child(state, "Reason", ELB_NS, over["reason"])
        if "privatelink_inbound_rules" in over:
            _set_child(member, "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic", ELB_NS, over["privatelink_inbound_rules"])
    return _xml(root, ELB_NS)


def patch_target_health(scenario, request_params, data):
    overrides = scenario.get("target_health") or {}
    arn = (request_params.get("TargetGroupArn") or [""])[0]
    m = re.search(r":targetgroup/([^/]+)/", arn)
    groups = overrides.get(m.group(1)) if m else None
    if not groups:
        return data
    root = ET.fromstring(data)
    for member in root.iter(_q("member", ELB_NS)):
        target = member.find(_q("Target", ELB_NS))
        if target is None:
            continue
        over = groups.get(_text(target, "Id", ELB_NS) or "")
        if not over:
            continue
        health = member.find(_q("TargetHealth", ELB_NS))
        if health is None:
            health = ET.SubElement(member, _q("TargetHealth", ELB_NS))
        for key, tag in (("state", "State"), ("reason", "Reason"), ("description", "Description")):
            if key in over:
                _set_child(health, tag, ELB_NS, over[key])
    return _xml(root, ELB_NS)


def endpoint_connections(scenario, request_params):
    """The whole DescribeVpcEndpointConnections answer (moto lacks the call)."""
    wanted = set()
    i = 1
    while f"Filter.{i}.Name" in request_params:
        if request_params[f"Filter.{i}.Name"][0] == "service-id":
            j = 1
            while f"Filter.{i}.Value.{j}" in request_params:
                wanted.add(request_params[f"Filter.{i}.Value.{j}"][0])
                j += 1
        i += 1
    items = []
    for service_id, connections in (scenario.get("endpoint_connections") or {}).items():
        if wanted and service_id not in wanted:
            continue
        for c in connections:
            items.append(
                "<item>"
                f"<serviceId>{service_id}</serviceId>"
                f"<vpcEndpointId>{c['vpc_endpoint_id']}</vpcEndpointId>"
                f"<vpcEndpointOwner>{c.get('owner', '123456789012')}</vpcEndpointOwner>"
                f"<vpcEndpointState>{c.get('state', 'available')}</vpcEndpointState>"
                "<creationTimestamp>2026-01-01T00:00:00.000Z</creationTimestamp>"
                "</item>"
            )
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<DescribeVpcEndpointConnectionsResponse xmlns="{EC2_NS}">'
        "<requestId>aws-front</requestId>"
        f"<vpcEndpointConnectionSet>{''.join(items)}</vpcEndpointConnectionSet>"
        "</DescribeVpcEndpointConnectionsResponse>"
    )
    return 200, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()


def _drop_keys(doc, fields):
    if isinstance(doc, dict):
        return {k: _drop_keys(v, fields) for k, v in doc.items() if k not in fields}
    if isinstance(doc, list):
        return [_drop_keys(v, fields) for v in doc]
    return doc


def _drop_elements(parent, fields):
    for child in list(parent):
        if child.tag.rsplit("}", 1)[-1] in fields:
            parent.remove(child)
        else:
            _drop_elements(child, fields)


def strip_fields(scenario, service, operation, headers, data):
    """The scenario's `strip`: the answer without the named fields."""
    fields = {
        s["field"]
        for s in scenario.get("strip") or []
        if s.get("service") == service and s.get("operation") == operation
    }
    if not fields or not data:
        return data
    items = headers.items() if isinstance(headers, dict) else headers
    content_type = next((v for k, v in items if k.lower() == "content-type"), "")
    if "cbor" in content_type:
        doc = _drop_keys(cbor2.loads(data), fields)
        return cbor2.dumps(doc, datetime_as_timestamp=True, timezone=datetime.timezone.utc)
    if data.lstrip().startswith(b"<"):
        root = ET.fromstring(data)
        _drop_elements(root, fields)
        ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        if ns:
            ET.register_namespace("", ns)
        return ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return json.dumps(_drop_keys(json.loads(data), fields)).encode()
