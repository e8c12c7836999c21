"""Reads a directory of Prela JSONL files with the Python Prela SDK.

Usage: python read_with_python_prela.py DIR

Prints one JSON document: what the Python SDK's FileExporter.read_traces()
made of each span, and whether Python's own Span.to_dict() serialises each
span back to exactly the line that was read.
"""

import json
import sys
from pathlib import Path

import prela
from prela.exporters.file import FileExporter

directory = Path(sys.argv[1])
lines = []
for path in sorted(directory.glob("traces-*.jsonl")):
    with open(path, encoding="utf-8") as f:
        lines.extend(line.rstrip("\n") for line in f if line.strip())

spans = list(FileExporter(directory=directory).read_traces())
out = {
    "prela_version": prela.__version__,
    "lines": len(lines),
    "spans": [
        {
            "span_id": s.span_id,
            "trace_id": s.trace_id,
            "parent_span_id": s.parent_span_id,
            "name": s.name,
            "span_type": s.span_type.value,
            "status": s.status.value,
            "status_message": s.status_message,
            "attributes": s.attributes,
            "events": [e.name for e in s.events],
        }
        for s in spans
    ],
    "same_when_reserialised": [
        json.dumps(s.to_dict()) == line for s, line in zip(spans, lines)
    ],
}
print(json.dumps(out))
