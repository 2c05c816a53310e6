# SPDX-License-Identifier: GPL-2.0
"""KTAP from the runner: scenarios, their cases, and the facts they print.

The runner prints one top-level KTAP document whose tests are scenarios;
each scenario's own KTAP is nested (indented four spaces) and its tests
are cases.  A case's facts are the `# fact: key=value` diagnostics printed
before its result line.  The kernel's kunit.py checks that the documents
are valid KTAP (make check does); this parser only extracts what the
verdicts need, and never guesses: a scenario or case the plan promised but
the output lacks (a crashed guest) is reported as `missing`.
"""

import re

RESULT = re.compile(r'^(ok|not ok) (\d+) ([^#]*?)\s*(?:#\s*(\S+)\s*(.*))?$')
PLAN = re.compile(r'^1\.\.(\d+)$')
FACT = re.compile(r'^# fact: ([A-Za-z0-9_]+)=(\S+)$')


class ParseError(Exception):
    pass


def status_of(ok, directive):
    if directive and directive.upper() == 'SKIP':
        return 'skip'
    return 'ok' if ok == 'ok' else 'not ok'


def parse(text):
    """Return a list of scenario dicts from the runner's KTAP."""
    lines = [l.rstrip('\r\n') for l in text.splitlines()]
    lines = [l for l in lines if l.strip()]
    if not lines or lines[0].strip() != 'KTAP version 1':
        raise ParseError('no "KTAP version 1" header')
    top_plan = None
    scenarios = []
    cur = new_scenario()
    for raw in lines[1:]:
        indent = len(raw) - len(raw.lstrip(' '))
        line = raw.strip()
        if indent == 0:
            m = PLAN.match(line)
            if m and top_plan is None:
                top_plan = int(m.group(1))
                continue
            m = RESULT.match(line)
            if m:
                cur['name'] = m.group(3)
                cur['status'] = status_of(m.group(1), m.group(4))
                if cur['status'] == 'skip':
                    cur['skip_reason'] = m.group(5)
                scenarios.append(finish(cur))
                cur = new_scenario()
            elif line.startswith('#'):
                cur['diag'].append(line[1:].strip())
            continue
        # Nested: the scenario's own document.
        if line == 'KTAP version 1':
            continue
        m = PLAN.match(line)
        if m and indent == 4 and cur['plan'] is None:
            cur['plan'] = int(m.group(1))
            continue
        m = RESULT.match(line)
        if m and indent == 4:
            case = cur['pending']
            case['name'] = m.group(3)
            case['status'] = status_of(m.group(1), m.group(4))
            if case['status'] == 'skip':
                case['skip_reason'] = m.group(5)
            cur['cases'].append(case)
            cur['pending'] = new_case()
            continue
        m = FACT.match(line)
        if m:
            cur['pending']['facts'][m.group(1)] = m.group(2)
        elif line.startswith('#'):
            cur['pending']['diag'].append(line[1:].strip())
    if top_plan is None:
        raise ParseError('no top-level plan line')
    if cur['cases'] or cur['plan'] is not None:
        # Output stopped inside a scenario: the guest died running it.
        cur['name'] = None
        cur['status'] = 'missing'
        scenarios.append(finish(cur))
    return {'plan': top_plan, 'scenarios': scenarios}


def new_case():
    return {'name': None, 'status': None, 'facts': {}, 'diag': []}


def new_scenario():
    return {'name': None, 'status': None, 'plan': None, 'cases': [],
            'diag': [], 'pending': new_case()}


def finish(s):
    plan = s['plan'] or 0
    for i in range(len(s['cases']), plan):
        s['cases'].append({'name': None, 'status': 'missing', 'facts': {},
                           'diag': [f'case {i + 1} of {plan} never reported']})
    if s['pending']['diag'] or s['pending']['facts']:
        s['diag'] += s['pending']['diag']
    del s['pending']
    return s
