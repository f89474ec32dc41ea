"""A local AWS for agentdeploy: moto in-process, with the real SAM transform and moto's gaps filled.

Run with the tool virtualenv's Python (it has moto and aws-sam-translator):

    ~/.cache/agentdeploy-tools/venv/bin/python tests/emulator/local_aws.py [--port N] [--bucket NAME]

It prints one line `LOCAL_AWS_READY http://localhost:PORT` on stdout when it answers, then serves
until stdin closes (how a test stops it) or it gets SIGTERM / SIGINT; with `--until-signalled`
(what `tests/emulator/start` passes) only a signal stops it. Point every client at that URL (`localhost`, not
`127.0.0.1`: moto finds a change set's template bucket in the URL path only for `localhost`).

What it adds to moto 5.2 (docs/testing.md explains each):
- `AWS::Serverless-2016-10-31` templates are transformed with samtranslator before moto reads them,
  for stacks and change sets alike.
- `AWS::ApiGateway::RestApi` gets a default Name and the resources, methods and integrations of its
  OpenAPI Body; `Stage`, `ApiKey`, `UsagePlan`, `UsagePlanKey` and `AWS::Lambda::Url` are modelled.
- Executing a change set rebuilds the stack's outputs from the template it applied.
- Stack operations (create/execute change set, delete stack) run one at a time, so concurrent
  deploys do not race in moto's shared tables.
- Lambda Invoke runs the function's real handler from its uploaded zip as Lambda runs it, against a
  Runtime API of its own per execution environment: a buffered function under AWS's runtime
  interface client (`python3.13 -m awslambdaric HANDLER`, with `LOCAL_AWS_RUNTIME_SITE` — boto3
  and awslambdaric, as Lambda's runtime provides them — on PYTHONPATH after the function's code);
  a streamed one (the Web Adapter's exec wrapper) as the layer runs it, with AWS's own
  `lambda-adapter` (`LOCAL_AWS_WEB_ADAPTER`) as its extension, relayed by
  InvokeWithResponseStream as the adapter streams it. The function's environment variables and
  timeout apply; a missing real piece fails the Invoke saying so (no played stand-in).
  Execution environments stay warm as on Lambda: the next Invoke of the same code and
  configuration reuses an idle one (module state and all); concurrent Invokes get their own; the
  log tail ends with a REPORT line that has `Init Duration` only on a cold start.
  `LOCAL_AWS_COLD_STARTS=1` makes every Invoke cold. No Docker.
"""

import argparse
import base64
import binascii
import datetime
import math
import re
import urllib.parse
import zlib
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

from moto.apigateway import models as apigw  # noqa: E402
from moto.awslambda import models as awslambda  # noqa: E402
from moto.awslambda import responses as awslambda_responses  # noqa: E402
from moto.awslambda import urls as awslambda_urls  # noqa: E402
from moto.cloudformation import models as cfn  # noqa: E402
from moto.cloudformation import parsing as cfn_parsing  # noqa: E402
from moto.cloudwatch import models as cloudwatch  # noqa: E402
from moto.cloudwatch import urls as cloudwatch_urls  # noqa: E402
from moto.core.common_models import CloudFormationModel  # noqa: E402
from moto.s3 import models as s3_models  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402
from samtranslator.translator.transform import transform as sam_transform  # noqa: E402

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/service-role/{name}"
    for name in ("AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole", "AWSLambdaRole")
}
MANAGED_POLICIES["AmazonS3ReadOnlyAccess"] = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


class _PolicyLoader:
    def load(self):
        return MANAGED_POLICIES


# The parameter values of the change set being made or executed: CloudFormation gives them to the
# SAM transform (AutoPublishCodeSha256 and AutoPublishAlias may name a parameter).
_transform_parameters = {}


def _apply_sam_transform(template, parameters=None):
    if not isinstance(template, dict):
        return template
    transforms = template.get("Transform")
    names = transforms if isinstance(transforms, list) else [transforms]
    if SAM_TRANSFORM not in names:
        return template
    values = dict(_transform_parameters if parameters is None else parameters)
    for name, declared in (template.get("Parameters") or {}).items():
        if name not in values and isinstance(declared, dict) and "Default" in declared:
            values[name] = declared["Default"]
    return sam_transform(template, values, _PolicyLoader())


_moto_parse_template = cfn.Stack.parse_template


def _parse_template(template):
    return _apply_sam_transform(_moto_parse_template(template))


def _change_set_parse_template(self):
    self.template_dict = _apply_sam_transform(_moto_parse_template(self.template), getattr(self, "parameters", None) or {})


_moto_execute_change_set = cfn.CloudFormationBackend.execute_change_set
_moto_create_change_set = cfn.CloudFormationBackend.create_change_set
_moto_delete_stack = cfn.CloudFormationBackend.delete_stack

# moto's CloudFormation backend is not thread-safe: concurrent deploys (a fleet) mutate its stack
# table and the other backends' resource tables from the server's threads. Stack operations run
# one at a time here; real CloudFormation queues them too.
_cfn_lock = threading.RLock()


def _create_change_set(self, *args, **kwargs):
    with _cfn_lock:
        return _moto_create_change_set(self, *args, **kwargs)


def _parameter_list(self):
    """DescribeStacks as CloudFormation answers it: a NoEcho parameter's value is `****` (moto
    compares each value, not each key, with the NoEcho keys, and shows the value)."""
    hidden = self.resource_map.no_echo_parameter_keys
    return [{"ParameterKey": key, "ParameterValue": "****" if key in hidden else value}
            for key, value in self.resource_map.resolved_parameters.items()]


def _delete_stack(self, *args, **kwargs):
    with _cfn_lock:
        return _moto_delete_stack(self, *args, **kwargs)


def _execute_change_set(self, change_set_name, stack_name=None):
    global _transform_parameters
    with _cfn_lock:
        change_set = next(
            (cs for cs in self.change_sets.values()
             if change_set_name in (cs.change_set_id, cs.change_set_name)
             and stack_name in (None, cs.stack_name, cs.stack_id)),
            None,
        )
        _transform_parameters = dict(change_set.parameters or {}) if change_set else {}
        try:
            _execute_change_set_locked(self, change_set_name, stack_name)
        finally:
            _transform_parameters = {}


def _execute_change_set_locked(self, change_set_name, stack_name=None):
    _moto_execute_change_set(self, change_set_name, stack_name)
    # moto keeps the outputs of the (empty) template the change set started from.
    for stack in list(self.stacks.values()):
        if stack_name not in (None, stack.name, stack.stack_id):
            continue
        if stack.template and stack.status.endswith("_COMPLETE"):
            stack._parse_template()
            stack.output_map = stack._create_output_map()


# --- API Gateway -------------------------------------------------------------------------------

_moto_rest_api_create = apigw.RestAPI.create_from_cloudformation_json.__func__


