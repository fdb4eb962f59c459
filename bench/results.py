#!/usr/bin/env python3
"""Measurements as records, and the results table of docs/benchmarks.md generated from them.

    python3 bench/results.py record NAME REPORT.json -- COMMAND...   append one run to bench/results.jsonl
    python3 bench/results.py render                                 rewrite the table in docs/benchmarks.md

A record holds the run's name, the command, the commit it ran at, the machine (CPU model,
cores, memory), the date, and the figures read from the job's --report JSON: parameters before
and after, the certified bound and budget, validation and test accuracy, wall time as the
phases add up and peak resident memory. `render` puts the newest record of each name between
the markers <!-- results:begin --> and <!-- results:end -->.
"""
import datetime
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECORDS = os.path.join(ROOT, "bench", "results.jsonl")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB"


def commit():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def figures(report):
    cert = report.get("certification") or {}
    phases = report.get("phases") or []
    return {
        "method": report.get("method"),
        "parameters_before": report["parameters_before"],
        "parameters_after": report["parameters_after"],
        "certified": cert.get("certified"),
        "bound": cert.get("drop_upper_bound"),
        "budget": cert.get("budget", report.get("max_accuracy_drop")),
        "validation": [report["input_accuracy"].get("validation"), report["output_accuracy"].get("validation")],
        "test": [report["input_accuracy"].get("test"), report["output_accuracy"].get("test")],
        "seconds": round(sum(p["seconds"] for p in phases), 1),
        "peak_bytes": report.get("peak_resident_bytes"),
    }


def record(name, report_path, command):
    with open(report_path) as f:
        report = json.load(f)
    entry = {"name": name, "command": " ".join(command), "commit": commit(), "machine": machine(),
             "date": datetime.date.today().isoformat(), **figures(report)}
    with open(RECORDS, "a") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
    print(json.dumps(entry, indent=1, sort_keys=True))


def percent(x):
    return "-" if x is None else f"{100 * x:.2f}"


def render():
    newest = {}
    with open(RECORDS) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                newest[r["name"]] = r
    rows = ["| run | commit, date | parameters | certified bound | validation % | test % | time | peak memory |",
            "|---|---|---|---|---|---|---|---|"]
    notes = []
    for name, r in newest.items():
        fewer = 100 * (1 - r["parameters_after"] / r["parameters_before"])
        bound = "no" if not r["certified"] else f"{r['bound']:.2f} pt (budget {r['budget']:g})"
        peak = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**30:.2f} GiB"
        rows.append(f"| {name} | {r['commit']}, {r['date']} | {r['parameters_before']:,} -> {r['parameters_after']:,} ({fewer:.1f} % fewer) | {bound} | "
                    f"{percent(r['validation'][0])} -> {percent(r['validation'][1])} | {percent(r['test'][0])} -> {percent(r['test'][1])} | "
                    f"{r['seconds']:.0f} s | {peak} |")
        notes.append(f"- {name}: `{r['command']}` on {r['machine']}" + (f"; {r['note']}" if r.get("note") else ""))
    table = "\n".join(rows) + "\n\n" + "\n".join(notes)
    with open(DOC) as f:
        doc = f.read()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    with open(DOC, "w") as f:
        f.write(doc[:start] + "\n" + table + "\n" + doc[end:])


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "record" and sys.argv[4] == "--":
        record(sys.argv[2], sys.argv[3], sys.argv[5:])
    elif sys.argv[1:] == ["render"]:
        render()
    else:
        sys.exit(__doc__)
