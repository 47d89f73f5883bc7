#!/usr/bin/env python3
"""Parses a Prometheus text exposition with prometheus_client's own parser.

usage: parse_metrics.py FILE

Prints one line per sample, "name{label=value,...} value" with the labels sorted, so a
test can look samples up; exits 1 when the text does not parse.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families

with open(sys.argv[1]) as f:
    text = f.read()
for family in text_string_to_metric_families(text):
    for s in family.samples:
        labels = ",".join("%s=%s" % (k, v) for k, v in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, float(s.value)))
