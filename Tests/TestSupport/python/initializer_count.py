"""Prints, as JSON, what the onnx package counts in a model: initializer element counts."""
import json
import sys

import onnx
from onnx import numpy_helper

model = onnx.load(sys.argv[1])
sizes = {t.name: int(numpy_helper.to_array(t).size) for t in model.graph.initializer}
json.dump({"total": sum(sizes.values()), "initializers": len(sizes)}, sys.stdout)
