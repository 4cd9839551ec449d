"""A real MCP client (the official `mcp` SDK) driving `tollgate mcp` over stdio.

Run as `mcp_client.py PATH_TO_TOLLGATE` with TOLLGATE_URL and TOLLGATE_TOKEN set (the Rust
test `agent_tools.rs` starts the local stack and does this). Exits non-zero on the first
failed check; prints "mcp client: all checks passed" at the end.
"""

import asyncio
import json
import os
import sys

from mcp_checks import body, check
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


async def main(binary):
    env = {k: os.environ[k] for k in ("TOLLGATE_URL", "TOLLGATE_TOKEN", "PATH", "HOME") if k in os.environ}
    params = StdioServerParameters(command=binary, args=["mcp", "--wait-seconds", "3"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(init.server_info.name == "tollgate", "server names itself", init.server_info)
            check("approve" in (init.instructions or ""), "instructions explain approvals", init.instructions)

            tools = {t.name: t for t in (await session.list_tools()).tools}
            expected = {"aws_call", "request_status", "list_my_requests", "cancel_request", "explain_call"}
            check(expected <= set(tools), "all tools listed", sorted(tools))
            check("human" in tools["aws_call"].description, "aws_call says writes may wait for a human")
            schema = tools["aws_call"].input_schema
            check(schema.get("required") == ["action"], "aws_call requires only action", schema)

            # An allowed read runs at once.
            r = await session.call_tool("aws_call", {"action": "dynamodb:ListTables", "params": {}})
            b = body(r)
            check(not r.is_error and b["status"] == "SUCCEEDED", "allowed read succeeds", b)
            check("scratch" in b["result"]["TableNames"], "read returns the AWS result", b)

            # Planning a write: access level, decision and required parameters.
            r = await session.call_tool("explain_call", {"action": "dynamodb:DeleteTable", "params": {"TableName": "scratch"}})
            b = body(r)
            check(not r.is_error, "explain_call answers", b)
            check(b["access"][0]["access_level"] == "Write", "access level from the catalog", b)
            check(b["outcome"] == "approval" and b["approvals_required"] == 1, "policy says approval", b)
            check(b["parameters"]["required"] == ["TableName"], "required parameters from the model", b)
            check([p["field"] for p in b["problems"]] == ["reason"], "explains that approvals need a reason", b)
            # Under its old name too (describe_action, before the dry run had one name).
            r = await session.call_tool("describe_action", {"action": "dynamodb:DeleteTable"})
            b = body(r)
            check(not r.is_error and "params.TableName" in [p["field"] for p in b["problems"]], "names missing parameters", b)

            # A write that needs approval comes back pending with its page, after the wait.
            r = await session.call_tool("aws_call", {"action": "dynamodb:DeleteTable", "params": {"TableName": "scratch"}, "reason": "MCP test"})
            b = body(r)
            check(not r.is_error and b["status"] == "PENDING", "write is pending", b)
            check(b["action"] == "dynamodb:DeleteTable" and b["reason"], "after waiting, the answer is the request as it stands", b)
            check(b["status_url"].endswith("/v1/requests/" + b["id"]), "pending answer links the request status", b)
            check(b["ask_again"] == {"tool": "request_status", "arguments": {"id": b["id"], "wait_seconds": 20}}, "pending answer says how to ask again", b)
            check("/v1/approvals/" + b["id"] + "?k=" in b["approval_page"], "pending answer carries the approval page", b)
            check(b["waiting_for"]["approvals_required"] == 1, "pending answer says what it waits for", b)
            pending_id = b["id"]

            r = await session.call_tool("request_status", {"id": pending_id, "wait_seconds": 1})
            check(body(r)["status"] == "PENDING", "request_status follows it", body(r))
            r = await session.call_tool("list_my_requests", {"status": "pending"})
            check([x["id"] for x in body(r)["requests"]] == [pending_id], "list_my_requests finds it", body(r))

            # A second pending write, cancelled through the tool.
            r = await session.call_tool("aws_call", {"action": "dynamodb:DeleteTable", "params": {"TableName": "scratch"}, "reason": "to cancel", "wait_seconds": 0})
            other = body(r)["id"]
            r = await session.call_tool("cancel_request", {"id": other})
            check(not r.is_error and body(r)["status"] == "CANCELLED", "cancel_request cancels", body(r))

            # Refusals are tool errors carrying the API's message.
            r = await session.call_tool("aws_call", {"action": "dynamodb:DeleteTable", "params": {"TableName": "scratch"}})
            check(r.is_error and "reason" in body(r)["error"], "missing reason is a tool error", body(r))
            r = await session.call_tool("aws_call", {"action": "cloudtrail:StopLogging", "params": {"Name": "t"}, "reason": "x"})
            check(r.is_error and body(r)["code"] == "denied", "denied call is a tool error", body(r))
            r = await session.call_tool("request_status", {"id": "01NOSUCHREQUEST"})
            check(r.is_error and body(r)["code"] == "not_found", "unknown id is a tool error", body(r))
    print("mcp client: all checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