def _rest_api_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json.setdefault("Properties", {})
    properties.setdefault("Name", resource_name)
    api = _moto_rest_api_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    body = properties.get("Body") or {}
    backend = apigw.apigateway_backends[account_id][region_name]
    for path, methods in (body.get("paths") or {}).items():
        parent = api.default
        for part in [p for p in path.split("/") if p]:
            existing = [r for r in api.resources.values() if r.parent_id == parent.id and r.path_part == part]
            parent = existing[0] if existing else backend.create_resource(api.id, parent.id, part)
        for verb, operation in methods.items():
            if verb.startswith("x-"):
                continue
            security = operation.get("security") or []
            api_key_required = any("api_key" in s for s in security)
            iam = any("AWS_IAM" in s for s in security)
            backend.put_method(
                api.id, parent.id, verb.upper(), "AWS_IAM" if iam else "NONE", api_key_required=api_key_required
            )
            integration = operation.get("x-amazon-apigateway-integration") or {}
            uri = integration.get("uri", "")
            if isinstance(uri, dict):
                uri = json.dumps(uri)
            backend.put_integration(
                api.id, parent.id, verb.upper(), integration.get("type", "aws_proxy").upper(), uri,
                integration.get("httpMethod", "POST"),
            )
    return api


class CfnStage(CloudFormationModel):
    __module__ = "moto.apigateway.local_aws"  # moto files models by the second part of the module

    def __init__(self, api_id, stage_name, account_id, region_name):
        self.api_id, self.stage_name = api_id, stage_name
        self.account_id, self.region_name = account_id, region_name

    @staticmethod
    def cloudformation_type():
        return "AWS::ApiGateway::Stage"

    @staticmethod
    def cloudformation_name_type():
        return "StageName"

    @property
    def physical_resource_id(self):
        return self.stage_name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        backend = apigw.apigateway_backends[account_id][region_name]
        api = backend.get_rest_api(p["RestApiId"])
        if p["StageName"] not in api.stages:
            backend.create_stage(p["RestApiId"], p["StageName"], p.get("DeploymentId", ""))
        return cls(p["RestApiId"], p["StageName"], account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass


class CfnApiKey(CloudFormationModel):
    __module__ = "moto.apigateway.local_aws"  # moto files models by the second part of the module

    def __init__(self, key):
        self.key = key

    @staticmethod
    def cloudformation_type():
        return "AWS::ApiGateway::ApiKey"

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @property
    def physical_resource_id(self):
        return self.key.id

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "APIKeyId"

    def get_cfn_attribute(self, attribute_name):
        return self.key.id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json.get("Properties", {})
        backend = apigw.apigateway_backends[account_id][region_name]
        key = backend.create_api_key({"name": p.get("Name", resource_name), "enabled": p.get("Enabled", True)})
        return cls(key)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass


class CfnUsagePlan(CloudFormationModel):
    __module__ = "moto.apigateway.local_aws"  # moto files models by the second part of the module

    def __init__(self, plan):
        self.plan = plan

    @staticmethod
    def cloudformation_type():
        return "AWS::ApiGateway::UsagePlan"

    @staticmethod
    def cloudformation_name_type():
        return "UsagePlanName"

    @property
    def physical_resource_id(self):
        return self.plan.id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json.get("Properties", {})
        backend = apigw.apigateway_backends[account_id][region_name]
        stages = [{"apiId": s.get("ApiId"), "stage": s.get("Stage")} for s in p.get("ApiStages", [])]
        fields = {"name": p.get("UsagePlanName", resource_name), "description": p.get("Description"), "apiStages": stages}
        if "Throttle" in p:
            fields["throttle"] = {
                "rateLimit": float(p["Throttle"].get("RateLimit", 0)),
                "burstLimit": int(p["Throttle"].get("BurstLimit", 0)),
            }
        if "Quota" in p:
            fields["quota"] = {"limit": int(p["Quota"]["Limit"]), "period": p["Quota"]["Period"]}
        plan = backend.create_usage_plan(fields)
        return cls(plan)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass


class CfnUsagePlanKey(CloudFormationModel):
    __module__ = "moto.apigateway.local_aws"  # moto files models by the second part of the module

    def __init__(self, plan_id, key_id):
        self.plan_id, self.key_id = plan_id, key_id

    @staticmethod
    def cloudformation_type():
        return "AWS::ApiGateway::UsagePlanKey"

    @property
    def physical_resource_id(self):
        return f"{self.plan_id}:{self.key_id}"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        backend = apigw.apigateway_backends[account_id][region_name]
        backend.create_usage_plan_key(p["UsagePlanId"], {"keyId": p["KeyId"], "keyType": p.get("KeyType", "API_KEY")})
        return cls(p["UsagePlanId"], p["KeyId"])

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass


class CfnFunctionUrl(CloudFormationModel):
    __module__ = "moto.awslambda.local_aws"  # moto files models by the second part of the module

    def __init__(self, url_config):
        self.url_config = url_config

    @staticmethod
    def cloudformation_type():
        return "AWS::Lambda::Url"

    @property
    def physical_resource_id(self):
        return self.url_config.function.function_arn

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in ("FunctionUrl", "FunctionArn")

    def get_cfn_attribute(self, attribute_name):
        if attribute_name == "FunctionUrl":
            return self.url_config.url + "/"
        return self.url_config.function.function_arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        backend = awslambda.lambda_backends[account_id][region_name]
        function = backend.get_function(p["TargetFunctionArn"])
        config = {"AuthType": p.get("AuthType", "AWS_IAM")}
        existing = function.url_config
        return cls(existing if existing else backend.create_function_url_config(function.function_name, config))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        # CloudFormation updates a URL in place (its address stays): moto has no update for it.
        p = cloudformation_json["Properties"]
        original_resource.url_config.config["AuthType"] = p.get("AuthType", "AWS_IAM")
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass


class CfnAlarm(CloudFormationModel):
    """AWS::CloudWatch::Alarm, which moto's CloudFormation lacks: the alarm put into moto's
    CloudWatch under the name CloudFormation would give it (DescribeAlarms finds it; moto never
    evaluates it, so its state stays INSUFFICIENT_DATA)."""

    __module__ = "moto.cloudwatch.local_aws"  # moto files models by the second part of the module

    def __init__(self, name):
        self.name = name

    @staticmethod
    def cloudformation_type():
        return "AWS::CloudWatch::Alarm"

    @property
    def physical_resource_id(self):
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "Arn"

    @staticmethod
    def _put(name, p, account_id, region_name):
        cloudwatch.cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name, namespace=p.get("Namespace"), metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"], evaluation_periods=int(p["EvaluationPeriods"]),
            period=p.get("Period"), threshold=float(p["Threshold"]), statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"), dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []), ok_actions=p.get("OKActions", []),
            extended_statistic=p.get("ExtendedStatistic"), treat_missing_data=p.get("TreatMissingData"),
        )

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        name = p.get("AlarmName") or resource_name  # moto makes it as CloudFormation does: STACK-LOGICALID-RANDOM
        cls._put(name, p, account_id, region_name)
        return cls(name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        cls._put(original_resource.name, cloudformation_json["Properties"], account_id, region_name)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        cloudwatch.cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])


