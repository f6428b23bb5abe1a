#!/usr/bin/env bash
# Builds and tests the Python front-end: scripts/python_venv.sh makes the venv
# .venv-test and pip-installs the repository into it, then the pytest suite in
# tests/python runs. Prints "N passed, N failed"; exits non-zero
# on any failure.
#   scripts/test_python.sh [extra pytest args, e.g. -k claim -x]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv="$root/.venv-test"
echo "=== pip install (C core + shoal._shoal + shoal._swig) into ${venv#$root/}"
"$root/scripts/python_venv.sh" "$venv"

echo "=== pytest tests/python"
report="$(mktemp /tmp/shoal-pytest-XXXXXX.xml)"
trap 'rm -f "$report"' EXIT
set +e
# -P: the source tree must not shadow the installed package (bindings/python is not
# on the path anyway, but keep the rule from DESIGN.md).
"$venv/bin/python" -P -m pytest -q -p no:cacheprovider --junitxml="$report" tests/python "$@"
status=$?
set -e
"$venv/bin/python" - "$report" <<'EOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
tests = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
line = "%d passed, %d failed" % (tests - failed - skipped, failed)
if skipped:
    line += ", %d skipped" % skipped
print(line)
EOF
exit $status
