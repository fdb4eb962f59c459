#!/usr/bin/env python3
"""Check that every relative markdown link in README.md, CHANGELOG.md and docs/*.md resolves
to an existing file, and that #anchors match a heading (GitHub slug rules). Exit 1 on failure."""
import glob, os, re, sys

def slug(h):
    h = re.sub(r'[^\w\- ]', '', h.strip().lower())
    return h.replace(' ', '-')

def anchors(path):
    text = re.sub(r'```.*?```', '', open(path, encoding='utf-8').read(), flags=re.S)
    return {slug(m) for m in re.findall(r'^#+\s+(.*)$', text, flags=re.M)}

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
files = [os.path.join(root, f) for f in ['README.md', 'CHANGELOG.md']] + sorted(glob.glob(os.path.join(root, 'docs', '*.md')))
bad = checked = 0
for f in files:
    text = open(f, encoding='utf-8').read()
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
        if re.match(r'[a-z]+:', target):
            continue
        checked += 1
        path, _, anchor = target.partition('#')
        dest = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        if not dest.startswith(root + os.sep) or not os.path.exists(dest):
            print(f'{os.path.relpath(f, root)}: missing {target}'); bad += 1
        elif anchor and dest.endswith('.md') and anchor not in anchors(dest):
            print(f'{os.path.relpath(f, root)}: no anchor {target}'); bad += 1
print(f'{checked} relative links checked, {bad} broken')
sys.exit(1 if bad else 0)
