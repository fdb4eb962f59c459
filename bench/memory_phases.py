"""Peak resident memory of a command per phase of its progress output: runs the command,
reads its stderr progress lines ("phase: done/total ..."), samples VmRSS of the process every
0.2 s, and prints the peak per phase (in order of first appearance) and overall.

usage: python3 bench/memory_phases.py COMMAND [ARGS...]
"""
import re
import subprocess
import sys
import threading
import time

process = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
phase = ["start"]
peaks, order = {}, []
start = time.time()


def reader():
    buffer = ""
    while True:
        chunk = process.stderr.read(1)
        if not chunk:
            return
        if chunk in "\r\n":
            line = buffer.strip()
            buffer = ""
            match = re.match(r"^(.*?): \d+/\d+", line)
            if match:
                phase[0] = match.group(1)
            elif line:
                print("stderr:", line[:300], file=sys.stderr)
        else:
            buffer += chunk


threading.Thread(target=reader, daemon=True).start()
while process.poll() is None:
    try:
        with open(f"/proc/{process.pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    except (FileNotFoundError, StopIteration, ProcessLookupError):
        break
    name = phase[0]
    if name not in peaks:
        order.append(name)
        peaks[name] = (0, time.time() - start)
    peaks[name] = (max(peaks[name][0], rss), peaks[name][1])
    time.sleep(0.2)
out = process.stdout.read()
print(f"exit {process.returncode}, {time.time() - start:.0f} s")
print("| phase (first seen at s) | peak RSS (MB) |\n|---|---|")
for name in order:
    print(f"| {name} ({peaks[name][1]:.0f}) | {peaks[name][0] / 1024:.0f} |")
print(f"| all | {max(p for p, _ in peaks.values()) / 1024:.0f} |")
