"""Reads a JUnit XML report with junitparser, the library CI report tools use, and prints
what it found as JSON: suites, their counts, and each test case's result.

Usage: python junit.py REPORT.xml
"""
import json
import sys

from junitparser import Error, Failure, JUnitXml, Skipped


def result_of(case):
    if case.is_passed:
        return {"result": "passed"}
    for result in case.result:
        kind = {Failure: "failure", Skipped: "skipped", Error: "error"}.get(type(result), "other")
        return {"result": kind, "message": result.message, "type": result.type, "text": result.text}
    return {"result": "unknown"}


def main(path):
    xml = JUnitXml.fromfile(path)
    suites = []
    for suite in xml:
        cases = [{"name": case.name, "classname": case.classname, "time": case.time, **result_of(case)} for case in suite]
        suites.append({
            "name": suite.name,
            "tests": suite.tests,
            "failures": suite.failures,
            "errors": suite.errors,
            "skipped": suite.skipped,
            "time": suite.time,
            "timestamp": suite.timestamp,
            "cases": cases,
        })
    print(json.dumps({"tests": xml.tests, "failures": xml.failures, "skipped": xml.skipped, "suites": suites}, ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python junit.py REPORT.xml")
    main(sys.argv[1])
