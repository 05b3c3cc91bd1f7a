"""Add up the JUnit XML reports of the suite's pytest runs into one closing line."""

import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(report_dir: str) -> int:
    """Print the closing line; exit 1 when a test skipped, unless ALLOW_SKIPS=1.

    Every tool a test needs is installed by `make test`, so a skip in the suite means a
    missing install step or a broken fixture: it must not pass quietly.
    """
    passed = failed = skipped = 0
    reasons: list[str] = []
    failures: list[str] = []
    for report in sorted(Path(report_dir).glob("*.xml")):
        root = ET.parse(report).getroot()
        for case in root.iter("testcase"):
            for bad in (*case.iter("failure"), *case.iter("error")):
                name = f"{case.get('classname', '')}::{case.get('name', '')}"
                first_line = (bad.get("message") or "").splitlines()[:1]
                failures.append(f"{name}: {first_line[0][:200] if first_line else ''}")
            for skip in case.iter("skipped"):
                name = f"{case.get('classname', '')}::{case.get('name', '')}"
                reasons.append(f"{name}: {skip.get('message', '')}")
        for suite in root.iter("testsuite"):
            tests = int(suite.get("tests", 0))
            bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skip = int(suite.get("skipped", 0))
            passed += tests - bad - skip
            failed += bad
            skipped += skip
    for reason in reasons:
        print(f"SKIPPED {reason}")
    for failure in failures:  # again at the end, where a truncated log still shows them
        print(f"FAILED {failure}")
    if skipped and os.environ.get("ALLOW_SKIPS") != "1":
        print(
            f"{skipped} test(s) skipped: `make test` installs every tool the suite needs, so a "
            "skip is a failure here (ALLOW_SKIPS=1 accepts them on a machine without root)"
        )
        failed += skipped
        skipped = 0
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
