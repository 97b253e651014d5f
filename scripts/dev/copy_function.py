#!/usr/bin/env python3
"""Copies a function's definition (its comment block above, CREATE FUNCTION ... $tag$;
and a REVOKE right after) from an install script (src/**/*.sql) into an upgrade
script (sql/bravo_metrics--A--B.sql), as CREATE OR REPLACE when the upgrade script
already defines it (replacing that definition), else as CREATE FUNCTION inserted
before the definition of --before. tests/upgrade.rs then checks that both agree.

usage: copy_function.py SRC UPGRADE NAME [--before NAME]
(NAME is schema-qualified as written, e.g. bravo._bravo_rollup_flush)"""
import re
import sys


def block(text, name, replace_ok=True):
    """(start, end) of `CREATE [OR REPLACE] FUNCTION name(` ... closing `$tag$;`
    (and a following REVOKE line), or None."""
    m = re.search(r'^CREATE (OR REPLACE )?FUNCTION ' + re.escape(name) + r'\(', text, re.M)
    if not m:
        return None
    tag = re.compile(r'AS (\$[a-z_]*\$)').search(text, m.end())
    if tag is None:
        raise SystemExit(f'{name}: no body')
    close = text.index(tag.group(1) + ';', tag.end()) + len(tag.group(1)) + 1
    rest = text[close:]
    r = re.match(r'\n(REVOKE ALL ON FUNCTION ' + re.escape(name) + r'\([^)]*\) FROM PUBLIC;)', rest)
    if r:
        close += r.end()
    return m.start(), close


def comment_start(text, start):
    lines = text[:start].split('\n')
    i = len(lines) - 1  # the empty remainder before CREATE
    while i > 0 and lines[i - 1].startswith('--'):
        i -= 1
    return len('\n'.join(lines[:i])) + (1 if i else 0)


def main():
    args = sys.argv[1:]
    before = None
    if '--before' in args:
        k = args.index('--before')
        before = args[k + 1]
        del args[k:k + 2]
    src, upgrade, name = args
    s = open(src).read()
    u = open(upgrade).read()
    b = block(s, name)
    if b is None:
        raise SystemExit(f'{name} not in {src}')
    definition = s[b[0]:b[1]]
    ub = block(u, name)
    if ub is not None:
        definition = definition.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION', 1)
        u = u[:ub[0]] + definition + u[ub[1]:]
    else:
        if before is None:
            raise SystemExit(f'{name} is new in {upgrade}: say --before which function')
        bb = block(u, before)
        if bb is None:
            raise SystemExit(f'{before} not in {upgrade}')
        at = comment_start(u, bb[0])
        c = comment_start(s, b[0])
        u = u[:at] + s[c:b[1]] + '\n\n' + u[at:]
    open(upgrade, 'w').write(u)


main()
