"""What the MCP client tests share: a check that stops at the first failure, and a tool
result's text as JSON."""

import json
import sys


def check(cond, what, detail=""):
    if not cond:
        sys.exit(f"FAILED: {what}\n{detail}")
    print(f"ok: {what}")


def body(result):
    text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    return json.loads(text) if text.startswith("{") else {"text": text}
