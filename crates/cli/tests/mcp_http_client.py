"""A hosted-style MCP client (the official `mcp` SDK) against Tollgate's `/mcp` over HTTP.

It starts with no token, as a hosted assistant does: the 401's WWW-Authenticate leads it to
the protected-resource metadata, then the dev issuer's authorization-server metadata, dynamic
registration, the authorization page (where the "person" picks an agent), and the token.
Then: tools, an allowed read, a held write (pending answer, status, cancel) on a
handshake-era session, and a held write that completes through a task after an approval on
a 2026-07-28 session with the tasks extension (the SDK has no tasks client: the extension is
written here with the SDK's own ClientExtension hooks).

Run as `mcp_http_client.py` with TOLLGATE_URL and TOLLGATE_APPROVER_TOKEN set (the Rust test
`agent_tools.rs` starts the local stack and does this). Exits non-zero on the first failed
check; prints "mcp http client: all checks passed" at the end.
"""

import asyncio
import html
import json
import os
import re
import sys
from typing import Any, Literal
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp import Client
from mcp_checks import body, check
from mcp.client.auth import OAuthClientProvider
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp_types import CallToolResult, Request, RequestParams, Result, TextContent
from pydantic import Field

API = os.environ["TOLLGATE_URL"]
MCP = f"{API}/mcp"
APPROVER = os.environ["TOLLGATE_APPROVER_TOKEN"]
REDIRECT = "http://127.0.0.1:9/callback"


