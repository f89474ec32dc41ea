"""Prints a SAM template transformed into CloudFormation by the real SAM translator (the tool
venv's samtranslator, what `sam deploy` submits and CloudFormation expands), as JSON.

Usage: python sam_transform.py TEMPLATE   (AWS_DEFAULT_REGION set)"""

import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicies:
    def load(self):
        return {}


with open(sys.argv[1], encoding="utf-8") as file:
    template = yaml_parse(file.read())
# What `sam deploy` does before submitting: local code folders become uploaded S3 objects.
for resource in template.get("Resources", {}).values():
    properties = resource.get("Properties") or {}
    if resource.get("Type") == "AWS::Serverless::Function" and not str(properties.get("CodeUri", "")).startswith("s3://"):
        properties["CodeUri"] = "s3://agentdeploy-artifacts/function.zip"
print(json.dumps(transform(template, {}, _NoManagedPolicies())))