# --- Versions and aliases (SAM's AutoPublishAlias) ---------------------------------------------
# moto publishes a version for AWS::Lambda::Version but offers no Ref/GetAtt for it and has no
# AWS::Lambda::Alias at all; both are filled in here so `live` moves as CloudFormation moves it.


class CfnVersion(CloudFormationModel):
    __module__ = "moto.awslambda.local_aws"  # moto files models by the second part of the module

    def __init__(self, function):
        self.function = function

    @staticmethod
    def cloudformation_type():
        return "AWS::Lambda::Version"

    @property
    def physical_resource_id(self):
        return self.function.function_arn

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "Version"

    def get_cfn_attribute(self, attribute_name):
        return str(self.function.version)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        backend = awslambda.lambda_backends[account_id][region_name]
        return cls(backend.publish_version(p["FunctionName"], p.get("Description", "")))

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass  # SAM retains published versions


class CfnAlias(CloudFormationModel):
    __module__ = "moto.awslambda.local_aws"  # moto files models by the second part of the module

    def __init__(self, alias, function_name):
        self.alias, self.function_name = alias, function_name

    @staticmethod
    def cloudformation_type():
        return "AWS::Lambda::Alias"

    @property
    def physical_resource_id(self):
        return self.alias.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        backend = awslambda.lambda_backends[account_id][region_name]
        alias = backend.create_alias(p["Name"], p["FunctionName"], str(p["FunctionVersion"]), p.get("Description", ""), None)
        return cls(alias, p["FunctionName"])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        p = cloudformation_json["Properties"]
        backend = awslambda.lambda_backends[account_id][region_name]
        alias = backend.update_alias(p["Name"], p["FunctionName"], str(p["FunctionVersion"]), p.get("Description", ""), None)
        return cls(alias, p["FunctionName"])

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        p = cloudformation_json["Properties"]
        try:
            awslambda.lambda_backends[account_id][region_name].delete_alias(p["Name"], p["FunctionName"])
        except Exception:
            pass


_moto_bucket_update = s3_models.FakeBucket.update_from_cloudformation_json.__func__


def _bucket_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    """A bucket without a BucketName (CloudFormation named it) is updated in place under the name
    it has, as CloudFormation does: moto 5 tags it by `properties["BucketName"]` and fails with a
    KeyError (a 500 that sam reports as ResponseParserError), as a stack made by template v4 met
    when its session bucket's tags changed."""
    properties = cloudformation_json.get("Properties") or {}
    if "BucketName" not in properties:
        cloudformation_json = dict(cloudformation_json,
                                   Properties=dict(properties, BucketName=original_resource.name))
    return _moto_bucket_update(cls, original_resource, new_resource_name, cloudformation_json,
                               account_id, region_name)


def _modify_all(resource_map, names):
    """moto's retry loop for Modify: dependencies settle over a few passes."""
    from moto.cloudformation.parsing import MAX_UPDATE_ATTEMPTS, parse_and_update_resource
    tries, last_exception = 1, None
    while names and tries < MAX_UPDATE_ATTEMPTS:
        for logical_name in list(names):
            try:
                changed = parse_and_update_resource(
                    logical_name, resource_map._resource_json_map[logical_name], resource_map,
                    account_id=resource_map._account_id, region_name=resource_map._region_name,
                )
            except Exception as e:
                last_exception = e
            else:
                # None: moto cannot update this type. CloudFormation updates it in place; dropping
                # it (moto's way) leaves every Ref and GetAtt of it dangling, and the stack unreadable.
                if changed is not None:
                    resource_map._parsed_resources[logical_name] = changed
                names.remove(logical_name)
        tries += 1
    if names and last_exception:
        raise last_exception


_moto_update = cfn_parsing.ResourceMap.update


def _update(self, template, parameters=None):
    """moto updates in the order Remove, Add, Modify, so a new AWS::Lambda::Version would publish
    the function's old code. CloudFormation follows dependencies: the function's update, then the
    version, then the aliases. Without versions, moto's own order is kept."""
    types = {name: r.get("Type") for name, r in template.get("Resources", {}).items()}
    if "AWS::Lambda::Version" not in types.values():
        return _moto_update(self, template, parameters)
    diff = self.build_resource_diff(template, parameters)
    removed = list(diff["Remove"])
    for logical_name in removed:
        if logical_name in self._parsed_resources:
            try:
                self._delete_resource(self._parsed_resources[logical_name], self._resource_json_map[logical_name])
            except Exception:
                pass
    self._template = template
    if parameters:
        self.input_parameters = parameters
    self.load_mapping()
    self.load_parameters()
    self.load_conditions()
    self._resource_json_map = template["Resources"]
    added = list(diff["Add"])
    modified = list(diff["Modify"])
    # A new alias names a new version (resolving it publishes the version): both wait for the
    # function's update, as CloudFormation's dependency order has it (a stack made by template v3
    # gains the `candidate` alias so).
    after_update = ("AWS::Lambda::Version", "AWS::Lambda::Alias")
    for logical_name in [n for n in added if types[n] not in after_update]:
        _ = self[logical_name]
    _modify_all(self, [n for n in modified if types[n] != "AWS::Lambda::Alias"])
    for logical_name in [n for n in added if types[n] == "AWS::Lambda::Version"]:
        _ = self[logical_name]
    for logical_name in [n for n in added if types[n] == "AWS::Lambda::Alias"]:
        _ = self[logical_name]
    _modify_all(self, [n for n in modified if types[n] == "AWS::Lambda::Alias"])


# --- Lambda Invoke without Docker --------------------------------------------------------------

# --- Lambda's Runtime API, for AWS's own runtime interface client -------------------------------

# Buffered functions run as Lambda's Python runtime runs them: AWS's runtime interface client
# (`python -m awslambdaric MODULE.FUNCTION`, installed by .ci/setup beside boto3) imports the
# handler once (INIT) and then loops: GET .../invocation/next, the handler, POST the response or
# the error. Only the small documented protocol below is ours.
RUNTIME_API_PREFIX = "/2018-06-01/runtime"
EXTENSION_API_PREFIX = "/2020-01-01/extension"


