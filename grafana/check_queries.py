#!/usr/bin/env python3
"""Check that every metric the dashboard and the rule file query exists in a scrape.

usage: check_queries.py SCRAPE_FILE DASHBOARD_JSON RULES_YAML

SCRAPE_FILE is a /metrics answer in the Prometheus text format. Metric names are taken from
every PromQL expression of the dashboard (targets[].expr of every panel, panels nested in rows
included, and the queries of its template variables) and of the rule file (the expr of every
rule). A name exists when the scrape has a sample or a `# TYPE` line of that name; `x_bucket`,
`x_sum` and `x_count` exist when `x` is a histogram (`x_sum` and `x_count` when it is a
summary), while a bare histogram name `x` does not (Prometheus stores no series called `x`).
Names recorded by the rule file exist too, and so do the series Prometheus itself writes
(up, scrape_*, ALERTS, ALERTS_FOR_STATE).

Prints the missing names and exits 1 if there are any (or if an expression cannot be read);
prints "N metric names checked" and exits 0 otherwise. Python 3 standard library only; the
rule file is read line by line (single-line `expr:` values and `expr: |` / `expr: >` blocks).
"""

import json
import re
import sys

FUNCTIONS = {
    # aggregation operators
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    # functions
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
    "delta", "deriv", "double_exponential_smoothing", "exp", "floor", "histogram_avg",
    "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev",
    "histogram_stdvar", "histogram_sum", "holt_winters", "hour", "idelta", "increase", "info",
    "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
    "mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi",
    "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets",
    "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc",
    "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh",
    "time", "timestamp", "ts_of_max_over_time", "ts_of_min_over_time", "ts_of_last_over_time",
    "vector", "year",
    # @ modifier
    "start", "end",
}
# Keywords followed by a parenthesised label list.
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = LABEL_LIST_KEYWORDS | {"bool", "and", "or", "unless", "offset", "atan2"}
NUMBER_WORDS = {"inf", "nan"}
# Series Prometheus writes itself; they never appear in a scrape.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
             "scrape_samples_post_metric_relabeling", "scrape_series_added",
             "ALERTS", "ALERTS_FOR_STATE"}

IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NUMBER = re.compile(r"(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)[A-Za-z0-9_]*")
GRAFANA_VAR = re.compile(r"\$(?:\{[^}]*\}|[A-Za-z0-9_]+)")


class QueryError(Exception):
    pass


def _skip_string(s, i):
    """s[i] is a quote; returns (index after the closing quote, unescaped content)."""
    quote = s[i]
    j = i + 1
    out = []
    while j < len(s):
        c = s[j]
        if c == "\\" and quote != "`" and j + 1 < len(s):
            out.append(s[j + 1])
            j += 2
            continue
        if c == quote:
            return j + 1, "".join(out)
        out.append(c)
        j += 1
    raise QueryError("unterminated string")


def _closing(s, i, open_c, close_c):
    """s[i] == open_c; returns the index after the matching close_c (strings skipped)."""
    depth = 0
    j = i
    while j < len(s):
        c = s[j]
        if c in "\"'`":
            j, _ = _skip_string(s, j)
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise QueryError(f"unbalanced '{open_c}'")


def _matcher_names(body):
    """Metric names given inside {...}: {__name__="x"} or a quoted name {"x", ...}."""
    names = []
    i = 0
    pending_name = None  # a string in name position
    label = None
    while i < len(body):
        c = body[i]
        if c.isspace() or c == ",":
            if c == "," and pending_name is not None:
                names.append(pending_name)
            if c == ",":
                pending_name, label = None, None
            i += 1
            continue
        if c in "\"'`":
            i, text = _skip_string(body, i)
            if label is None:
                pending_name = text
            elif label == ("__name__", "="):
                names.append(text)
            continue
        m = LABEL_NAME.match(body, i)
        if m:
            name = m.group(0)
            i = m.end()
            while i < len(body) and body[i].isspace():
                i += 1
            op = re.match(r"=~|!=|!~|=", body[i:])
            label = (name, op.group(0) if op else "")
            i += len(op.group(0)) if op else 0
            continue
        i += 1
    if pending_name is not None:
        names.append(pending_name)
    return names


