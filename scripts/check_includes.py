#!/usr/bin/env python3
"""Checks that #include lines point only down the layer order that docs/ARCHITECTURE.md declares.

The library's subsystems are the folders src/<name>/ (private headers and sources) mirrored by
include/vit/<name>/ (public headers). docs/ARCHITECTURE.md holds one line

    Layer order: util < distributed < image < ...

and a file of one subsystem may include headers of its own subsystem and of those before it, never
of one after it. Also checked: a public header includes only public headers (an installed header that
reaches into src/ would not compile for a library user), and no public header names oneDNN or OpenCV.

usage: scripts/check_includes.py [--count] [SOURCE_ROOT]
  --count  print every edge's direction count (before/after pictures for the docs) and exit 0
Exit status 1 with one line per offending include; 0 when there is none.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_order(root):
    with open(os.path.join(root, 'docs', 'ARCHITECTURE.md'), encoding='utf-8') as f:
        for line in f:
            m = re.match(r'^Layer order: (.+)$', line.strip())
            if m:
                return [name.strip().strip('`') for name in m.group(1).split('<')]
    sys.exit('check_includes: docs/ARCHITECTURE.md declares no "Layer order:" line')


def subsystem_of_file(path, order):
    """The subsystem of a file of the library (src/<s>/..., include/vit/<s>/...), else None."""
    parts = path.split('/')
    if parts[0] == 'src' and len(parts) > 2 and parts[1] in order:
        return parts[1]
    if parts[:2] == ['include', 'vit'] and len(parts) > 3 and parts[2] in order:
        return parts[2]
    if path == 'include/vit/vit.hpp':
        return 'api'
    return None


def target_of_include(path, spelled, root, order):
    """(subsystem, public) of an included header, or None for a system or third-party header."""
    here = os.path.normpath(os.path.join(os.path.dirname(path), spelled))
    for candidate in (here, os.path.join('include', spelled), os.path.join('src', spelled)):
        if os.path.isfile(os.path.join(root, candidate)):
            sub = subsystem_of_file(candidate, order)
            if sub is None:
                return ('outside:' + candidate, False)
            return (sub, candidate.startswith('include/'))
    return None


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    count_only = '--count' in sys.argv
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), '..'))
    order = layer_order(root)
    rank = {name: i for i, name in enumerate(order)}
    problems, edges, up = [], 0, 0
    for top in ('src', 'include'):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith(('.hpp', '.cpp', '.h')):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                sub = subsystem_of_file(path, order)
                public = path.startswith('include/')
                if sub is None:
                    problems.append(f'{path}: not in a subsystem folder named in the layer order')
                    continue
                with open(os.path.join(root, path), encoding='utf-8') as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        bracket, spelled = m.groups()
                        where = f'{path}:{lineno}: #include {bracket}{spelled}{">" if bracket == "<" else bracket}'
                        if public and bracket == '<' and re.match(r'(oneapi/|dnnl|opencv)', spelled):
                            problems.append(f'{where}: a public header names oneDNN or OpenCV')
                        if bracket == '<':
                            continue
                        target = target_of_include(path, spelled, root, order)
                        if target is None:
                            problems.append(f'{where}: no such header')
                            continue
                        to, to_public = target
                        if to.startswith('outside:'):
                            problems.append(f'{where}: the library includes {to[8:]}, outside it')
                            continue
                        if public and not to_public:
                            problems.append(f'{where}: a public header includes a private one')
                        if sub == 'api' or to == sub:
                            continue
                        edges += 1
                        if to == 'api' or rank[to] > rank[sub]:
                            up += 1
                            problems.append(f'{where}: {sub} includes {to}, a higher layer '
                                            f'(order: {" < ".join(order)})')
    if count_only:
        print(f'{edges} include edges between subsystems, {up} pointing up')
        return 0
    for p in problems:
        print(p)
    if problems:
        print(f'check_includes: {len(problems)} problem(s); layer order: {" < ".join(order)}', file=sys.stderr)
        return 1
    print(f'check_includes: {edges} include edges between subsystems, all pointing down')
    return 0


if __name__ == '__main__':
    sys.exit(main())