class _RuntimeApi:
    """The Runtime API of one execution environment: hands out one queued event per `next` (to
    as many pollers as the environment runs at once: Lambda Managed Instances) and takes back
    each event's response or error, by its request id, or the environment's INIT error."""

    def __init__(self):
        import queue
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.events = queue.Queue()
        self.results = {}  # request id -> the queue its answer goes to
        self.results_lock = threading.Lock()
        self.init_error = None
        self.first_next = None  # when INIT ended: the runtime asked for its first event
        self.stopped = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _chunks(self, trailers):
                """A chunked body's chunks as they arrive; its trailers go into `trailers`."""
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    yield self.rfile.read(size)
                    self.rfile.readline()
                while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    trailers[name.strip().lower()] = value.strip()

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    return b"".join(self._chunks({}))
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status, body=b"", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == EXTENSION_API_PREFIX + "/event/next":
                    # An extension registered for no events (the Web Adapter's way of staying
                    # alive) waits here until the environment is shut down.
                    api.stopped.wait()
                    return self._answer(200, json.dumps({"eventType": "SHUTDOWN"}).encode())
                if self.path != RUNTIME_API_PREFIX + "/invocation/next":
                    return self._answer(404)
                if api.first_next is None:
                    api.first_next = time.monotonic()
                request_id, event, deadline_ms, arn = api.events.get()
                self._answer(200, json.dumps(event).encode(), [
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                    ("Lambda-Runtime-Invoked-Function-Arn", arn),
                    ("Lambda-Runtime-Trace-Id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"),
                    ("Content-Type", "application/json"),
                ])

            def _stream(self, request_id):
                """A streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`):
                its chunks handed on as they arrive, then the error its trailers report."""
                chunks = queue.Queue()
                api.deliver(request_id, ("stream", chunks))
                trailers = {}
                for chunk in self._chunks(trailers):
                    chunks.put(chunk)
                error = None
                if "lambda-runtime-function-error-type" in trailers:
                    body = trailers.get("lambda-runtime-function-error-body", "")
                    try:
                        body = base64.b64decode(body).decode("utf-8", errors="replace")
                    except (binascii.Error, ValueError):
                        pass
                    error = {"errorType": trailers["lambda-runtime-function-error-type"],
                             "errorMessage": body}
                chunks.put(("end", error))

            def do_POST(self):
                if self.path == EXTENSION_API_PREFIX + "/register":
                    self._body()
                    return self._answer(200, json.dumps({"functionName": "", "functionVersion": "",
                                                         "handler": ""}).encode(),
                                        [("Lambda-Extension-Identifier", str(uuid.uuid4())),
                                         ("Content-Type", "application/json")])
                path = self.path[len(RUNTIME_API_PREFIX):] if self.path.startswith(RUNTIME_API_PREFIX) else ""
                # /invocation/{request id}/response | /error
                parts = path.split("/")
                request_id, outcome = (parts[2], parts[3]) if len(parts) == 4 and parts[1] == "invocation" else (None, None)
                streaming = self.headers.get("Lambda-Runtime-Function-Response-Mode", "").lower() == "streaming"
                if streaming and outcome == "response":
                    self._stream(request_id)
                    return self._answer(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
                body = self._body()
                if path == "/init/error":
                    api.fail_init(body)
                elif outcome == "response":
                    api.deliver(request_id, ("ok", body))
                elif outcome == "error":
                    api.deliver(request_id, ("error", body))
                else:
                    return self._answer(404)
                self._answer(202, b'{"status":"OK"}', [("Content-Type", "application/json")])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def submit(self, request_id, event, deadline_ms, arn):
        """Queues one event; returns the queue its answer will come back on."""
        import queue

        answers = queue.Queue()
        with self.results_lock:
            self.results[request_id] = answers
            if self.init_error is not None:
                answers.put(("error", self.init_error))
        self.events.put((request_id, event, deadline_ms, arn))
        return answers

    def forget(self, request_id):
        with self.results_lock:
            self.results.pop(request_id, None)

    def deliver(self, request_id, result):
        with self.results_lock:
            answers = self.results.get(request_id)
        if answers is not None:
            answers.put(result)

    def fail_init(self, body):
        """INIT failed: every event waiting, and every later one, gets the error."""
        with self.results_lock:
            self.init_error = body
            waiting = list(self.results.values())
        for answers in waiting:
            answers.put(("error", body))

    def close(self):
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()


class _Environment:
    """A running execution environment of one function version and configuration."""

    def __init__(self, function, python, env):
        # Requests served at once: one, or on managed instances the configured concurrency
        # (AWS_LAMBDA_MAX_CONCURRENCY tells the runtime, which polls that many at once).
        self.capacity = _max_concurrency(function)
        self.in_flight = 0
        self.broken = False
        if self.capacity > 1:
            env = dict(env, AWS_LAMBDA_MAX_CONCURRENCY=str(self.capacity))
        self.work = tempfile.mkdtemp(prefix="local-aws-lambda-")
        self.task = os.path.join(self.work, "task")
        with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
            for member in archive.infolist():
                archive.extract(member, self.task)
                # Lambda keeps the zip's file modes: an executable handler script stays one.
                mode = member.external_attr >> 16
                if mode and not member.is_dir():
                    os.chmod(os.path.join(self.task, member.filename), mode & 0o777)
        self.log_path = os.path.join(self.work, "log.txt")
        self.log = open(self.log_path, "w+")
        # What of the log has been handed out: each line goes to the log group once, with the
        # request that ends after it was written (concurrent requests' lines interleave, as on
        # managed instances).
        self.log_cursor = 0
        self.log_lock = threading.Lock()
        self.web = env.get("AWS_LAMBDA_EXEC_WRAPPER") == "/opt/bootstrap"
        if self.web:
            self._start_web(function, python, env)
            return
        self.runtime_api = _RuntimeApi()
        self.started = time.monotonic()
        self.function_arn = function.function_arn
        # Lambda's sys.path: the function's code, then what the runtime provides.
        python_path = os.pathsep.join(p for p in (self.task, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [python, "-m", "awslambdaric", function.handler],
            env=dict(env, LAMBDA_TASK_ROOT=self.task, PYTHONPATH=python_path,
                     AWS_LAMBDA_RUNTIME_API=self.runtime_api.address),
            cwd=self.task,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its process group goes with it (close())
        )

    def _start_web(self, function, python, env):
        """As Lambda runs a function with the Web Adapter's layer: the adapter itself (AWS's
        `lambda-adapter`, built by .ci/setup) as the layer's extension, and the runtime through
        the layer's exec wrapper, which runs the function's handler script (its web server).
        INIT ends when the adapter, having found the server ready at the rendered readiness
        path, asks the Runtime API for the first event."""
        self.runtime_api = _RuntimeApi()
        self.started = time.monotonic()
        self.function_arn = function.function_arn
        self.ready = False
        self.setup_error = None
        self.init_lock = threading.Lock()
        self.init_ms = None
        self.init_over = False
        adapter = os.environ.get("LOCAL_AWS_WEB_ADAPTER", "")
        if not (adapter and os.access(adapter, os.X_OK)):
            self.setup_error = ("the Lambda Web Adapter binary is not installed "
                                f"(LOCAL_AWS_WEB_ADAPTER={adapter!r}): run `bash .ci/setup`")
            self.proc = subprocess.Popen(["true"], start_new_session=True)
            return
        bin_dir = os.path.join(self.work, "bin")
        os.makedirs(bin_dir)
        os.symlink(python, os.path.join(bin_dir, "python3"))  # the runtime's `python3`
        # The layer's /opt/bootstrap, word for word (aws-lambda-web-adapter: layer/bootstrap).
        wrapper = os.path.join(self.work, "bootstrap")
        with open(wrapper, "w") as f:
            f.write('#!/bin/bash\n\nexec -- "${LAMBDA_TASK_ROOT}/${_HANDLER}"')
        os.chmod(wrapper, 0o755)
        # Each environment its own port: several run at once on this machine.
        run_env = dict(env, LAMBDA_TASK_ROOT=self.task, _HANDLER=function.handler,
                       AWS_LAMBDA_RUNTIME_API=self.runtime_api.address,
                       AWS_LWA_PORT=str(_free_port()),
                       PATH=bin_dir + os.pathsep + env.get("PATH", ""))
        # One process group for the environment (close() stops it whole): the adapter's.
        self.proc = subprocess.Popen([adapter], env=run_env, cwd=self.task, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, process_group=0)
        self.server_proc = subprocess.Popen([wrapper], env=run_env, cwd=self.task,
                                            stdin=subprocess.DEVNULL, stdout=self.log,
                                            stderr=subprocess.STDOUT, process_group=self.proc.pid)

    def _await_init(self):
        """INIT is the adapter's: it asks for an event once the server answers its readiness
        check. The first request waits for it (the others in flight wait with it)."""
        with self.init_lock:
            if self.init_over:
                return
            deadline = self.started + float(os.environ.get("LOCAL_AWS_INIT_SECONDS", "60"))
            while self.proc.poll() is None and time.monotonic() < deadline:
                if self.runtime_api.first_next is not None:
                    self.ready = True
                    break
                time.sleep(0.01)
            self.init_ms = (time.monotonic() - self.started) * 1000
            self.init_over = True

    def stream(self, event, timeout):
        """One event through the adapter: the bytes of its streamed response as they arrive
        (for a Function URL or API event: the JSON prelude, eight NUL bytes, the body), then
        None or the error its trailers reported, as ("end", error)."""
        import queue

        self._await_init()
        if not self.ready:
            message = self.setup_error or "the function's server never became ready (INIT)"
            yield ("end", {"errorType": "Runtime.InitError", "errorMessage": message})
            return
        request_id = str(uuid.uuid4())
        self.last_request_id = request_id
        deadline = time.monotonic() + timeout
        answers = self.runtime_api.submit(request_id, event, int((time.time() + timeout) * 1000),
                                          self.function_arn)
        timed_out = ("end", {"errorType": "Sandbox.Timedout",
                             "errorMessage": f"Task timed out after {timeout:.2f} seconds"})
        try:
            try:
                kind, value = answers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                yield timed_out
                return
            if kind != "stream":
                yield ("end", json.loads(value) if value else {"errorType": "Runtime.Unknown"})
                return
            while True:
                try:
                    chunk = value.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    yield timed_out
                    return
                if isinstance(chunk, tuple):
                    yield chunk
                    return
                yield chunk
        finally:
            self.runtime_api.forget(request_id)

    def _invoke_web(self, event, timeout):
        """A plain Invoke of a streamed function: its whole stream, as Lambda buffers it."""
        raw, error = b"", None
        for piece in self.stream(event, timeout):
            if isinstance(piece, tuple):
                error = piece[1]
            else:
                raw += piece
        result = {"error": error} if error is not None else {"raw": raw.decode("utf-8", errors="replace")}
        if error is not None and error.get("errorType") == "Sandbox.Timedout":
            result = None  # the caller reports the timeout and discards the environment
        if result is None:
            return None, self._new_log_lines()
        result["init_ms"] = self.init_ms
        result["request_id"] = getattr(self, "last_request_id", None)
        self.init_ms = None
        return result, self._new_log_lines()

    def _new_log_lines(self):
        """The whole lines the environment wrote to its log since they were last asked for."""
        with self.log_lock:
            self.log.flush()
            with open(self.log_path, "rb") as f:
                f.seek(self.log_cursor)
                text = f.read()
            whole = text[:text.rfind(b"\n") + 1]
            self.log_cursor += len(whole)
            return whole.decode("utf-8", errors="replace")

    def invoke(self, event, timeout):
        """(result dict, log text); result None when the environment died or timed out."""
        if self.web:
            return self._invoke_web(event, timeout)
        import queue

        request_id = str(uuid.uuid4())
        deadline_ms = int((time.time() + timeout) * 1000)
        answers = self.runtime_api.submit(request_id, event, deadline_ms, self.function_arn)
        result = None
        waited = time.monotonic()
        # INIT and the request share the wait, as they share Lambda's timeout on a cold start.
        while result is None and time.monotonic() - waited < timeout:
            try:
                kind, body = answers.get(timeout=0.05)
            except queue.Empty:
                if self.proc.poll() is not None and answers.empty():
                    break  # the runtime exited without an answer
                continue
            try:
                answer = json.loads(body) if body else None
            except ValueError:
                answer = body.decode("utf-8", errors="replace")
            result = {kind: answer}
        self.runtime_api.forget(request_id)
        if result is not None:
            init_ended = self.runtime_api.first_next
            with self.log_lock:
                started, self.started = self.started, None
            if started is not None and init_ended is not None:
                result["init_ms"] = (init_ended - started) * 1000
            result["request_id"] = request_id
        return result, self._new_log_lines()

    def close(self):
        """Stops everything the environment started (the runtime, a server a handler script
        started, whatever they started), as Lambda freezes and discards a sandbox."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        if getattr(self, "server_proc", None) is not None:
            self.server_proc.wait()
        self.runtime_api.close()
        self.log.close()
        shutil.rmtree(self.work, ignore_errors=True)


# Environments per (function, code, configuration): an Invoke takes one with room for another
# request (one request each, or on managed instances the configured concurrency) or starts one
# (a cold start), as Lambda scales out. A configuration or code change starts fresh ones.
# LOCAL_AWS_COLD_STARTS=1 makes every Invoke cold.
_environments = {}
_environments_lock = threading.Lock()


def _close_all_environments():
    with _environments_lock:
        for pool in _environments.values():
            for environment in pool:
                environment.close()
        _environments.clear()


def _max_concurrency(function):
    """Requests one execution environment serves at once: one, or on Lambda Managed Instances
    the function's PerExecutionEnvironmentMaxConcurrency (Lambda's Python default: 16)."""
    config = (getattr(function, "capacity_provider_config", None) or {})
    managed = config.get("LambdaManagedInstancesCapacityProviderConfig") or config
    if not managed:
        return 1
    return int(managed.get("PerExecutionEnvironmentMaxConcurrency") or 16)


def _environment_variables(function):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": os.environ.get("LOCAL_AWS_URL", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # What Lambda's runtime provides (boto3), after the function's own code on sys.path.
    if os.environ.get("LOCAL_AWS_RUNTIME_SITE"):
        env["PYTHONPATH"] = os.environ["LOCAL_AWS_RUNTIME_SITE"]
    env.update({k: str(v) for k, v in (function.environment_vars or {}).items()})
    return env


def _take_environment(function, python, tenant=None):
    """(an idle warm environment of this code and configuration — and tenant, where the function
    isolates tenants: one tenant's environments never serve another —, or a new one; its key)."""
    env = _environment_variables(function)
    key = (
        tenant,
        function.function_arn,
        hashlib.sha256(function.code_bytes).hexdigest(),
        function.handler,
        python,
        json.dumps(env, sort_keys=True),
        str(function.timeout),
    )
    cold_starts = os.environ.get("LOCAL_AWS_COLD_STARTS") == "1"
    with _environments_lock:
        pool = _environments.setdefault(key, [])
        for candidate in list(pool):
            if candidate.proc.poll() is not None and candidate.in_flight == 0:
                pool.remove(candidate)
                candidate.close()
        if not cold_starts:
            for candidate in pool:
                if not candidate.broken and candidate.proc.poll() is None and candidate.in_flight < candidate.capacity:
                    candidate.in_flight += 1
                    return candidate, key
        # Started here (its processes start; INIT goes on while the request waits for it), so a
        # request arriving meanwhile shares it when it has room, as Lambda routes them.
        environment = _Environment(function, python, env)
        environment.in_flight = 1
        if not cold_starts:
            pool.append(environment)
    return environment, key


def _return_environment(environment, key, broken=False):
    """The request is done with the environment; a broken one (its runtime died, or a request
    timed out in it) takes no more and is stopped once its last request has returned it."""
    with _environments_lock:
        environment.in_flight -= 1
        environment.broken = environment.broken or broken or environment.proc.poll() is not None
        done = environment.in_flight == 0 and (environment.broken or os.environ.get("LOCAL_AWS_COLD_STARTS") == "1")
        if done:
            pool = _environments.get(key, [])
            if environment in pool:
                pool.remove(environment)
    if done:
        environment.close()


def _invoke_lambda(self, event=None):
    self.logs_backend.ensure_log_group(self.logs_group_name)
    python = shutil.which(self.run_time or "")
    if python is None:
        error = {"errorType": "Runtime.InvalidEntrypoint",
                 "errorMessage": f"no {self.run_time} interpreter on the emulator's PATH"}
        return json.dumps(error), True, error["errorMessage"]
    if isinstance(event, (bytes, str)):
        event = json.loads(event or "{}")
    tenant = getattr(_call, "tenant", None)
    _check_tenant(self, tenant)
    environment, key = _take_environment(self, python, tenant)
    result, logs = environment.invoke(event if event is not None else {}, float(self.timeout))
    if result is None:
        timed_out = environment.proc.poll() is None
        _return_environment(environment, key, broken=True)
        if timed_out:
            error = {"errorType": "Sandbox.Timedout",
                     "errorMessage": f"Task timed out after {float(self.timeout):.2f} seconds"}
            return json.dumps(error), True, logs + error["errorMessage"]
        error = {"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited"}
        return json.dumps(error), True, logs
    _return_environment(environment, key)
    # Lambda's START / END / REPORT lines ("Init Duration" only on a cold start), also written to
    # the function's CloudWatch log group as Lambda does.
    request_id = result.get("request_id") or str(uuid.uuid4())
    init = f"\tInit Duration: {result['init_ms']:.2f} ms" if result.get("init_ms") is not None else ""
    logs = (
        f"START RequestId: {request_id} Version: {self.version}\n{logs}"
        f"END RequestId: {request_id}\nREPORT RequestId: {request_id}{init}\n"
    )
    _save_logs(self, logs, request_id)
    if "raw" in result:
        return result["raw"], False, logs
    if "error" in result:
        return json.dumps(result["error"]), True, logs
    return json.dumps(result["ok"], default=str), False, logs


_moto_invoke_response = awslambda_responses.LambdaResponse.invoke


def _invoke_response(self):
    # Lambda's API names the version or alias `?Qualifier=`; moto reads only `qualifier`, so an
    # Invoke of `live` would run $LATEST.
    if "Qualifier" in self.querystring and "qualifier" not in self.querystring:
        self.querystring["qualifier"] = self.querystring["Qualifier"]
    # The tenant the call names (`X-Amz-Tenant-Id`), for the function's Invoke below.
    _call.tenant = _header(self.headers, "X-Amz-Tenant-Id")
    try:
        return _moto_invoke_response(self)
    finally:
        _call.tenant = None


# The Invoke being served on this thread: the tenant it names (moto hands the function only the
# payload).
_call = threading.local()


def _header(headers, name):
    return next((v for k, v in (headers or {}).items() if k.lower() == name.lower()), None)


def _check_tenant(function, tenant):
    """Tenant isolation as Lambda enforces it: a PER_TENANT function is invoked with a tenant id,
    any other without one."""
    from moto.awslambda.exceptions import InvalidParameterValueException

    isolated = (getattr(function, "tenancy_config", None) or {}).get("TenantIsolationMode") == "PER_TENANT"
    if isolated and not tenant:
        raise InvalidParameterValueException(
            "The function is configured for tenant isolation: the request must include a tenant id")
    if tenant and not isolated:
        raise InvalidParameterValueException(
            "The function is not configured for tenant isolation: the request must not include a tenant id")


def _save_logs(function, logs, request_id):
    """The lines of one request into the function's log group, as Lambda writes them (moto's own
    save_logs stamps events with fractional milliseconds, which CloudWatch never returns)."""
    now = int(time.time() * 1000)
    day = time.strftime("%Y/%m/%d", time.gmtime(now / 1000))
    stream = f"{day}/[{function.version}]{request_id.replace('-', '')}"
    function.logs_backend.ensure_log_group(function.logs_group_name)
    function.logs_backend.create_log_stream(function.logs_group_name, stream)
    events = [{"timestamp": now, "message": line} for line in logs.splitlines()]
    function.logs_backend.put_log_events(function.logs_group_name, stream, events)
    _publish_embedded_metrics(function, logs.splitlines())


def _publish_embedded_metrics(function, lines):
    """What CloudWatch does with a log line in Embedded Metric Format: each metric of each
    directive becomes metric data, once per dimension set (moto's logs keep the line only)."""
    backend = cloudwatch.cloudwatch_backends[function.account_id][function.region]
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue
        meta = document.get("_aws") if isinstance(document, dict) else None
        if not isinstance(meta, dict):
            continue
        timestamp = datetime.datetime.fromtimestamp(meta.get("Timestamp", time.time() * 1000) / 1000,
                                                    datetime.timezone.utc).replace(tzinfo=None)
        for directive in meta.get("CloudWatchMetrics", []):
            for dimension_set in directive.get("Dimensions") or [[]]:
                if any(name not in document for name in dimension_set):
                    continue  # CloudWatch skips a dimension set the document does not fill
                dimensions = [{"Name": name, "Value": str(document[name])} for name in dimension_set]
                for metric in directive.get("Metrics", []):
                    value = document.get(metric["Name"])
                    for one in value if isinstance(value, list) else [value]:
                        if isinstance(one, (int, float)) and not isinstance(one, bool):
                            backend.metric_data.append(cloudwatch.MetricDatum(
                                directive["Namespace"], metric["Name"], float(one), dimensions, timestamp,
                                metric.get("Unit")))


_moto_statistic = cloudwatch.Statistics.get_statistics_for_type


def _statistic(self, stat):
    """CloudWatch's percentiles (p50, p95, p99.9) of single values; moto knows only the five
    basic statistics. Nearest rank, as CloudWatch computes them for few samples."""
    match = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat or "")
    if match is None:
        return _moto_statistic(self, stat)
    values = sorted(self.metric_single_values_list)
    if not values:
        return None
    rank = math.ceil(float(match.group(1)) / 100 * len(values))
    return values[min(max(rank, 1), len(values)) - 1]


_moto_function_create = awslambda.LambdaFunction.create_from_cloudformation_json.__func__
_moto_function_update = awslambda.LambdaFunction.update_from_cloudformation_json.__func__


def _function_settings(function, properties):
    """What moto's CloudFormation leaves out of a function: its layers (the Web Adapter's, the
    ADOT layer), X-Ray tracing and architecture, as GetFunctionConfiguration then reports them."""
    if properties.get("Layers"):
        function.layers = function._get_layers_data(properties["Layers"])
    if properties.get("TracingConfig"):
        function.tracing_config = properties["TracingConfig"]
    if properties.get("Architectures"):
        function.architectures = properties["Architectures"]
    if properties.get("TenancyConfig"):
        function.tenancy_config = properties["TenancyConfig"]
    # Managed instances (moto keeps no such thing); an update without it moves the function off.
    function.capacity_provider_config = properties.get("CapacityProviderConfig")
    return function


_moto_get_configuration = awslambda.LambdaFunction.get_configuration


def _get_configuration(self, *args, **kwargs):
    """GetFunction(Configuration) with the TenancyConfig the function was created with (moto
    keeps no such thing)."""
    config = _moto_get_configuration(self, *args, **kwargs)
    if getattr(self, "tenancy_config", None):
        config["TenancyConfig"] = self.tenancy_config
    if getattr(self, "capacity_provider_config", None):
        config["CapacityProviderConfig"] = self.capacity_provider_config
    return config


def _function_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    function = _moto_function_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    return _function_settings(function, cloudformation_json["Properties"])


def _function_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    function = _moto_function_update(cls, original_resource, new_resource_name, cloudformation_json,
                                     account_id, region_name)
    return _function_settings(function, cloudformation_json["Properties"])


# Layers AWS publishes (the Lambda Web Adapter's, the ADOT layers) exist for every account; moto
# knows only the layers published into it and would refuse the function.
_AWS_LAYER_PUBLISHERS = ("753240598075", "901920570463", "615299751070")
_moto_layers_data = awslambda.LambdaFunction._get_layers_data


def _get_layers_data(self, layers_versions_arns):
    published = [a for a in layers_versions_arns if a.split(":")[4:5] and a.split(":")[4] in _AWS_LAYER_PUBLISHERS]
    own = [a for a in layers_versions_arns if a not in published]
    data = _moto_layers_data(self, own) if own else []
    return data + [{"Arn": arn, "CodeSize": 0} for arn in published]


def _log_call(headers, call):
    """One line of LOCAL_AWS_CALL_LOG, when it is kept: the caller's access key and the call."""
    log = os.environ.get("LOCAL_AWS_CALL_LOG")
    if not log:
        return
    headers = headers or {}
    authorization = headers.get("Authorization") or headers.get("authorization") or ""
    key = re.search(r"Credential=([^/]+)/", authorization)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"{key.group(1) if key else '-'}\t{call}\n")


