#!/usr/bin/env python3
"""Seeds the emulator with a small, realistic VPC-link inventory through boto3.

Usage: seed.py ENDPOINT_URL [REGION ...]
       seed.py --paths ENDPOINT_URL [REGION ...]
       seed.py --runbook ENDPOINT_URL [REGION ...]
       seed.py --hostile ENDPOINT_URL [REGION ...]
       seed.py --log-events ENDPOINT_URL REGION LOG_GROUP EVENTS_JSON
       seed.py --metric-data ENDPOINT_URL REGION POINTS_JSON
       seed.py --delete-listeners ENDPOINT_URL REGION LOAD_BALANCER_NAME
       seed.py --many ENDPOINT_URL REGION APIS LOGGED
       seed.py --passthrough ENDPOINT_URL REGION HOST NAME...
       seed.py --organization ENDPOINT_URL ACCOUNTS REGION...
       seed.py --add-account ENDPOINT_URL NAME OU REGION...
       seed.py --close-account ENDPOINT_URL ACCOUNT_ID

--paths seeds whole network paths instead (see seed_paths); --runbook one
path per failure of the VPC-link runbook (see seed_runbook); --hostile a
REST and an HTTP path whose names are hostile (see seed_hostile).

Per region (see seed_region): a healthy REST link (V1) through its NLB and
endpoint service, a REST link whose NLB is gone, and two HTTP links (V2).
The link names are what scenarios refer to (see scenarios/demo.json).
Prints a JSON document with the ids it created, by region.
"""

import json
import sys
import time
import urllib.request

import boto3

from tls_targets import self_signed

HTTP_LINKS = ["checkout-http-link", "legacy-http-link"]


def client(service, endpoint, region):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def vpc_with_subnets(ec2, region, octet):
    """A VPC 10.OCTET.0.0/16 with a subnet in each of two zones."""
    vpc = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{octet}.{n}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
        for n, az in ((1, "a"), (2, "b"))
    ]
    return vpc, subnets


def seed_region(endpoint, region):
    """Per region: `orders-rest-link` (V1) to NLB `orders-nlb`, which listens
    on TCP 443 and forwards to one running instance on 8080, through an
    endpoint service that API Gateway is connected to: every check passes.
    `payments-rest-link` (V1) to `payments-nlb`, deleted since (the scenario
    makes the link FAILED). Two HTTP links (V2): `checkout-http-link`, healthy,
    and `legacy-http-link`, which the scenario makes INACTIVE. No API uses
    them, so only what the links themselves say is checked."""
    ec2 = client("ec2", endpoint, region)
    elb = client("elbv2", endpoint, region)
    apigw = client("apigateway", endpoint, region)
    apigw2 = client("apigatewayv2", endpoint, region)

    vpc, subnets = vpc_with_subnets(ec2, region, 20)
    sg = ec2.create_security_group(GroupName="backend", Description="backend", VpcId=vpc)["GroupId"]
    # The NLB has no security group of its own: the targets admit its subnets.
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.20.0.0/16"}]}])
    nlb = elb.create_load_balancer(Name="orders-nlb", Subnets=subnets, Type="network", Scheme="internal")
    nlb_arn = nlb["LoadBalancers"][0]["LoadBalancerArn"]
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnets[0],
                                 SecurityGroupIds=[sg])["Instances"][0]["InstanceId"]
    tg = elb.create_target_group(Name="orders-tg", Protocol="TCP", Port=8080, VpcId=vpc,
                                 TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": 8080}])
    elb.create_listener(LoadBalancerArn=nlb_arn, Protocol="TCP", Port=443,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    service_id = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb_arn], AcceptanceRequired=False)["ServiceConfiguration"]["ServiceId"]
    payments_nlb = elb.create_load_balancer(Name="payments-nlb", Subnets=subnets, Type="network",
                                            Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]

    links = {
        "orders-rest-link": apigw.create_vpc_link(name="orders-rest-link", targetArns=[nlb_arn])["id"],
        "payments-rest-link": apigw.create_vpc_link(name="payments-rest-link", targetArns=[payments_nlb])["id"],
    }
    elb.delete_load_balancer(LoadBalancerArn=payments_nlb)
    for name in HTTP_LINKS:
        links[name] = apigw2.create_vpc_link(Name=name, SubnetIds=subnets, SecurityGroupIds=[sg])["VpcLinkId"]

    update_scenario(endpoint, lambda scenario: scenario.setdefault("endpoint_connections", {}).update(
        {service_id: [api_gateway_connection(f"vpce-0{region.replace('-', '')}orders", "available")]}))
    return {"vpc": vpc, "subnets": subnets, "security_group": sg, "nlb_arn": nlb_arn,
            "payments_nlb_arn": payments_nlb, "target_group": tg, "instance": instance,
            "endpoint_service_id": service_id, "vpc_links": links}


# API Gateway's own account in us-east-1: the owner of a V1 link's endpoint connection.
API_GATEWAY_ACCOUNT = "392220576650"


def api_gateway_connection(vpc_endpoint_id, state):
    """API Gateway's endpoint connection to a V1 link's endpoint service, as the front serves it."""
    return {"vpc_endpoint_id": vpc_endpoint_id, "owner": API_GATEWAY_ACCOUNT, "state": state}


