#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from ../sentinel-tests/tests/fixtures/ (the recorded sidecar answers).

decision:   every recorded /v1/guard and /v1/guard/batch answer body, each decision of the
            batch on its own, and the error bodies.
provenance: records.json and records_canonical.json whole, and every record on its own
            (as the sidecar wrote it, and compact), plus verify.json and signer.json.

Run from anywhere: python3 fuzz/make_seeds.py
"""
import hashlib
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
SHARED = HERE.parent / "sentinel-tests" / "tests" / "fixtures"


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def write(target, data):
    out = HERE / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    (out / name).write_bytes(data)


def main():
    cases = json.loads((SHARED / "cases.json").read_text(encoding="utf-8"))
    for case in cases:
        body = case["response"]["body"]
        if case["request"]["path"].startswith("/v1/guard"):
            write("decision", compact(body))
            if isinstance(body, dict) and isinstance(body.get("decisions"), list):
                for decision in body["decisions"]:
                    write("decision", compact(decision))
        if case["request"]["path"].startswith("/v1/records"):
            write("provenance", compact(body))
    for name in ("records.json", "records_canonical.json"):
        raw = (SHARED / name).read_bytes()
        write("provenance", raw)
        records = json.loads(raw)
        if isinstance(records, dict):
            records = records.get("records", [])
        for record in records:
            write("provenance", compact(record))
            write("provenance", json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))
    for name in ("verify.json", "signer.json"):
        write("provenance", (SHARED / name).read_bytes())


if __name__ == "__main__":
    main()
