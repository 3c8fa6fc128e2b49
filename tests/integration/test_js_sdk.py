"""Runs the node:test suite of tests/integration/node against the server (AWS SDK for
JavaScript v3, whose runtime client speaks HTTP/2 by default)."""
import pathlib
import shutil
import subprocess

import pytest

NODE_DIR = pathlib.Path(__file__).parent / "node"


def test_js_sdk_v3_http2(server):
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-bedrock-runtime").exists():
        pytest.skip("npm dependencies not installed (scripts/test installs them)")
    out = subprocess.run(["node", "--test", "--test-reporter=spec", "sdk.test.mjs"],
                         cwd=NODE_DIR, env=server.client_env(), capture_output=True, text=True,
                         timeout=300)
    print(out.stdout[-4000:])
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]