def metric_names(expr):
    """The metric names a PromQL expression selects (Grafana variables allowed)."""
    s = expr
    names = []
    i = 0
    while i < len(s):
        c = s[i]
        if c.isspace():
            i += 1
        elif c == "#":  # comment to the end of the line
            nl = s.find("\n", i)
            i = len(s) if nl < 0 else nl + 1
        elif c in "\"'`":
            i, _ = _skip_string(s, i)
        elif c == "{":
            end = _closing(s, i, "{", "}")
            names.extend(_matcher_names(s[i + 1:end - 1]))
            i = end
        elif c == "[":  # range, subquery step, or [[grafana_var]]
            i = _closing(s, i, "[", "]")
        elif c == "$":
            m = GRAFANA_VAR.match(s, i)
            i = m.end() if m else i + 1
        elif c.isdigit() or (c == "." and i + 1 < len(s) and s[i + 1].isdigit()):
            i = NUMBER.match(s, i).end()
        elif IDENT.match(s, i):
            m = IDENT.match(s, i)
            word = m.group(0)
            i = m.end()
            j = i
            while j < len(s) and s[j].isspace():
                j += 1
            followed_by_paren = j < len(s) and s[j] == "("
            lower = word.lower()
            if lower in KEYWORDS:
                if lower in LABEL_LIST_KEYWORDS and followed_by_paren:
                    i = _closing(s, j, "(", ")")
            elif lower in NUMBER_WORDS:
                pass
            elif word in FUNCTIONS:
                pass
            elif followed_by_paren:
                raise QueryError(f"unknown function {word}()")
            else:
                names.append(word)
        else:
            i += 1
    return names


def variable_query_exprs(query):
    """PromQL inside a Grafana Prometheus template-variable query."""
    if isinstance(query, dict):
        query = query.get("query") or query.get("expr") or ""
    if not isinstance(query, str):
        return []
    q = query.strip()
    m = re.fullmatch(r"label_values\((.*)\)", q, re.S)
    if m:
        inner = m.group(1)
        cut = None  # the last top-level comma separates the selector from the label
        depth = 0
        for k, c in enumerate(inner):
            if c in "({[":
                depth += 1
            elif c in ")}]":
                depth -= 1
            elif c == "," and depth == 0:
                cut = k
        return [inner[:cut]] if cut is not None else []
    m = re.fullmatch(r"query_result\((.*)\)", q, re.S)
    if m:
        return [m.group(1)]
    return []  # label_names(), metrics(regex): no metric selector


def dashboard_exprs(path):
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    dash = dash.get("dashboard", dash)  # also accept the API's {"dashboard": ...} envelope
    found = []

    def walk(panels):
        for p in panels or []:
            title = p.get("title", "?")
            for t in p.get("targets", []) or []:
                if isinstance(t, dict) and isinstance(t.get("expr"), str) and t["expr"].strip():
                    found.append((f"{path}: panel '{title}' target {t.get('refId', '?')}",
                                  t["expr"]))
            walk(p.get("panels"))

    walk(dash.get("panels"))
    for v in (dash.get("templating") or {}).get("list", []):
        if v.get("type") == "query":
            for e in variable_query_exprs(v.get("query")):
                found.append((f"{path}: variable '{v.get('name', '?')}'", e))
    return found


EXPR_LINE = re.compile(r"^(\s*)(-\s+)?expr:\s*(.*)$")
RECORD_LINE = re.compile(r"^\s*(?:-\s+)?record:\s*(.+?)\s*$")


def _strip_yaml_comment(value):
    """Drops a ` # comment` after a plain scalar."""
    m = re.search(r"\s#", value)
    return value[:m.start()] if m else value


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return json.loads(value)  # YAML double-quoted escapes are close enough to JSON's
    return value


