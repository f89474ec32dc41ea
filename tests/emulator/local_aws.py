"""A local AWS for agentdeploy: moto in-process, with the real SAM transform and moto's gaps filled.

Run with the tool virtualenv's Python (it has moto and aws-sam-translator):

    ~/.cache/agentdeploy-tools/venv/bin/python tests/emulator/local_aws.py [--port N] [--bucket NAME]

It prints one line `LOCAL_AWS_READY http://localhost:PORT` on stdout when it answers, then serves
until stdin closes or it gets SIGTERM / SIGINT. Point every client at that URL (`localhost`, not
`127.0.0.1`: moto finds a change set's template bucket in the URL path only for `localhost`).

What it adds to moto 5.2 (docs/testing.md explains each):
- `AWS::Serverless-2016-10-31` templates are transformed with samtranslator before moto reads them,
  for stacks and change sets alike.
- `AWS::ApiGateway::RestApi` gets a default Name and the resources, methods and integrations of its
  OpenAPI Body; `Stage`, `ApiKey`, `UsagePlan`, `UsagePlanKey` and `AWS::Lambda::Url` are modelled.
- Executing a change set rebuilds the stack's outputs from the template it applied.
- Stack operations (create/execute change set, delete stack) run one at a time, so concurrent
  deploys do not race in moto's shared tables.
- Lambda Invoke runs the function's real handler from its uploaded zip with the Python of its
  runtime (`python3.13` on PATH for python3.13), with the function's environment variables and
  timeout, and `LOCAL_AWS_RUNTIME_SITE` (boto3, as Lambda's runtime provides) on PYTHONPATH.
  No Docker.
"""

import argparse
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
import zipfile

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

from moto.apigateway import models as apigw  # noqa: E402
from moto.awslambda import models as awslambda  # noqa: E402
from moto.cloudformation import models as cfn  # noqa: E402
from moto.core.common_models import CloudFormationModel  # noqa: E402
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


def _apply_sam_transform(template):
    if not isinstance(template, dict):
        return template
    transforms = template.get("Transform")
    names = transforms if isinstance(transforms, list) else [transforms]
    if SAM_TRANSFORM not in names:
        return template
    return sam_transform(template, {}, _PolicyLoader())


_moto_parse_template = cfn.Stack.parse_template


def _parse_template(template):
    return _apply_sam_transform(_moto_parse_template(template))


def _change_set_parse_template(self):
    self.template_dict = _parse_template(self.template)


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


def _delete_stack(self, *args, **kwargs):
    with _cfn_lock:
        return _moto_delete_stack(self, *args, **kwargs)


def _execute_change_set(self, change_set_name, stack_name=None):
    with _cfn_lock:
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
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass


# --- Lambda Invoke without Docker --------------------------------------------------------------

_BOOTSTRAP = r"""
import importlib, json, sys, traceback
sys.path.insert(0, sys.argv[1])
module_name, function_name = sys.argv[2].rsplit(".", 1)
with open(sys.argv[3]) as f:
    event = json.load(f)
class Context:
    function_name = sys.argv[5]
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    def get_remaining_time_in_millis(self):
        return 60000
try:
    handler = getattr(importlib.import_module(module_name), function_name)
    result = {"ok": handler(event, Context())}
except Exception as err:
    traceback.print_exc()
    result = {"error": {"errorMessage": str(err), "errorType": type(err).__name__,
                        "stackTrace": traceback.format_tb(err.__traceback__)}}
with open(sys.argv[4], "w") as f:
    json.dump(result, f)
"""


def _invoke_lambda(self, event=None):
    self.logs_backend.ensure_log_group(self.logs_group_name)
    python = shutil.which(self.run_time or "")
    if python is None:
        error = {"errorType": "Runtime.InvalidEntrypoint",
                 "errorMessage": f"no {self.run_time} interpreter on the emulator's PATH"}
        return json.dumps(error), True, error["errorMessage"]
    if isinstance(event, (bytes, str)):
        event = json.loads(event or "{}")
    with tempfile.TemporaryDirectory(prefix="local-aws-lambda-") as work:
        task = os.path.join(work, "task")
        with zipfile.ZipFile(io.BytesIO(self.code_bytes)) as archive:
            archive.extractall(task)
        event_path, result_path = os.path.join(work, "event.json"), os.path.join(work, "result.json")
        with open(event_path, "w") as f:
            json.dump(event if event is not None else {}, f)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LANG": "C.UTF-8",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.run_time}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": os.environ.get("LOCAL_AWS_URL", ""),
            "LAMBDA_TASK_ROOT": task,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        # What Lambda's runtime provides (boto3), after the function's own code on sys.path.
        if os.environ.get("LOCAL_AWS_RUNTIME_SITE"):
            env["PYTHONPATH"] = os.environ["LOCAL_AWS_RUNTIME_SITE"]
        env.update({k: str(v) for k, v in (self.environment_vars or {}).items()})
        argv = [python, "-c", _BOOTSTRAP, task, self.handler, event_path, result_path, self.function_name]
        try:
            proc = subprocess.run(argv, env=env, cwd=task, capture_output=True, text=True, timeout=float(self.timeout))
        except subprocess.TimeoutExpired as err:
            logs = (err.stderr or "") if isinstance(err.stderr, str) else ""
            error = {"errorType": "Sandbox.Timedout",
                     "errorMessage": f"Task timed out after {float(self.timeout):.2f} seconds"}
            return json.dumps(error), True, logs + error["errorMessage"]
        logs = proc.stdout + proc.stderr
        if not os.path.exists(result_path):
            error = {"errorType": "Runtime.ExitError", "errorMessage": f"the runtime exited with {proc.returncode}"}
            return json.dumps(error), True, logs
        with open(result_path) as f:
            result = json.load(f)
    if "error" in result:
        return json.dumps(result["error"]), True, logs
    return json.dumps(result["ok"]), False, logs


def install_patches():
    cfn.Stack.parse_template = staticmethod(_parse_template)
    cfn.ChangeSet._parse_template = _change_set_parse_template
    cfn.CloudFormationBackend.execute_change_set = _execute_change_set
    cfn.CloudFormationBackend.create_change_set = _create_change_set
    cfn.CloudFormationBackend.delete_stack = _delete_stack
    apigw.RestAPI.create_from_cloudformation_json = classmethod(_rest_api_create)
    awslambda.LambdaFunction._invoke_lambda = _invoke_lambda


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--bucket", action="append", default=[], help="S3 bucket to create (repeatable)")
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

    if not sys.stdin.isatty():
        threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"LOCAL_AWS_READY {url}", flush=True)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