def _logged_setup_class(original):
    """Every call's access key, service and action, appended to LOCAL_AWS_CALL_LOG: what a test
    compares `agentdeploy policy` with (who made it: the deployer's key, or a function's)."""
    def setup_class(self, request, full_url, headers, *args, **kwargs):
        result = original(self, request, full_url, headers, *args, **kwargs)
        try:
            action = self._get_action()
        except Exception:  # noqa: BLE001 - a request moto cannot name is logged as such
            action = None
        if not action and self.boto3_service_name == "s3":
            action = f"{request.method} {'object' if '/' in urllib.parse.urlparse(full_url).path.strip('/') else 'bucket'}"
        _log_call(getattr(request, "headers", None) or headers, f"{self.boto3_service_name}:{action}")
        return result

    return setup_class


def install_patches():
    if os.environ.get("LOCAL_AWS_CALL_LOG"):
        from moto.core import responses as moto_responses

        moto_responses.BaseResponse.setup_class = _logged_setup_class(moto_responses.BaseResponse.setup_class)
    cfn.Stack.parse_template = staticmethod(_parse_template)
    cfn.ChangeSet._parse_template = _change_set_parse_template
    cfn.CloudFormationBackend.execute_change_set = _execute_change_set
    cfn.CloudFormationBackend.create_change_set = _create_change_set
    cfn.CloudFormationBackend.delete_stack = _delete_stack
    cfn.Stack.parameter_list = property(_parameter_list)
    apigw.RestAPI.create_from_cloudformation_json = classmethod(_rest_api_create)
    awslambda.LambdaFunction._invoke_lambda = _invoke_lambda
    awslambda.LambdaFunction.get_configuration = _get_configuration
    s3_models.FakeBucket.update_from_cloudformation_json = classmethod(_bucket_update)
    awslambda.LambdaFunction._get_layers_data = _get_layers_data
    awslambda.LambdaFunction.create_from_cloudformation_json = classmethod(_function_create)
    awslambda.LambdaFunction.update_from_cloudformation_json = classmethod(_function_update)
    awslambda_urls.url_paths[
        r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/response-streaming-invocations$"
    ] = _invoke_with_response_stream
    cfn_parsing.ResourceMap.update = _update
    awslambda_responses.LambdaResponse.invoke = _invoke_response
    cloudwatch.Statistics.get_statistics_for_type = _statistic
    cloudwatch_urls.url_paths[
        r"{0}/service/GraniteServiceVersion20100801/operation/(?P<operation>[A-Za-z]+)$"
    ] = _cloudwatch_rpc_v2_cbor