def rule_file_exprs(path):
    """(expressions, recorded names) of a Prometheus rule file, read line by line."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    exprs, records = [], set()
    i = 0
    while i < len(lines):
        line = lines[i]
        rec = RECORD_LINE.match(line)
        if rec:
            records.add(_unquote(_strip_yaml_comment(rec.group(1))))
        m = EXPR_LINE.match(line)
        if not m:
            i += 1
            continue
        key_indent = len(m.group(1)) + len(m.group(2) or "")
        value = m.group(3).rstrip()
        where = f"{path}:{i + 1}"
        i += 1
        block = re.fullmatch(r"([|>])([-+]?)([0-9]?)([-+]?)\s*(#.*)?", value)
        # continuation lines: indented deeper than the key, or blank
        body = []
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > key_indent):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        if block:
            indents = [len(b) - len(b.lstrip()) for b in body if b.strip()]
            cut = min(indents) if indents else 0
            text = "\n".join(b[cut:] for b in body)
        else:
            parts = [value] + [b.strip() for b in body]
            text = _strip_yaml_comment(" ".join(p for p in parts if p))
            text = _unquote(text)
        if not text.strip():
            raise QueryError(f"{where}: empty expr")
        exprs.append((where, text))
    return exprs, records


def scrape_names(path):
    """(sample names, {TYPE name: type}) of a Prometheus text-format scrape."""
    samples, types = set(), {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    types[parts[2]] = parts[3].strip()
                continue
            m = IDENT.match(line)
            if m:
                samples.add(m.group(0))
            elif line.startswith("{"):  # {"quoted.name", labels} value
                q = re.match(r'\{\s*"((?:[^"\\]|\\.)*)"', line)
                if q:
                    samples.add(json.loads(f'"{q.group(1)}"'))
    return samples, types


def exists(name, samples, types):
    if name in samples:
        return True, ""
    kind = types.get(name)
    if kind in ("histogram", "gaugehistogram"):
        return False, f"{name} is a histogram: query {name}_bucket, {name}_sum or {name}_count"
    if kind is not None and kind != "summary":
        return True, ""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if types.get(base) in ("histogram", "gaugehistogram"):
                return True, ""
            if types.get(base) == "summary" and suffix != "_bucket":
                return True, ""
    if kind == "summary":  # quantile samples carry the family name itself
        return True, ""
    if name.endswith("_total") and types.get(name[: -len("_total")]) == "counter":
        return True, ""  # OpenMetrics: TYPE names the family without _total
    return False, ""


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    scrape, dashboard, rules = argv[1:]
    try:
        samples, types = scrape_names(scrape)
        exprs = dashboard_exprs(dashboard)
        rule_exprs, recorded = rule_file_exprs(rules)
    except (OSError, ValueError, QueryError) as e:
        print(f"error: {e}")
        return 1
    if not samples and not types:
        print(f"error: no metrics in {scrape}")
        return 1
    if not exprs:
        print(f"error: no PromQL expressions in {dashboard}")
        return 1
    if not rule_exprs:
        print(f"error: no expr in {rules}")
        return 1

    used = {}  # name -> places
    failed = False
    for where, expr in exprs + rule_exprs:
        try:
            names = metric_names(expr)
        except QueryError as e:
            print(f"error: {where}: {e}")
            failed = True
            continue
        for n in names:
            used.setdefault(n, []).append(where)

    missing = []
    for name in sorted(used):
        if name in recorded or name in SYNTHETIC:
            continue
        ok, hint = exists(name, samples, types)
        if not ok:
            missing.append((name, hint))
    for name, hint in missing:
        places = used[name]
        more = f" (+{len(places) - 1} more)" if len(places) > 1 else ""
        print(f"missing: {name}{' (' + hint + ')' if hint else ''}, used in {places[0]}{more}")
    if missing or failed:
        return 1
    print(f"{len(used)} metric names checked")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