class Storage:
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Person:
    """The human in the browser: opens the authorization URL and picks an agent."""

    def __init__(self):
        self.result = None
        self.pages = []

    async def open(self, url: str) -> None:
        self.pages.append(url)
        async with httpx2.AsyncClient(follow_redirects=False) as http:
            page = await http.get(url)
            check(page.status_code == 200, "the authorization page opens", page.text[:500])
            check("claude" in page.text, "it offers agent identities", page.text[:500])
            action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
            fields = {html.unescape(k): html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
            fields["user"] = "claude"
            back = await http.post(action, data=fields)
            check(back.status_code == 303, "picking an agent redirects back", back.text)
            location = back.headers["location"]
            check(location.startswith(REDIRECT), "to the registered redirect URI", location)
            q = parse_qs(urlparse(location).query)
            self.result = AuthorizationCodeResult(code=q["code"][0], state=q["state"][0], iss=q.get("iss", [None])[0])

    async def callback(self) -> AuthorizationCodeResult:
        return self.result


# The tasks extension (io.modelcontextprotocol/tasks), client side.
class CreateTaskResult(Result):
    result_type: Literal["task"] = "task"
    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None


class TaskParams(RequestParams):
    task_id: str = Field(alias="taskId")


class GetTask(Request[TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class CancelTask(Request[TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class TaskState(Result):
    result_type: str | None = None
    task_id: str
    status: str
    status_message: str | None = None
    poll_interval_ms: int | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class Tasks(ClientExtension):
    identifier = "io.modelcontextprotocol/tasks"

    def __init__(self):
        self.created = []
        self.messages = []
        self.session = None

    def claims(self):
        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=self.resolve)]

    async def resolve(self, created: CreateTaskResult, ctx: ClaimContext) -> CallToolResult:
        self.created.append(created)
        self.session = ctx.session
        while True:
            t = await ctx.session.send_request(GetTask(params=TaskParams(taskId=created.task_id)), TaskState)
            if not self.messages or self.messages[-1] != t.status_message:
                self.messages.append(t.status_message)
            if t.status == "completed":
                return CallToolResult.model_validate(t.result)
            if t.status in ("failed", "cancelled"):
                return CallToolResult(content=[TextContent(type="text", text=t.status)], is_error=True)
            # The server suggests 5 s; a test approves at once and need not wait that long.
            await asyncio.sleep(min((t.poll_interval_ms or 1000) / 1000, 0.3))


async def approver(method, path, **kw):
    async with httpx2.AsyncClient() as http:
        return await http.request(method, f"{API}{path}", headers={"authorization": f"Bearer {APPROVER}"}, **kw)


async def pending_ids():
    r = await approver("GET", "/v1/requests?status=pending")
    return [x["id"] for x in r.json()["requests"]]


async def main():
    # Before anything: what a client with no token meets.
    async with httpx2.AsyncClient() as http:
        r = await http.post(MCP, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"accept": "application/json, text/event-stream"})
        check(r.status_code == 401, "no token: 401", r.text)
        challenge = r.headers.get("www-authenticate", "")
        check(challenge.startswith('Bearer resource_metadata="') and "error=" not in challenge,
              "the challenge points at the resource metadata", challenge)
        meta_url = re.search(r'resource_metadata="([^"]+)"', challenge).group(1)
        prm = (await http.get(meta_url)).json()
        check(prm["resource"] == MCP and prm["authorization_servers"] == [f"{API}/dev-idp"], "resource metadata names the agent issuer", prm)
        r = await http.post(MCP, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"authorization": "Bearer not.a.token", "accept": "application/json"})
        check(r.status_code == 401 and 'error="invalid_token"' in r.headers.get("www-authenticate", ""), "a bad token: invalid_token", r.headers)

    person = Person()
    storage = Storage()
    auth = OAuthClientProvider(
        server_url=MCP,
        client_metadata=OAuthClientMetadata(
            client_name="tollgate test client", redirect_uris=[REDIRECT],
            grant_types=["authorization_code"], response_types=["code"], token_endpoint_auth_method="none",
        ),
        storage=storage, redirect_handler=person.open, callback_handler=person.callback,
    )
    http = httpx2.AsyncClient(auth=auth, timeout=60)

    # A handshake-era session (2025-11-25): no tasks, a held call answers PENDING.
    async with Client(streamable_http_client(MCP, http_client=http), mode="legacy") as client:
        check(storage.client is not None and storage.client.client_id.startswith("dyn-"), "registered dynamically", storage.client)
        check(storage.tokens is not None and storage.tokens.access_token.count(".") == 2, "got an agent access token", storage.tokens)
        check(len(person.pages) == 1 and "resource=" in person.pages[0], "signed in once, for this resource", person.pages)
        check(client.session.protocol_version == "2025-11-25", "handshake era negotiated", client.session.protocol_version)
        check("approve" in (client.session.instructions or ""), "instructions explain approvals")
        tools = {t.name: t for t in (await client.list_tools()).tools}
        check(set(tools) == {"aws_call", "aws_plan", "request_status", "list_my_requests", "cancel_request", "explain_call"}, "all tools listed", sorted(tools))
        check("request_status" in tools["aws_call"].description, "aws_call says how to follow a held call")

        r = await client.call_tool("aws_call", {"action": "dynamodb:ListTables", "params": {}})
        b = body(r)
        check(not r.is_error and b["status"] == "SUCCEEDED" and "scratch" in b["result"]["TableNames"], "allowed read returns the AWS result", b)

        progress = []

        async def on_progress(p, total, message):
            progress.append((p, total, message))

        r = await client.call_tool("aws_call", {"action": "dynamodb:DeleteTable", "params": {"TableName": "scratch"},
                                                "reason": "MCP over HTTP", "wait_seconds": 1}, progress_callback=on_progress)
        b = body(r)
        check(not r.is_error and b["status"] == "PENDING", "held write answers PENDING", b)
        check(b["action"] == "dynamodb:DeleteTable" and b["reason"], "after waiting, the answer is the request as it stands", b)
        check(b["ask_again"]["arguments"] == {"id": b["id"], "wait_seconds": 20}, "and how to ask again", b)
        check(b["waiting_for"]["approvals_required"] == 1 and "/v1/approvals/" in b["approval_page"], "what it waits for, the approval page", b)
        check(progress and progress[0][2] == "waiting for approval: 0 of 1", "progress reported while it waited", progress)
        held = b["id"]
        r = await client.call_tool("request_status", {"id": held, "wait_seconds": 1})
        check(body(r)["status"] == "PENDING", "request_status follows it", body(r))
        r = await client.call_tool("list_my_requests", {"status": "pending"})
        check([x["id"] for x in body(r)["requests"]] == [held], "list_my_requests finds it", body(r))
        r = await client.call_tool("cancel_request", {"id": held})
        check(not r.is_error and body(r)["status"] == "CANCELLED", "cancel_request cancels", body(r))
        r = await client.call_tool("aws_call", {"action": "cloudtrail:StopLogging", "params": {"Name": "t"}, "reason": "x"})
        check(r.is_error and body(r)["code"] == "denied", "denied call is a tool error", body(r))

    # A 2026-07-28 session with the tasks extension: the held call is a task that completes
    # once an approver approves.
    tasks = Tasks()
    async with Client(streamable_http_client(MCP, http_client=http), extensions=[tasks]) as client:
        check(client.session.protocol_version == "2026-07-28", "per-request era negotiated", client.session.protocol_version)
        check(len(person.pages) == 1, "the stored token is reused: no second sign-in", person.pages)
        call = asyncio.create_task(client.call_tool("aws_call", {"action": "dynamodb:DeleteTable", "params": {"TableName": "scratch"}, "reason": "task test"}))
        for _ in range(200):
            ids = await pending_ids()
            if ids:
                break
            await asyncio.sleep(0.1)
        check(len(ids) == 1, "the task's request waits for an approver", ids)
        for _ in range(200):
            if tasks.created:
                break
            await asyncio.sleep(0.05)
        check(tasks.created and tasks.created[0].task_id == ids[0] and tasks.created[0].status == "working", "aws_call returned a task at once", tasks.created)
        r = await approver("POST", f"/v1/requests/{ids[0]}/approve", json={"comment": "ok"})
        check(r.status_code == 200, "approved", r.text)
        result = await asyncio.wait_for(call, 60)
        b = body(result)
        check(not result.is_error and b["status"] == "SUCCEEDED" and b["id"] == ids[0], "the task completed with the AWS result", b)
        check(tasks.messages[0] == "waiting for approval: 0 of 1" and tasks.messages[-1] == "succeeded", "status messages followed the votes", tasks.messages)

        # Another agent's or an unknown task looks the same: not found.
        try:
            await client.session.send_request(GetTask(params=TaskParams(taskId="01NOSUCHTASK")), TaskState)
            check(False, "unknown task is an error")
        except Exception as e:
            check("Failed to retrieve task" in str(e), "unknown task is an error", e)

        # A held task cancelled with tasks/cancel.
        call = asyncio.create_task(client.call_tool("aws_call", {"action": "dynamodb:DeleteTable", "params": {"TableName": "keep"}, "reason": "to cancel"}))
        while len(tasks.created) < 2:
            await asyncio.sleep(0.05)
        await client.session.send_request(CancelTask(params=TaskParams(taskId=tasks.created[1].task_id)), Result)
        result = await asyncio.wait_for(call, 60)
        check(result.is_error and body(result).get("text") == "cancelled", "tasks/cancel withdraws the request", body(result))

    # The transport's own rules, with the token the flow obtained.
    token = storage.tokens.access_token
    headers = {"authorization": f"Bearer {token}", "accept": "application/json, text/event-stream"}
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
    async with httpx2.AsyncClient() as raw:
        r = await raw.get(MCP, headers=headers)
        check(r.status_code == 405 and r.headers.get("allow") == "POST", "GET /mcp: 405 (no server stream)", r.status_code)
        msg = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "aws_call", "arguments": {"action": "s3:ListBuckets"}, "_meta": meta}}
        r = await raw.post(MCP, json=msg, headers={**headers, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "explain_call"})
        check(r.status_code == 400 and r.json()["error"]["code"] == -32020, "Mcp-Name must match the body", r.text)
        r = await raw.post(MCP, json={**msg, "params": {**msg["params"], "_meta": {**meta, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}}},
                           headers={**headers, "mcp-protocol-version": "2099-01-01", "mcp-method": "tools/call", "mcp-name": "aws_call"})
        check(r.status_code == 400 and r.json()["error"]["code"] == -32022 and "2026-07-28" in r.json()["error"]["data"]["supported"], "unknown versions are named", r.text)
        r = await raw.post(MCP, json={"jsonrpc": "2.0", "id": 8, "method": "tasks/get", "params": {"taskId": tasks.created[0].task_id, "_meta": meta}},
                           headers={**headers, "mcp-protocol-version": "2026-07-28", "mcp-method": "tasks/get", "mcp-name": tasks.created[0].task_id})
        check(r.status_code == 400 and r.json()["error"]["code"] == -32021, "tasks/get needs the tasks extension declared", r.text)
        r = await raw.post(MCP, json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, headers={**headers, "origin": "https://evil.example"})
        check(r.status_code == 403, "another site's Origin is refused", r.text)
    await http.aclose()
    print("mcp http client: all checks passed")


if __name__ == "__main__":
    asyncio.run(main())
