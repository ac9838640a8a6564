"""A real MCP client (the Python MCP SDK, `mcp.client.stdio` or `mcp.client.streamable_http`)
that runs a plan of steps against a server started by command, or at a streamable HTTP URL,
and prints what it saw as one JSON object.

    python client.py PLAN.json -- COMMAND [ARGS...]
    python client.py PLAN.json --url URL

The plan is a JSON list of steps; each result is in "steps", in order. The Rust tests
(sentinel-cli/tests/live_mcp_gate.rs) write plans and assert on the results, so that the
same plan can be run through the gate and directly against the upstream, and compared.
"""

import asyncio
import json
import re
import sys
import urllib.request

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def tool_result(result):
    wire = dump(result)
    return {
        "isError": bool(wire.get("isError")),
        "text": [block["text"] for block in wire.get("content", []) if block.get("type") == "text"],
        "structured": wire.get("structuredContent"),
    }


def error_of(exc):
    if isinstance(exc, MCPError):
        return {"error": {"code": exc.error.code, "message": exc.error.message}}
    return {"error": {"code": None, "message": f"{type(exc).__name__}: {exc}"}}


def fill(value, i):
    if isinstance(value, str):
        return value.replace("{i}", str(i))
    if isinstance(value, dict):
        return {k: fill(v, i) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, i) for v in value]
    return value


def dump(model):
    return json.loads(model.model_dump_json(by_alias=True, exclude_none=True))


async def call(session, step):
    try:
        return tool_result(await session.call_tool(step["name"], step.get("args")))
    except Exception as exc:  # noqa: BLE001 - what the client saw is the result
        return error_of(exc)


async def run_step(session, step, results):
    op = step["op"]
    try:
        if op == "list_tools":
            listed = await session.list_tools()
            return {"tools": [tool.name for tool in listed.tools]}
        if op == "call":
            return await call(session, step)
        if op == "calls":
            steps = [{"name": step["name"], "args": fill(step.get("args"), i)} for i in range(step["n"])]
            return {"results": await asyncio.gather(*(call(session, s) for s in steps))}
        if op == "approve":
            text = " ".join(results[step["escalation_of"]]["text"])
            found = re.search(r"escalation ([^)\s]+)\)", text)
            if not found:
                return {"error": {"code": None, "message": f"no escalation id in {text!r}"}}
            escalation = found.group(1)
            body = json.dumps({"decision": "approve", "approver": step["approver"]}).encode()
            request = urllib.request.Request(
                f"{step['endpoint']}/v1/escalations/{escalation}/resolve",
                data=body,
                headers={"content-type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                return {"escalation": escalation, "status": response.status}
        if op == "ping":
            await session.send_ping()
            return {"ok": True}
        if op == "list_resources":
            return dump(await session.list_resources())
        if op == "read_resource":
            return dump(await session.read_resource(step["uri"]))
        if op == "list_prompts":
            return dump(await session.list_prompts())
        if op == "get_prompt":
            return dump(await session.get_prompt(step["name"], step.get("args")))
        return {"error": {"code": None, "message": f"unknown step {op}"}}
    except Exception as exc:  # noqa: BLE001
        return error_of(exc)


async def main():
    plan_path = sys.argv[1]
    if sys.argv[2] == "--":
        transport = stdio_client(StdioServerParameters(command=sys.argv[3], args=sys.argv[4:]))
    elif sys.argv[2] == "--url":
        transport = streamable_http_client(sys.argv[3])
    else:
        raise SystemExit("usage: client.py PLAN.json -- COMMAND [ARGS...] | client.py PLAN.json --url URL")
    with open(plan_path) as f:
        plan = json.load(f)
    out = {"steps": []}
    try:
        async with transport as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=60) as session:
                try:
                    init = await session.initialize()
                    out["initialize"] = dump(init)
                except Exception as exc:  # noqa: BLE001
                    out["initialize"] = error_of(exc)
                    print(json.dumps(out))
                    return
                for step in plan:
                    out["steps"].append(await run_step(session, step, out["steps"]))
    except Exception as exc:  # noqa: BLE001
        out["session"] = error_of(exc)
    print(json.dumps(out))


asyncio.run(main())
