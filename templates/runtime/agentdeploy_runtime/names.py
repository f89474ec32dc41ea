"""The names agentdeploy and this runtime share, read from the one file both read: names.json
beside this module (agentdeploy's build turns the same file into its Rust constants)."""

import json
import os

with open(os.path.join(os.path.dirname(__file__), "names.json"), encoding="utf-8") as _file:
    _NAMES = json.load(_file)

# The function's variable naming the bucket conversations are kept in (`--conversation session`).
SESSION_BUCKET_VARIABLE = _NAMES["session_bucket_variable"]
# Set by `agentdeploy dev` instead: the local folder conversations are kept in, same documents.
SESSION_DIR_VARIABLE = _NAMES["session_dir_variable"]
# The function's variable naming the SSM parameter that holds the stack's origin secret.
ORIGIN_VARIABLE = _NAMES["origin_variable"]
# The API Gateway stage variable that carries the origin secret into every event.
ORIGIN_STAGE_VARIABLE = _NAMES["origin_stage_variable"]
# The function's variable mapping secret names to SSM parameters (`--secrets-store ssm`).
SSM_SECRETS_VARIABLE = _NAMES["ssm_secrets_variable"]
# A request body above this many bytes is refused before parsing; the variable overrides it.
MAX_BODY_BYTES_VARIABLE = _NAMES["max_body_bytes_variable"]
MAX_BODY_BYTES = _NAMES["max_body_bytes"]


def max_body_bytes():
    """The body limit this process enforces: the variable's, else the default."""
    return int(os.environ.get(MAX_BODY_BYTES_VARIABLE, MAX_BODY_BYTES))
