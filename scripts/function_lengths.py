"""Lists Swift functions (func, init, subscript, computed bodies are not counted) in Sources/
longer than a limit, by brace matching on lines with comments and strings stripped.

usage: python3 scripts/function_lengths.py [LIMIT=150] [ROOT=Sources]
prints one line per function over the limit ("lines path:line name") and exits 1 if any.
"""
import os
import re
import sys

limit = int(sys.argv[1]) if len(sys.argv) > 1 else 150
root = sys.argv[2] if len(sys.argv) > 2 else "Sources"
start = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|internal|private|fileprivate|static|class|final|override|mutating|nonisolated|convenience|required|@inlinable|@usableFromInline)\s+)*(func\s+[^\s(<]+|init[?!]?\s*[(<]|subscript\s*\()")


def strip(line):
    line = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
    return line.split("//", 1)[0]


over = []
for directory, _, files in os.walk(root):
    for name in sorted(files):
        if not name.endswith(".swift"):
            continue
        path = os.path.join(directory, name)
        lines = open(path, encoding="utf-8").read().split("\n")
        in_multiline = False
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.count('"""') % 2 == 1:
                in_multiline = not in_multiline
                i += 1
                continue
            if in_multiline:
                i += 1
                continue
            match = start.match(line)
            if not match:
                i += 1
                continue
            depth, opened, j = 0, False, i
            multi = False
            while j < len(lines):
                text = lines[j]
                if text.count('"""') % 2 == 1:
                    multi = not multi
                    j += 1
                    continue
                if not multi:
                    code = strip(text)
                    depth += code.count("{") - code.count("}")
                    opened = opened or "{" in code
                if opened and depth <= 0:
                    break
                if not opened and j > i and (strip(text).strip() == "" or start.match(text)):
                    break  # a declaration without a body (protocol requirement)
                j += 1
            length = j - i + 1
            if opened and length > limit:
                over.append((length, f"{path}:{i + 1}", match.group(1).strip()))
            i += 1
for length, where, what in sorted(over, reverse=True):
    print(f"{length:5d} {where} {what}")
sys.exit(1 if over else 0)