def _event_message(event_type, payload, content_type="application/octet-stream"):
    """One message of the AWS event-stream encoding (what InvokeWithResponseStream answers)."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", content_type), (":message-type", "event")):
        headers += bytes([len(name)]) + name.encode() + b"\x07" + len(value).to_bytes(2, "big") + value.encode()
    total = 12 + len(headers) + len(payload) + 4
    prelude = total.to_bytes(4, "big") + len(headers).to_bytes(4, "big")
    prelude += zlib.crc32(prelude).to_bytes(4, "big")
    message = prelude + headers + payload
    return message + zlib.crc32(message).to_bytes(4, "big")


def _signed_region(headers):
    """The region a request was signed for (its credential scope), else the default."""
    credential = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", headers.get("Authorization", ""))
    return credential.group(1) if credential else os.environ.get("AWS_DEFAULT_REGION", "us-east-1")


def _invoke_with_response_stream(request, full_url, headers):
    """InvokeWithResponseStream, which moto lacks: the function behind the Web Adapter answers,
    and its bytes are relayed to the caller as the function's server writes them."""
    path = urllib.parse.urlparse(full_url)
    name = urllib.parse.unquote(path.path.split("/functions/", 1)[1].split("/", 1)[0])
    qualifier = urllib.parse.parse_qs(path.query).get("Qualifier", [None])[0]
    region = _signed_region(headers)
    backend = awslambda.lambda_backends[awslambda_models_account(name)][region]
    function = backend.get_function(name, qualifier)
    python = shutil.which(function.run_time or "")
    event = json.loads(request.data or b"{}")
    tenant = _header(headers, "X-Amz-Tenant-Id")
    from moto.awslambda.exceptions import InvalidParameterValueException

    try:
        _check_tenant(function, tenant)
    except InvalidParameterValueException as refused:
        return 400, {"Content-Type": "application/json",
                     "x-amzn-ErrorType": "InvalidParameterValueException"}, refused.description
    environment, key = _take_environment(function, python, tenant)

    def relay():
        returned = False
        try:
            if not environment.web:
                # A buffered function streams its whole answer as one chunk, as Lambda does.
                _return_environment(environment, key)
                returned = True
                _call.tenant = tenant
                try:
                    payload, failed, _ = function._invoke_lambda(event)
                finally:
                    _call.tenant = None
                yield _event_message("PayloadChunk", payload.encode())
                if failed:
                    # As Lambda ends the stream of a buffered function that failed.
                    try:
                        error = json.loads(payload)
                    except ValueError:
                        error = {}
                    yield _event_message("InvokeComplete", json.dumps(
                        {"ErrorCode": error.get("errorType", "Unhandled"),
                         "ErrorDetails": error.get("errorMessage", "")}).encode(), "application/json")
                    return
            else:
                for piece in environment.stream(event, float(function.timeout)):
                    if isinstance(piece, tuple):
                        if piece[1] is not None:
                            error = piece[1]
                            yield _event_message("InvokeComplete", json.dumps(
                                {"ErrorCode": error.get("errorType"),
                                 "ErrorDetails": error.get("errorMessage")}).encode(), "application/json")
                            return
                        break
                    yield _event_message("PayloadChunk", piece)
            yield _event_message("InvokeComplete", b"{}", "application/json")
        finally:
            if not returned:
                _return_environment(environment, key)

    return 200, {"Content-Type": "application/vnd.amazon.eventstream",
                 "X-Amz-Executed-Version": str(function.version)}, relay()


