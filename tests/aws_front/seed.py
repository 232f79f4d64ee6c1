#!/usr/bin/env python3
"""Seeds the emulator with a small, realistic VPC-link inventory through boto3.

Usage: seed.py ENDPOINT_URL [REGION ...]

Per region: a VPC with two subnets, a security group, a Network Load
Balancer, two REST VPC links (V1) to the NLB, and two HTTP VPC links (V2).
The link names are what scenarios refer to (see scenarios/demo.json).
Prints a JSON document with the ids it created, by region.
"""

import json
import sys

import boto3

REST_LINKS = ["orders-rest-link", "payments-rest-link"]
HTTP_LINKS = ["checkout-http-link", "legacy-http-link"]


def client(service, endpoint, region):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def seed_region(endpoint, region):
    ec2 = client("ec2", endpoint, region)
    elb = client("elbv2", endpoint, region)
    apigw = client("apigateway", endpoint, region)
    apigw2 = client("apigatewayv2", endpoint, region)

    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
        for cidr, az in (("10.20.1.0/24", "a"), ("10.20.2.0/24", "b"))
    ]
    sg = ec2.create_security_group(GroupName="backend", Description="backend", VpcId=vpc)["GroupId"]
    nlb = elb.create_load_balancer(Name="orders-nlb", Subnets=subnets, Type="network", Scheme="internal")
    nlb_arn = nlb["LoadBalancers"][0]["LoadBalancerArn"]

    links = {}
    for name in REST_LINKS:
        links[name] = apigw.create_vpc_link(name=name, targetArns=[nlb_arn])["id"]
    for name in HTTP_LINKS:
        links[name] = apigw2.create_vpc_link(Name=name, SubnetIds=subnets, SecurityGroupIds=[sg])["VpcLinkId"]
    return {"vpc": vpc, "subnets": subnets, "security_group": sg, "nlb_arn": nlb_arn, "vpc_links": links}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    endpoint = sys.argv[1]
    regions = sys.argv[2:] or ["us-east-1"]
    print(json.dumps({region: seed_region(endpoint, region) for region in regions}))


if __name__ == "__main__":
    main()