def update_scenario(endpoint, change):
    """Reads the front's scenario, lets `change` edit it, and puts it back."""
    with urllib.request.urlopen(f"{endpoint}/_front/scenario") as answer:
        scenario = json.load(answer)
    change(scenario)
    request = urllib.request.Request(f"{endpoint}/_front/scenario", data=json.dumps(scenario).encode(), method="PUT")
    urllib.request.urlopen(request).close()


def seed_paths(endpoint, region):
    """Whole paths, per region:

    * orders: REST API `orders-api` (GET /orders, stage prod, INFO logging) ->
      REST link `orders-rest-link` -> NLB `orders-nlb` (TCP 443, security group
      lb-sg) -> target group `orders-tg` (TCP 8080, instances i1, i2 running and
      i3 stopped, security group target-sg), with an endpoint service;
    * web: HTTP API `web-api` (stages $default, and prod with a JSON access
      log to `web-api-access`) -> HTTP link `web-http-link` -> ALB `web-alb`
      listener HTTP 80 -> target group `web-tg` (ip targets);
    * gone: REST link `gone-rest-link` to NLB `gone-nlb`, which is then deleted.

    Each path's link, API, load balancers and endpoint service are tagged
    `Team: orders`, `web` or `gone` (and `Secret`, a tag nobody asks for).
    """
    def team(name):
        return {"Team": name, "Secret": "s3cr3t"}

    def tag_list(name):
        return [{"Key": k, "Value": v} for k, v in team(name).items()]

    ec2 = client("ec2", endpoint, region)
    elb = client("elbv2", endpoint, region)
    apigw = client("apigateway", endpoint, region)
    apigw2 = client("apigatewayv2", endpoint, region)

    vpc, subnets = vpc_with_subnets(ec2, region, 30)
    lb_sg = ec2.create_security_group(GroupName="lb-sg", Description="load balancers", VpcId=vpc)["GroupId"]
    target_sg = ec2.create_security_group(GroupName="target-sg", Description="targets", VpcId=vpc)["GroupId"]
    link_sg = ec2.create_security_group(GroupName="link-sg", Description="vpc link", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=lb_sg,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                       {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": link_sg}]}],
    )
    ec2.authorize_security_group_ingress(
        GroupId=target_sg,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": lb_sg}]}],
    )

    instances = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=3, MaxCount=3, SubnetId=subnets[0], SecurityGroupIds=[target_sg]
    )["Instances"]
    instance_ids = [i["InstanceId"] for i in instances]

    nlb = elb.create_load_balancer(Name="orders-nlb", Subnets=subnets, Type="network", Scheme="internal",
                                   SecurityGroups=[lb_sg], Tags=tag_list("orders"))["LoadBalancers"][0]["LoadBalancerArn"]
    orders_tg = elb.create_target_group(Name="orders-tg", Protocol="TCP", Port=8080, VpcId=vpc,
                                        TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=orders_tg, Targets=[{"Id": i, "Port": 8080} for i in instance_ids])
    ec2.stop_instances(InstanceIds=[instance_ids[2]])  # moto then reports it `unused`
    elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=443,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": orders_tg}])
    service_id = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=True,
        TagSpecifications=[{"ResourceType": "vpc-endpoint-service", "Tags": tag_list("orders")}],
    )["ServiceConfiguration"]["ServiceId"]

    alb = elb.create_load_balancer(Name="web-alb", Subnets=subnets, Type="application", Scheme="internal",
                                   SecurityGroups=[lb_sg], Tags=tag_list("web"))["LoadBalancers"][0]["LoadBalancerArn"]
    web_tg = elb.create_target_group(Name="web-tg", Protocol="HTTP", Port=8080, VpcId=vpc,
                                     TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=web_tg, Targets=[{"Id": "10.30.1.50", "Port": 8080}])
    web_listener = elb.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80,
                                       DefaultActions=[{"Type": "forward", "TargetGroupArn": web_tg}])["Listeners"][0]["ListenerArn"]

    gone = elb.create_load_balancer(Name="gone-nlb", Subnets=subnets, Type="network",
                                    Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]

    orders_link = apigw.create_vpc_link(name="orders-rest-link", targetArns=[nlb], tags=team("orders"))["id"]
    gone_link = apigw.create_vpc_link(name="gone-rest-link", targetArns=[gone], tags=team("gone"))["id"]
    elb.delete_load_balancer(LoadBalancerArn=gone)
    web_link = apigw2.create_vpc_link(Name="web-http-link", SubnetIds=subnets, SecurityGroupIds=[link_sg],
                                      Tags=team("web"))["VpcLinkId"]

    api = apigw.create_rest_api(name="orders-api", tags=team("orders"))["id"]
    root = [r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/"][0]["id"]
    orders = apigw.create_resource(restApiId=api, parentId=root, pathPart="orders")["id"]
    apigw.put_method(restApiId=api, resourceId=orders, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api, resourceId=orders, httpMethod="GET", type="HTTP_PROXY", integrationHttpMethod="GET",
        uri="https://${stageVariables.ordersHost}/orders", connectionType="VPC_LINK",
        connectionId="${stageVariables.vpcLinkId}",
    )
    deployment = apigw.create_deployment(restApiId=api)["id"]
    apigw.create_stage(restApiId=api, stageName="prod", deploymentId=deployment,
                       variables={"vpcLinkId": orders_link, "ordersHost": "orders.internal.example.com"})
    apigw.update_stage(restApiId=api, stageName="prod",
                       patchOperations=[{"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"}])
    apigw.create_stage(restApiId=api, stageName="dev", deploymentId=deployment, variables={"vpcLinkId": orders_link})

    http_api = apigw2.create_api(Name="web-api", ProtocolType="HTTP", Tags=team("web"))["ApiId"]
    apigw2.create_integration(ApiId=http_api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                              IntegrationUri=web_listener, ConnectionType="VPC_LINK", ConnectionId=web_link,
                              PayloadFormatVersion="1.0")
    apigw2.create_stage(ApiId=http_api, StageName="$default")
    apigw2.create_stage(ApiId=http_api, StageName="prod", AccessLogSettings={
        "DestinationArn": f"arn:aws:logs:{region}:123456789012:log-group:web-api-access",
        "Format": json.dumps({"requestId": "$context.requestId", "status": "$context.status",
                              "integrationError": "$context.integrationErrorMessage"}),
    })
    # An access-log destination exists before API Gateway writes to it (it
    # does not create it, unlike the REST execution-log groups).
    logs = client("logs", endpoint, region)
    try:
        logs.create_log_group(logGroupName="web-api-access")
    except logs.exceptions.ResourceAlreadyExistsException:
        pass

    return {
        "vpc": vpc, "subnets": subnets,
        "security_groups": {"lb": lb_sg, "target": target_sg, "link": link_sg},
        "instances": instance_ids,
        "nlb_arn": nlb, "alb_arn": alb, "gone_nlb_arn": gone,
        "orders_tg": orders_tg, "web_tg": web_tg, "web_listener": web_listener,
        "endpoint_service_id": service_id,
        "vpc_links": {"orders-rest-link": orders_link, "gone-rest-link": gone_link, "web-http-link": web_link},
        "rest_api": api, "http_api": http_api,
    }


# The runbook scenarios: one REST (V1) path each, named after what breaks it.
# seed_runbook also adds to the front's scenario what moto cannot do
# (endpoint connections, an unhealthy target, the PrivateLink enforcement
# field, the INACTIVE status) and puts the execution-log events and the
# CloudWatch datapoint the TLS and idle-time findings read.
RUNBOOK_REST = [
    "healthy",            # every check passes
    "nlb-deleted",        # the NLB is deleted after the link was made
    "listener-missing",   # a stage variable makes the integration call port 8443; the NLB listens on 443
    "connection-rejected",  # API Gateway's endpoint connection is rejected (front)
    "no-healthy-target",  # the only target is unhealthy (front)
    "sg-without-port",    # the target's security group admits 9090, not the target port 8080
    "health-check-blocked",  # health checks go to port 8081, which the target's security group does not admit
    "nacl-deny",          # the target subnet's NACL denies 8080 from the NLB's subnets before allowing all
    "enforcement-on",     # PrivateLink inbound-rule enforcement on (front), NLB SG admits only 10.0.0.0/8
    "tls-errors",         # the stage's execution log has TLS host-name errors (put by the test)
    "certificate-mismatch",  # a TLS listener whose ACM certificate covers other.example.com, not the host called
    "certificate-expiring",  # a TLS listener whose ACM certificate covers the host and expires in 10 days
]

# The runbook paths whose NLB terminates TLS: the names their ACM
# certificate covers, and the days it has left.
RUNBOOK_CERTIFICATES = {
    "certificate-mismatch": (["other.example.com", "*.other.example.com"], 365),
    "certificate-expiring": (["certificate-expiring.internal.example.com"], 10),
}


RUNBOOK_HTTP = [
    "healthy-http",       # HTTP API -> V2 link -> ALB -> IP target: every check passes
    "http-inactive",      # the V2 link is INACTIVE (front)
]

# HTTP API -> V2 link -> NLB TCP listener -> IP target that terminates TLS
# itself (tlsConfig: API Gateway's TLS passes through the NLB), and serves a
# self-signed certificate: the TLS probe fails it as untrusted. The front
# runs the target; tls_probe.addresses must map `tls-passthrough-nlb` to it.
RUNBOOK_PASSTHROUGH = "tls-passthrough"
PASSTHROUGH_HOST = "tls-passthrough.internal.example.com"


def start_tls_target(endpoint, names, days=365):
    """Has the front start a TLS target for `names` (see tls_targets.py); its address."""
    request = urllib.request.Request(f"{endpoint}/_front/tls_targets", method="POST",
                                     data=json.dumps({"names": names, "days": days}).encode())
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["address"]


def seed_runbook(endpoint, region):
    ec2 = client("ec2", endpoint, region)
    elb = client("elbv2", endpoint, region)
    apigw = client("apigateway", endpoint, region)
    apigw2 = client("apigatewayv2", endpoint, region)
    acm = client("acm", endpoint, region)

    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]

    def subnet(cidr, az):
        return ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]

    lb_subnets = [subnet("10.40.1.0/24", "a"), subnet("10.40.2.0/24", "b")]
    target_subnet = subnet("10.40.3.0/24", "a")
    nacl_subnet = subnet("10.40.4.0/24", "a")

    def group(name, ingress):
        gid = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        if ingress:
            ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=ingress)
        return gid

    def tcp(port, cidr=None, group_id=None):
        rule = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
        if cidr:
            rule["IpRanges"] = [{"CidrIp": cidr}]
        if group_id:
            rule["UserIdGroupPairs"] = [{"GroupId": group_id}]
        return rule

    link_sg = group("runbook-link", [])
    lb_sg = group("runbook-lb", [tcp(443, cidr="0.0.0.0/0"), tcp(80, group_id=link_sg)])
    narrow_lb_sg = group("runbook-lb-narrow", [tcp(443, cidr="10.0.0.0/8")])
    target_sg = group("runbook-target", [tcp(8080, group_id=lb_sg), tcp(8080, group_id=narrow_lb_sg)])
    wrong_port_sg = group("runbook-target-9090", [tcp(9090, group_id=lb_sg)])

    # The NACL scenario's target subnet: deny 8080 from the VPC first, then allow everything.
    nacl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for number, egress, action, ports in ((90, False, "deny", (8080, 8080)), (100, False, "allow", None),
                                          (100, True, "allow", None)):
        entry = {"NetworkAclId": nacl, "RuleNumber": number, "Egress": egress, "RuleAction": action,
                 "CidrBlock": "10.40.0.0/16" if action == "deny" else "0.0.0.0/0"}
        if ports:
            entry.update(Protocol="6", PortRange={"From": ports[0], "To": ports[1]})
        else:
            entry["Protocol"] = "-1"
        ec2.create_network_acl_entry(**entry)
    default_acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [nacl_subnet]}])
    association = [a for a in default_acl["NetworkAcls"][0]["Associations"] if a["SubnetId"] == nacl_subnet][0]
    ec2.replace_network_acl_association(AssociationId=association["NetworkAclAssociationId"], NetworkAclId=nacl)

    def instance(subnet_id, groups):
        i = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet_id,
                              SecurityGroupIds=groups)["Instances"][0]
        return i["InstanceId"], i["PrivateIpAddress"]

    out = {"vpc": vpc, "lb_subnets": lb_subnets, "target_subnet": target_subnet, "nacl_subnet": nacl_subnet,
           "nacl": nacl, "security_groups": {"lb": lb_sg, "narrow_lb": narrow_lb_sg, "target": target_sg,
                                             "wrong_port": wrong_port_sg, "link": link_sg},
           "links": {}}

    for name in RUNBOOK_REST:
        subnet_id = nacl_subnet if name == "nacl-deny" else target_subnet
        groups = [wrong_port_sg] if name == "sg-without-port" else [target_sg]
        instance_id, _ = instance(subnet_id, groups)
        nlb = elb.create_load_balancer(Name=f"{name}-nlb", Subnets=lb_subnets, Type="network", Scheme="internal",
                                       SecurityGroups=[narrow_lb_sg if name == "enforcement-on" else lb_sg]
                                       )["LoadBalancers"][0]["LoadBalancerArn"]
        health = {"HealthCheckPort": "8081"} if name == "health-check-blocked" else {}
        tg = elb.create_target_group(Name=f"{name}-tg", Protocol="TCP", Port=8080, VpcId=vpc,
                                     TargetType="instance", **health)["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id, "Port": 8080}])
        tls = {}
        certificate = None
        if name in RUNBOOK_CERTIFICATES:
            pem, key = self_signed(*RUNBOOK_CERTIFICATES[name])
            certificate = acm.import_certificate(Certificate=pem, PrivateKey=key)["CertificateArn"]
            tls = {"Protocol": "TLS", "Certificates": [{"CertificateArn": certificate}]}
        elb.create_listener(LoadBalancerArn=nlb, Port=443, **({"Protocol": "TCP"} | tls),
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        service_id = None
        if name != "nlb-deleted":
            service_id = ec2.create_vpc_endpoint_service_configuration(
                NetworkLoadBalancerArns=[nlb], AcceptanceRequired=False)["ServiceConfiguration"]["ServiceId"]
        link = apigw.create_vpc_link(name=f"{name}-link", targetArns=[nlb])["id"]
        if name == "nlb-deleted":
            elb.delete_load_balancer(LoadBalancerArn=nlb)

        api = apigw.create_rest_api(name=f"{name}-api")["id"]
        root = [r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/"][0]["id"]
        apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(
            restApiId=api, resourceId=root, httpMethod="GET", type="HTTP_PROXY", integrationHttpMethod="GET",
            uri=f"https://{name}.internal.example.com:${{stageVariables.backendPort}}/",
            connectionType="VPC_LINK", connectionId="${stageVariables.vpcLinkId}",
        )
        deployment = apigw.create_deployment(restApiId=api)["id"]
        port = "8443" if name == "listener-missing" else "443"
        apigw.create_stage(restApiId=api, stageName="prod", deploymentId=deployment,
                           variables={"vpcLinkId": link, "backendPort": port})
        if name in ("healthy", "tls-errors"):
            apigw.update_stage(restApiId=api, stageName="prod",
                               patchOperations=[{"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"}])
        out["links"][name] = {"vpc_link_id": link, "nlb_arn": nlb, "target_group": tg, "instance": instance_id,
                              "endpoint_service_id": service_id, "rest_api": api, "certificate": certificate}

    def http_path(name, lb_type, protocol, port, tls_config=None):
        """HTTP API -> V2 link -> listener (`protocol`, `port`) of a new load
        balancer -> target group (port 8080) -> one IP target."""
        _, address = instance(target_subnet, [target_sg])
        suffix = "alb" if lb_type == "application" else "nlb"
        lb = elb.create_load_balancer(Name=f"{name}-{suffix}", Subnets=lb_subnets, Type=lb_type,
                                      Scheme="internal", SecurityGroups=[lb_sg])["LoadBalancers"][0]["LoadBalancerArn"]
        tg = elb.create_target_group(Name=f"{name}-tg", Protocol="HTTP" if protocol == "HTTP" else "TCP", Port=8080,
                                     VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": address, "Port": 8080}])
        listener = elb.create_listener(LoadBalancerArn=lb, Protocol=protocol, Port=port,
                                       DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}]
                                       )["Listeners"][0]["ListenerArn"]
        link = apigw2.create_vpc_link(Name=f"{name}-link", SubnetIds=lb_subnets,
                                      SecurityGroupIds=[link_sg])["VpcLinkId"]
        api = apigw2.create_api(Name=f"{name}-api", ProtocolType="HTTP")["ApiId"]
        apigw2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                  IntegrationUri=listener, ConnectionType="VPC_LINK", ConnectionId=link,
                                  PayloadFormatVersion="1.0", **({"TlsConfig": tls_config} if tls_config else {}))
        apigw2.create_stage(ApiId=api, StageName="$default")
        out["links"][name] = {"vpc_link_id": link, f"{suffix}_arn": lb, "target_group": tg, "target": address,
                              "listener": listener, "http_api": api}

    for name in RUNBOOK_HTTP:
        http_path(name, "application", "HTTP", 80)
    http_path(RUNBOOK_PASSTHROUGH, "network", "TCP", 443, {"ServerNameToVerify": PASSTHROUGH_HOST})
    out["links"][RUNBOOK_PASSTHROUGH].update(host=PASSTHROUGH_HOST,
                                            tls_target=start_tls_target(endpoint, [PASSTHROUGH_HOST]))

    runbook_scenario(endpoint, region, out["links"])
    runbook_data(endpoint, region, out["links"])
    return out


def runbook_scenario(endpoint, region, links):
    """Adds to the front's scenario what moto cannot do for the runbook links."""
    update_scenario(endpoint, lambda scenario: runbook_overrides(scenario, region, links))


def runbook_overrides(scenario, region, links):
    connections = scenario.setdefault("endpoint_connections", {})
    for name, link in links.items():
        service = link.get("endpoint_service_id")
        if service:
            connections[service] = [api_gateway_connection(
                f"vpce-0{len(connections):016d}", "rejected" if name == "connection-rejected" else "available")]
    scenario.setdefault("target_health", {})["no-healthy-target-tg"] = {
        links["no-healthy-target"]["instance"]: {"state": "unhealthy", "reason": "Target.FailedHealthChecks",
                                                 "description": "Health checks failed"}}
    balancers = scenario.setdefault("load_balancers", {})
    balancers[f"{region}/healthy-nlb"] = {"privatelink_inbound_rules": "off"}
    balancers[f"{region}/enforcement-on-nlb"] = {"privatelink_inbound_rules": "on"}
    scenario.setdefault("vpc_links", {})["http-inactive-link"] = {
        "status": "INACTIVE", "status_message": "VPC link is inactive because it has not been used for 60 days"}


TEN_DAYS_S = 10 * 86400


def runbook_data(endpoint, region, links):
    """Execution logs (a TLS error a minute ago; a healthy stage's plain line) and
    the API traffic of the healthy and the pass-through HTTP links ten days ago
    (CloudWatch Count: neither link is idle long enough to alert)."""
    logs = client("logs", endpoint, region)
    now_ms = int(time.time() * 1000)
    for name, message in (
        ("tls-errors", "(0f0e0d0c-1111-2222-3333-444455556666) Execution failed due to configuration error: "
                       "Host name 'tls-errors.internal.example.com' does not match the certificate subject "
                       "provided by the peer (CN=other.example.com)"),
        ("healthy", "(0f0e0d0c-1111-2222-3333-444455556667) Method completed with status: 200"),
    ):
        group = f"API-Gateway-Execution-Logs_{links[name]['rest_api']}/prod"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="runbook")
        logs.put_log_events(logGroupName=group, logStreamName="runbook",
                            logEvents=[{"timestamp": now_ms - 60_000, "message": message}])
    cw = client("cloudwatch", endpoint, region)
    for name in ("healthy-http", RUNBOOK_PASSTHROUGH):
        cw.put_metric_data(Namespace="AWS/ApiGateway", MetricData=[{
            "MetricName": "Count", "Dimensions": [{"Name": "ApiId", "Value": links[name]["http_api"]}],
            "Timestamp": now_ms // 1000 - TEN_DAYS_S, "Value": 7}])

    # Traffic the dashboards and alerts read, one point a minute from ten
    # minutes ago to two hours ahead (the collector reads the newest complete
    # period a little behind now): the TLS-broken REST API answers 30 % 5XX,
    # the healthy HTTP API 1 %, the no-healthy-target NLB's targets reset
    # connections, the rejected endpoint service sends resets, and the
    # healthy HTTP link's ALB answers a few 502s and 504s (below
    # AwsconnLoadBalancerErrors' threshold).
    nlb = links["no-healthy-target"]["nlb_arn"].split(":loadbalancer/", 1)[1]
    alb = links["healthy-http"]["alb_arn"].split(":loadbalancer/", 1)[1]
    series = [
        ("AWS/ApiGateway", "5XXError", {"ApiName": "tls-errors-api", "Stage": "prod"}, 30),
        ("AWS/ApiGateway", "Count", {"ApiName": "tls-errors-api", "Stage": "prod"}, 100),
        ("AWS/ApiGateway", "5xx", {"ApiId": links["healthy-http"]["http_api"], "Stage": "$default"}, 2),
        ("AWS/ApiGateway", "Count", {"ApiId": links["healthy-http"]["http_api"], "Stage": "$default"}, 200),
        ("AWS/NetworkELB", "TCP_Target_Reset_Count", {"LoadBalancer": nlb}, 12),
        ("AWS/NetworkELB", "TCP_ELB_Reset_Count", {"LoadBalancer": nlb}, 0),
        ("AWS/PrivateLinkServices", "RstPacketsSent",
         {"Service Id": links["connection-rejected"]["endpoint_service_id"]}, 3),
        ("AWS/ApplicationELB", "HTTPCode_ELB_502_Count", {"LoadBalancer": alb}, 2),
        ("AWS/ApplicationELB", "HTTPCode_ELB_503_Count", {"LoadBalancer": alb}, 0),
        ("AWS/ApplicationELB", "HTTPCode_ELB_504_Count", {"LoadBalancer": alb}, 1),
        ("AWS/ApplicationELB", "TargetConnectionErrorCount", {"LoadBalancer": alb}, 0),
        ("AWS/ApplicationELB", "TargetTLSNegotiationErrorCount", {"LoadBalancer": alb}, 0),
    ]
    now_s = now_ms // 1000
    for namespace, metric, dimensions, value in series:
        cw.put_metric_data(Namespace=namespace, MetricData=[{
            "MetricName": metric, "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Timestamp": now_s + minute * 60, "Value": value} for minute in range(-10, 120)])


def put_log_events(endpoint, region, group, path):
    """Puts the events of a JSON file ([[timestamp_ms, message], ...]) into a log group."""
    logs = client("logs", endpoint, region)
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    stream = f"stream-{len(logs.describe_log_streams(logGroupName=group)['logStreams'])}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    with open(path) as f:
        events = sorted(({"timestamp": ts, "message": msg} for ts, msg in json.load(f)), key=lambda e: e["timestamp"])
    for i in range(0, len(events), 5000):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[i:i + 5000])
    return {"put": len(events), "stream": stream}


def put_metric_data(endpoint, region, path):
    """Puts datapoints from a JSON file: [{"namespace", "metric", "dimensions": {..}, "timestamp", "value"}]."""
    cw = client("cloudwatch", endpoint, region)
    with open(path) as f:
        points = json.load(f)
    for p in points:
        cw.put_metric_data(Namespace=p["namespace"], MetricData=[{
            "MetricName": p["metric"],
            "Dimensions": [{"Name": k, "Value": v} for k, v in p.get("dimensions", {}).items()],
            "Timestamp": p["timestamp"],
            "Value": p["value"],
        }])
    return {"put": len(points)}


def delete_listeners(endpoint, region, name):
    """Deletes every listener of the load balancer called `name` (breaks its path)."""
    elb = client("elbv2", endpoint, region)
    arn = elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]["LoadBalancerArn"]
    listeners = elb.describe_listeners(LoadBalancerArn=arn)["Listeners"]
    for listener in listeners:
        elb.delete_listener(ListenerArn=listener["ListenerArn"])
    return {"deleted": len(listeners)}


# Markup, quotes, backslashes, a newline, a terminal escape, exposition
# syntax and long unicode: what a name from AWS must never break.
HOSTILE = ('<script>alert(1)</script> "dq" \'sq\' \\back\\slash\nnew line \x1b[31mred '
           '{le="+Inf"} # EOF bidi\u202eevil line\u2028sep zero\u200bwidth\ufeff ' + "Ünïcødé ✓ 日本語 🚀 " * 12)


def seed_hostile(endpoint, region):
    """A REST path (API -> V1 link -> NLB -> target group) and an HTTP path
    (API -> V2 link -> ALB listener) with HOSTILE in every name AWS lets a
    user choose freely. Load balancer and target group names are not among
    them: AWS allows 32 letters, digits and hyphens there."""
    ec2 = client("ec2", endpoint, region)
    elb = client("elbv2", endpoint, region)
    apigw = client("apigateway", endpoint, region)
    apigw2 = client("apigatewayv2", endpoint, region)
    vpc, subnets = vpc_with_subnets(ec2, region, 40)
    nlb = elb.create_load_balancer(Name="hostile-nlb", Subnets=subnets, Type="network",
                                   Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="hostile-tg", Protocol="TCP", Port=8080, VpcId=vpc,
                                 TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.40.1.10", "Port": 8080}])
    elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=443,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    alb = elb.create_load_balancer(Name="hostile-alb", Subnets=subnets, Type="application",
                                   Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]

    rest_link = apigw.create_vpc_link(name=HOSTILE, description=HOSTILE, targetArns=[nlb])["id"]
    api = apigw.create_rest_api(name=HOSTILE, description=HOSTILE)["id"]
    root = [r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="HTTP_PROXY",
                          integrationHttpMethod="GET", uri="http://hostile.internal.example.com/",
                          connectionType="VPC_LINK", connectionId=rest_link)
    apigw.create_stage(restApiId=api, stageName="prod", deploymentId=apigw.create_deployment(restApiId=api)["id"])

    http_link = apigw2.create_vpc_link(Name=HOSTILE, SubnetIds=subnets)["VpcLinkId"]
    http_api = apigw2.create_api(Name=HOSTILE, ProtocolType="HTTP", Description=HOSTILE)["ApiId"]
    apigw2.create_integration(ApiId=http_api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                              IntegrationUri=listener, ConnectionType="VPC_LINK", ConnectionId=http_link,
                              PayloadFormatVersion="1.0")
    apigw2.create_stage(ApiId=http_api, StageName="$default")
    return {"hostile": HOSTILE, "rest_link": rest_link, "http_link": http_link,
            "rest_api": api, "http_api": http_api}


def seed_many(endpoint, region, apis="300", logged="100"):
    """An account with many REST APIs, for the quota tests: `apis` REST APIs
    (`many-N`), each with GET / integrated through the one REST link
    `many-rest-link` (to NLB `many-nlb`) and a stage `prod` running its
    deployment; the first `logged` stages log at INFO, into log groups that
    exist. Seed before the scenario turns `quotas` on: the seeding itself
    makes thousands of calls."""
    apis, logged = int(apis), int(logged)
    ec2 = client("ec2", endpoint, region)
    elb = client("elbv2", endpoint, region)
    apigw = client("apigateway", endpoint, region)
    logs = client("logs", endpoint, region)
    vpc, subnets = vpc_with_subnets(ec2, region, 60)
    nlb = elb.create_load_balancer(Name="many-nlb", Subnets=subnets, Type="network",
                                   Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    link = apigw.create_vpc_link(name="many-rest-link", targetArns=[nlb])["id"]
    ids = []
    for n in range(apis):
        api = apigw.create_rest_api(name=f"many-{n}")["id"]
        root = apigw.get_resources(restApiId=api)["items"][0]["id"]
        apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="HTTP_PROXY",
                              integrationHttpMethod="GET", uri=f"http://many-{n}.internal/",
                              connectionType="VPC_LINK", connectionId=link)
        deployment = apigw.create_deployment(restApiId=api)["id"]
        apigw.create_stage(restApiId=api, stageName="prod", deploymentId=deployment)
        if n < logged:
            apigw.update_stage(restApiId=api, stageName="prod",
                               patchOperations=[{"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"}])
            logs.create_log_group(logGroupName=f"API-Gateway-Execution-Logs_{api}/prod")
        ids.append(api)
    return {"link": link, "apis": ids}


def seed_passthrough(endpoint, region, host, *names):
    """TLS that the load balancer passes through to its targets: per NAME an
    NLB `NAME-nlb` with a TCP listener on 443; an HTTP API `pass-api` on the
    V2 link `pass-link` whose integration `NAME` calls that listener with a
    tlsConfig verifying HOST (so API Gateway speaks HTTPS end to end); and a
    REST API `pass-rest` on the same link whose integrations call the first
    NLB by its ARN (GET /lb) and by its listener's ARN (GET /listener), both
    `https://HOST/`."""
    ec2 = client("ec2", endpoint, region)
    elb = client("elbv2", endpoint, region)
    apigw = client("apigateway", endpoint, region)
    apigw2 = client("apigatewayv2", endpoint, region)
    vpc, subnets = vpc_with_subnets(ec2, region, 60)
    link = apigw2.create_vpc_link(Name="pass-link", SubnetIds=subnets)["VpcLinkId"]
    api = apigw2.create_api(Name="pass-api", ProtocolType="HTTP")["ApiId"]
    nlbs, listeners = {}, {}
    for name in names:
        nlb = elb.create_load_balancer(Name=f"{name}-nlb", Subnets=subnets, Type="network",
                                       Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
        group = elb.create_target_group(Name=f"{name}-tg", Protocol="TCP", Port=443, VpcId=vpc,
                                        TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        listener = elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=443,
                                       DefaultActions=[{"Type": "forward", "TargetGroupArn": group}]
                                       )["Listeners"][0]["ListenerArn"]
        integration = apigw2.create_integration(
            ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY", IntegrationUri=listener,
            ConnectionType="VPC_LINK", ConnectionId=link, PayloadFormatVersion="1.0",
            TlsConfig={"ServerNameToVerify": host})["IntegrationId"]
        apigw2.create_route(ApiId=api, RouteKey=f"ANY /{name}", Target=f"integrations/{integration}")
        nlbs[name], listeners[name] = nlb, listener
    apigw2.create_stage(ApiId=api, StageName="$default")
    rest = apigw.create_rest_api(name="pass-rest")["id"]
    root = apigw.get_resources(restApiId=rest)["items"][0]["id"]
    first = names[0]
    for path, target in (("lb", nlbs[first]), ("listener", listeners[first])):
        resource = apigw.create_resource(restApiId=rest, parentId=root, pathPart=path)["id"]
        apigw.put_method(restApiId=rest, resourceId=resource, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(restApiId=rest, resourceId=resource, httpMethod="GET", type="HTTP_PROXY",
                              integrationHttpMethod="GET", uri=f"https://{host}/",
                              connectionType="VPC_LINK", connectionId=link, integrationTarget=target)
    deployment = apigw.create_deployment(restApiId=rest)["id"]
    apigw.create_stage(restApiId=rest, stageName="prod", deploymentId=deployment)
    return {"link": link, "http_api": api, "rest_api": rest, "nlbs": nlbs, "listeners": listeners}


def member_client(service, endpoint, region, account, role="awsconn-read"):
    """A client of `account`, through its role (moto serves AssumeRole into
    any account of its organisation)."""
    sts = client("sts", endpoint, region)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                            RoleSessionName="seed")["Credentials"]
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def seed_member_links(endpoint, account, regions, team):
    """One REST VPC link `link-ACCOUNT-REGION` in each region of `account`,
    tagged `Team: TEAM` (and `Secret`, a tag nobody asks for)."""
    links = {}
    for region in regions:
        apigw = member_client("apigateway", endpoint, region, account)
        nlb = f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/net/nlb/0123456789abcdef"
        links[region] = apigw.create_vpc_link(name=f"link-{account}-{region}", targetArns=[nlb],
                                              tags={"Team": team, "Secret": "s3cr3t"})["id"]
    return links


def seed_organization(endpoint, accounts, *regions):
    """An organisation managed by the ambient account: `accounts` member
    accounts (`team-NN`) spread over three OUs under the root, each with a
    REST VPC link in every region; the last one suspended (closed). Prints
    the root, the OUs, and each account's id, name, OU and links."""
    org = client("organizations", endpoint, "us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ous = [org.create_organizational_unit(ParentId=root, Name=f"ou-{n}")["OrganizationalUnit"]["Id"]
           for n in range(3)]
    members = []
    for n in range(int(accounts)):
        members.append(add_account(endpoint, f"team-{n:02}", ous[n % 3], *regions, root=root))
    org.close_account(AccountId=members[-1]["id"])
    ec2 = client("ec2", endpoint, regions[0])
    enabled = sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"]
                     if r.get("OptInStatus") != "not-opted-in")
    return {"root": root, "ous": ous, "accounts": members, "enabled_regions": enabled}


def add_account(endpoint, name, ou, *regions, root=None):
    """A new member account `name` in OU `ou`, tagged `Team: NAME-owners`,
    with its links tagged alike."""
    org = client("organizations", endpoint, "us-east-1")
    status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    account = status.get("AccountId") or org.describe_create_account_status(
        CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    root = root or org.list_roots()["Roots"][0]["Id"]
    org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
    team = f"{name}-owners"
    org.tag_resource(ResourceId=account, Tags=[{"Key": "Team", "Value": team}, {"Key": "Secret", "Value": "s3cr3t"}])
    return {"id": account, "name": name, "ou": ou, "team": team,
            "links": seed_member_links(endpoint, account, regions, team)}


def main():
    args = sys.argv[1:]
    if args[:1] == ["--organization"]:
        print(json.dumps(seed_organization(*args[1:])))
        return
    if args[:1] == ["--add-account"]:
        print(json.dumps(add_account(*args[1:])))
        return
    if args[:1] == ["--close-account"]:
        client("organizations", args[1], "us-east-1").close_account(AccountId=args[2])
        print(json.dumps({"closed": args[2]}))
        return
    if args[:1] == ["--passthrough"]:
        print(json.dumps(seed_passthrough(*args[1:])))
        return
    if args[:1] == ["--delete-listeners"]:
        print(json.dumps(delete_listeners(*args[1:4])))
        return
    if args[:1] == ["--many"]:
        endpoint, region, apis, logged = args[1:5]
        print(json.dumps(seed_many(endpoint, region, apis, logged)))
        return
    if args[:1] == ["--metric-data"]:
        print(json.dumps(put_metric_data(*args[1:4])))
        return
    if args[:1] == ["--log-events"]:
        print(json.dumps(put_log_events(*args[1:5])))
        return
    seed = {"--paths": seed_paths, "--runbook": seed_runbook, "--hostile": seed_hostile}.get(args[0] if args else "", None)
    if seed:
        args = args[1:]
    else:
        seed = seed_region
    if not args:
        sys.exit(__doc__)
    endpoint = args[0]
    regions = args[1:] or ["us-east-1"]
    print(json.dumps({region: seed(endpoint, region) for region in regions}))


if __name__ == "__main__":
    main()
