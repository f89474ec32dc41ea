"""What a request says, whichever way it came: a direct Lambda Invoke (a JSON object, or a bare
string), an API Gateway REST event, or a Function URL event (its body possibly base64)."""

import base64
import binascii
import json

INPUT_KEYS = ("input", "prompt", "user_input")
DATA_KEYS = ("data", "input_data")


class BadRequest(Exception):
    pass


def is_http(event):
    return isinstance(event, dict) and (
        "requestContext" in event or "httpMethod" in event or "routeKey" in event or "rawPath" in event
    )


def payload(event, max_body_bytes):
    """The request's JSON payload (the event itself for a direct Invoke)."""
    if not is_http(event):
        return event
    body = event.get("body")
    if body is None or body == "":
        raise BadRequest("the request body is empty; send JSON like {\"input\": \"...\"}")
    if isinstance(body, (dict, list)):
        return body
    if not isinstance(body, str):
        raise BadRequest("the request body is not JSON text")
    if len(body) > max_body_bytes * 4 // 3 + 4:
        raise BadRequest("the request body is too large")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("the request body is not valid base64") from None
    else:
        raw = body.encode("utf-8")
    return parse_json(raw, max_body_bytes)


def parse_json(raw, max_body_bytes):
    """A request body's JSON (bytes), refused when larger than `max_body_bytes` or not JSON."""
    if len(raw) > max_body_bytes:
        raise BadRequest("the request body is too large")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the request body is not valid JSON") from None
    except RecursionError:
        raise BadRequest("the request body is nested too deeply") from None


def fields(request, text_allowed):
    """(input, data) from a payload; a direct Invoke may send the input as a bare string. A
    request that answers interrupts (`interrupt_responses`) needs no input."""
    if text_allowed and isinstance(request, str):
        return request, None
    if not isinstance(request, dict):
        raise BadRequest("the request must be a JSON object like {\"input\": \"...\"}")
    user_input = next((request[key] for key in INPUT_KEYS if key in request), None)
    if user_input is None and "interrupt_responses" in request:
        return None, next((request[key] for key in DATA_KEYS if key in request), None)
    if user_input is None:
        raise BadRequest("missing \"input\" (or \"prompt\" / \"user_input\"): a string for the agent")
    if not isinstance(user_input, str):
        raise BadRequest("\"input\" must be a string")
    input_data = next((request[key] for key in DATA_KEYS if key in request), None)
    return user_input, input_data


def interrupt_responses(request):
    """A person's answers to the interrupts an Agent stopped on, as Strands takes them:
    `{"interrupt_responses": [{"interrupt_id": ID, "response": ANY}, ...]}` → the content blocks
    that resume it; None when the request answers none."""
    if not isinstance(request, dict) or "interrupt_responses" not in request:
        return None
    given = request["interrupt_responses"]
    if not isinstance(given, list) or not given:
        raise BadRequest("\"interrupt_responses\" must be a list of {\"interrupt_id\", \"response\"}")
    blocks = []
    for item in given:
        interrupt_id = item.get("interrupt_id") if isinstance(item, dict) else None
        if not isinstance(interrupt_id, str) or not interrupt_id or "response" not in item:
            raise BadRequest("each interrupt response needs \"interrupt_id\" (a string) and \"response\"")
        blocks.append({"interruptResponse": {"interruptId": interrupt_id, "response": item["response"]}})
    return blocks


def jsonable(value):
    # Results that JSON cannot carry (an AgentResult, a datetime, ...) become their str().
    return json.loads(dumps(value))


def dumps(value, ensure_ascii=True):
    """JSON every parser reads: what JSON cannot carry becomes its str(), NaN and the infinities
    become null, and a lone surrogate in a string becomes U+FFFD (a pair is its character)."""
    try:
        text = json.dumps(value, default=str, allow_nan=False, ensure_ascii=False)
    except ValueError:
        text = json.dumps(_finite(value), default=str, allow_nan=False, ensure_ascii=False)
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return json.dumps(json.loads(text)) if ensure_ascii else text


def _finite(value):
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def http_response(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "isBase64Encoded": False,
        "body": dumps(body),
    }
