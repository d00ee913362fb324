"""Reads a Prometheus text file with the reference parser (prometheus_client) and prints
its samples as JSON: {"families": {name: type}, "samples": [[sample name, {labels}, value], ...]}.
Exits 1 with the parser's complaint when the file is not valid exposition format."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1], encoding="utf-8").read()
families, samples = {}, []
try:
    for family in text_string_to_metric_families(text):
        families[family.name] = family.type
        for sample in family.samples:
            samples.append([sample.name, sample.labels, sample.value])
except Exception as error:  # the parser raises ValueError and friends on bad input
    print(f"{sys.argv[1]}: not valid exposition format: {error}", file=sys.stderr)
    sys.exit(1)
print(json.dumps({"families": families, "samples": samples}))
