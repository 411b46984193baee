"""What a training run holds at its peak, in the order onnxruntime actually ran it.

    npx tsx bench/real-size/profile-step.ts --recompute --steps=1 --keep-profile \
        --save-optimized=/tmp/step.onnx            # prints the profile's path
    tmp/venv-hf/bin/python bench/real-size/liveness.py /tmp/step.onnx /tmp/lmsi-profile-....json [VALUE ...]

Replays the profiled run's nodes (the second run, the first being allocation) on the optimized
graph: each output is allocated when its node runs and freed after its last reader has run (graph
inputs, the weights the caller feeds, are not counted). Prints the peak of the live bytes, what is
alive there by producing operator, the largest values, and for each VALUE named, who reads it and
when. A developer's tool (docs/training-memory.md): onnxruntime's schedule, not the graph's order,
decides how long a value lives.
"""

import collections
import json
import sys

import numpy as np
import onnx

BYTES = {"float": 4, "double": 8, "int64": 8, "int32": 4, "bool": 1, "float16": 2}


def main() -> None:
    model_path, profile_path, *names = sys.argv[1:]
    graph = onnx.load(model_path, load_external_data=False).graph
    events = json.load(open(profile_path))
    runs = [e for e in events if e["name"] == "model_run"]
    first_end = runs[0]["ts"] + runs[0]["dur"]
    ran = sorted(
        (e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] > first_end),
        key=lambda e: e["ts"],
    )
    by_name = {n.name: n for n in graph.node}
    order = [(by_name[e["name"][: -len("_kernel_time")]], e) for e in ran if e["name"][: -len("_kernel_time")] in by_name]
    size = {}
    for node, e in order:
        for out, shape in zip(node.output, e["args"]["output_type_shape"]):
            ((dtype, dims),) = shape.items()
            size[out] = int(np.prod(dims)) * BYTES.get(dtype, 4) if dims else BYTES.get(dtype, 4)
    last = {}
    for i, (node, _) in enumerate(order):
        for x in node.input:
            last[x] = i
    outputs = {o.name for o in graph.output}
    live, current, peak, at, peak_set = {}, 0, 0, 0, {}
    for i, (node, _) in enumerate(order):
        for out in node.output:
            if out in size:
                live[out] = (size[out], node.op_type, i)
                current += size[out]
        if current > peak:
            peak, at, peak_set = current, i, dict(live)
        for x in set(node.input):
            if x in live and last.get(x) == i and x not in outputs:
                current -= live.pop(x)[0]
    print(f"{len(order)} nodes; peak {peak / 1e9:.2f} GB live at node {at} ({order[at][0].op_type} {order[at][0].name})")
    by_op, count = collections.Counter(), collections.Counter()
    for s, op, _ in peak_set.values():
        by_op[op] += s
        count[op] += 1
    for op, s in by_op.most_common(10):
        print(f"  {op:20s} {s / 1e6:9.1f} MB  x{count[op]}")
    for name, (s, op, i) in sorted(peak_set.items(), key=lambda kv: -kv[1][0])[:10]:
        print(f"    {name[:60]:60s} {op:14s} {s / 1e6:8.1f} MB, made at node {i}, last read at {last.get(name)}")
    index = {node.name: i for i, (node, _) in enumerate(order)}
    for name in names:
        for node, _ in order:
            if name in node.input:
                print(f"{name} <- read by {node.op_type} {node.name} at node {index[node.name]}")


if __name__ == "__main__":
    main()
