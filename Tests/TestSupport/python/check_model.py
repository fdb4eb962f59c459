"""Runs the onnx checker with full checking on each path argument; prints {path: "ok" or error}."""
import json
import sys

import onnx

result = {}
for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(path, full_check=True)
        result[path] = "ok"
    except Exception as e:
        result[path] = (str(e).strip().splitlines() or [type(e).__name__])[0]
json.dump(result, sys.stdout)
