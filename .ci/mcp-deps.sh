#!/usr/bin/env bash
# Installs the MCP parts the gate's live tests talk to, pinned, into one cache folder:
#   - @modelcontextprotocol/server-filesystem and @modelcontextprotocol/server-everything (npm),
#   - the Python MCP SDK (`mcp`, PyPI) in a virtualenv, as the MCP client.
#
#   .ci/mcp-deps.sh [DIR]     prints DIR (default: $SENTINEL_MCP_DEPS, else target/mcp-deps)
#
# Idempotent: a second run with the same pins does nothing. Needs node/npm and python3 (>= 3.10).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-${SENTINEL_MCP_DEPS:-${CARGO_TARGET_DIR:-$PWD/target}/mcp-deps}}"

FILESYSTEM="@modelcontextprotocol/server-filesystem@2026.8.31"
EVERYTHING="@modelcontextprotocol/server-everything@2026.8.31"
PY_MCP="mcp==2.3.0"

stamp="$dir/.installed-$(printf '%s\n' "$FILESYSTEM" "$EVERYTHING" "$PY_MCP" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then echo "$dir"; exit 0; fi

mkdir -p "$dir"
log="$dir/install.log"
: >"$log"
if ! npm install --prefix "$dir/npm" --no-audit --no-fund --loglevel=error --save-exact \
    "$FILESYSTEM" "$EVERYTHING" >>"$log" 2>&1; then
  echo "mcp-deps: npm install failed; see $log" >&2; exit 1
fi
if ! { python3 -m venv "$dir/venv" && "$dir/venv/bin/pip" install --quiet --disable-pip-version-check "$PY_MCP"; } >>"$log" 2>&1; then
  echo "mcp-deps: installing the Python MCP SDK failed; see $log" >&2; exit 1
fi
touch "$stamp"
echo "$dir"
