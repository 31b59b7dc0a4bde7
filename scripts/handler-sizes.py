#!/usr/bin/env python3
"""Line counts of the functions in the JSON API handlers (crates/palmsig-service/src/api/*.rs),
longest first: a function starts at a line `fn`/`async fn` at column 0 (any visibility) and ends
at the next `}` at column 0. Usage: scripts/handler-sizes.py [--max N] (exit 1 if one is longer)."""
import glob, re, sys

limit = int(sys.argv[sys.argv.index("--max") + 1]) if "--max" in sys.argv else None
start = re.compile(r"^(pub(\(crate\))? )?(async )?fn (\w+)")
sizes = []
for path in sorted(glob.glob("crates/palmsig-service/src/api/*.rs")):
    name, first = None, 0
    for i, line in enumerate(open(path), 1):
        m = start.match(line)
        if m and name is None:
            name, first = m.group(4), i
        elif name and line.startswith("}"):
            sizes.append((i - first + 1, f"{path.split('/src/')[1]}:{first} {name}"))
            name = None
sizes.sort(reverse=True)
for n, what in sizes[:10]:
    print(f"{n:4} {what}")
print(f"{len(sizes)} functions; longest {sizes[0][0]} lines")
sys.exit(1 if limit and sizes[0][0] > limit else 0)
