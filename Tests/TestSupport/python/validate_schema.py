"""Validates a JSON document against a JSON Schema (draft 2020-12) with the jsonschema package.

usage: validate_schema.py SCHEMA.json DOCUMENT.json
prints {"valid": true} or {"valid": false, "error": "...", "path": "..."}
"""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
document = json.load(open(sys.argv[2]))
jsonschema.Draft202012Validator.check_schema(schema)
error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(document))
if error is None:
    print(json.dumps({"valid": True}))
else:
    print(json.dumps({"valid": False, "error": error.message, "path": "/".join(map(str, error.absolute_path))}))