def awslambda_models_account(name):
    from moto.core.models import DEFAULT_ACCOUNT_ID

    return name.split(":")[4] if name.startswith("arn:") else DEFAULT_ACCOUNT_ID


def _request_of(event):
    """(method, path, headers, body) of the HTTP request the Web Adapter makes of a Lambda event:
    a Function URL or API Gateway event is that request; any other event is POSTed as it is to
    the adapter's pass-through path."""
    if isinstance(event, dict) and ("rawPath" in event or "httpMethod" in event):
        context = event.get("requestContext") or {}
        method = event.get("httpMethod") or (context.get("http") or {}).get("method", "GET")
        path = event.get("rawPath") or event.get("path") or "/"
        query = event.get("rawQueryString") or ""
        headers = dict(event.get("headers") or {})
        headers["x-amzn-request-context"] = json.dumps(context)
        body = event.get("body") or ""
        body = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        return method, path + ("?" + query if query else ""), headers, body
    return "POST", "/events", {"content-type": "application/json"}, json.dumps(event).encode()


def _cloudwatch_rpc_v2_cbor(request, full_url, headers):
    """CloudWatch in the RPC v2 CBOR protocol, which the AWS SDKs speak to it now and moto does
    not (moto reads the query protocol): the request decoded, moto's backend asked, the answer
    encoded as CloudWatch encodes it. The operations agentdeploy calls."""
    import cbor2
    from moto.core.models import DEFAULT_ACCOUNT_ID

    operation = urllib.parse.urlparse(full_url).path.rstrip("/").rsplit("/", 1)[-1]
    _log_call(headers, f"cloudwatch:{operation}")
    params = cbor2.loads(request.data) if request.data else {}
    region = _signed_region(headers)
    backend = cloudwatch.cloudwatch_backends[DEFAULT_ACCOUNT_ID][region]
    cbor_headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}

    def naive(moment):
        return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment

    def aware(moment):
        return moment.replace(tzinfo=datetime.timezone.utc) if moment.tzinfo is None else moment

    try:
        if operation == "GetMetricData":
            results = backend.get_metric_data(
                queries=params.get("MetricDataQueries", []), start_time=naive(params["StartTime"]),
                end_time=naive(params["EndTime"]), scan_by=params.get("ScanBy") or "TimestampDescending")
            answer = {"MetricDataResults": [
                {"Id": r["id"], "Label": r["label"], "StatusCode": r["status_code"],
                 "Values": [float(v) for v in r["values"]], "Timestamps": [aware(t) for t in r["timestamps"]]}
                for r in results], "Messages": []}
        elif operation == "ListMetrics":
            token, found = backend.list_metrics(params.get("NextToken"), params.get("Namespace"),
                                                params.get("MetricName"), params.get("Dimensions", []))
            answer = {"Metrics": [{"Namespace": m.namespace, "MetricName": m.name,
                                   "Dimensions": [{"Name": d.name, "Value": d.value} for d in m.dimensions]}
                                  for m in found]}
            if token:
                answer["NextToken"] = token
        elif operation == "DescribeAlarms":
            names = params.get("AlarmNames") or []
            alarms = backend.get_alarms_by_alarm_names(names) if names else backend.describe_alarms()
            answer = {"MetricAlarms": [{
                "AlarmName": a.name, "AlarmArn": a.alarm_arn, "StateValue": a.state_value,
                "StateReason": a.state_reason, "Threshold": float(a.threshold) if a.threshold is not None else None,
                "AlarmActions": list(a.alarm_actions or []),
            } for a in alarms if a.rule is None], "CompositeAlarms": []}
            for alarm in answer["MetricAlarms"]:
                if alarm["Threshold"] is None:
                    del alarm["Threshold"]
        else:
            return 400, cbor_headers, cbor2.dumps({"__type": "UnknownOperationException",
                                                   "message": f"the local AWS has no CloudWatch {operation}"})
    except Exception as err:  # moto's validation errors, as CloudWatch's
        return 400, cbor_headers, cbor2.dumps({"__type": getattr(err, "error_type", "InvalidParameterValue"),
                                               "message": str(err)})
    return 200, cbor_headers, cbor2.dumps(answer, datetime_as_timestamp=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--bucket", action="append", default=[], help="S3 bucket to create (repeatable)")
    parser.add_argument(
        "--until-signalled",
        action="store_true",
        help="serve until SIGTERM / SIGINT only (run by hand or from a script, whose stdin may be closed)",
    )
    args = parser.parse_args()

    install_patches()
    port = args.port or _free_port()
    url = f"http://localhost:{port}"
    os.environ["LOCAL_AWS_URL"] = url
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()

    import boto3

    s3 = boto3.client("s3", endpoint_url=url, region_name=os.environ["AWS_DEFAULT_REGION"])
    for bucket in args.bucket:
        s3.create_bucket(Bucket=bucket)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def watch_stdin():
        # The parent (a test) closing our stdin, or dying, stops the server.
        try:
            while sys.stdin.read(1):
                pass
        except (OSError, ValueError):
            pass
        stop.set()

    if not args.until_signalled and not sys.stdin.isatty():
        threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"LOCAL_AWS_READY {url}", flush=True)
    stop.wait()
    _close_all_environments()
    server.stop()


if __name__ == "__main__":
    main()
