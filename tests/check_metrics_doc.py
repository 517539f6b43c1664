#!/usr/bin/python3
"""check_metrics_doc.py: every metric the appliance exports is documented.

    check_metrics_doc.py --url http://127.0.0.1:9641/metrics [--doc docs/operations.md]
    check_metrics_doc.py --file metrics.txt [--doc ...]
    check_metrics_doc.py --list --url URL      print the families (name, type, help), no check

Reads a Prometheus text exposition (a live /metrics or a saved one), takes every metric
family from its `# TYPE` lines and every value of a `reason` label, and checks that the
document mentions each as a whole word (`supernode_port_rx_packets_total`, `udp_checksum`).
Prints what is missing and exits 1 when anything is; 0 and a summary line otherwise.
The lab test test_prometheus.sh runs it against the running appliance. Stdlib only.
"""
import argparse
import re
import sys
import urllib.request


def families(text):
    """[(name, type, help)] in exposition order, and the set of reason label values."""
    helps, out, reasons = {}, [], set()
    for line in text.splitlines():
        m = re.match(r"# HELP (\S+) (.*)$", line)
        if m:
            helps[m.group(1)] = m.group(2)
            continue
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            out.append((m.group(1), m.group(2), helps.get(m.group(1), "")))
            continue
        if line.startswith("#"):
            continue
        for r in re.findall(r'[{,]reason="([^"]*)"', line):
            reasons.add(r)
    return out, reasons


def main():
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--url")
    src.add_argument("--file")
    ap.add_argument("--doc", default=None)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()

    if a.url:
        with urllib.request.urlopen(a.url, timeout=10) as r:
            text = r.read().decode("utf-8")
    else:
        with open(a.file, encoding="utf-8") as f:
            text = f.read()
    fams, reasons = families(text)
    if not fams:
        print("check_metrics_doc: no metric family in the exposition")
        return 1
    if a.list:
        for name, typ, hlp in fams:
            print("%s\t%s\t%s" % (name, typ, hlp))
        return 0
    doc_path = a.doc or "docs/operations.md"
    with open(doc_path, encoding="utf-8") as f:
        doc = f.read()
    words = set(re.findall(r"[A-Za-z0-9_]+", doc))
    missing = [n for n, _, _ in fams if n not in words]
    missing_reasons = sorted(r for r in reasons if r not in words)
    for n in missing:
        print("check_metrics_doc: %s does not mention metric %s" % (doc_path, n))
    for r in missing_reasons:
        print("check_metrics_doc: %s does not mention reason %s" % (doc_path, r))
    if missing or missing_reasons:
        return 1
    print("check_metrics_doc: %d metric families and %d reasons, all in %s" %
          (len(fams), len(reasons), doc_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
