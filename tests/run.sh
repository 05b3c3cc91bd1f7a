#!/usr/bin/env bash
# Runs the whole suite: lint first (cheap), then each area's tests in its own pytest process,
# so one area's Qt, D-Bus or event-loop leftovers can never crash another's. Fixtures start
# the real services. Ends with one line adding up every area: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1

reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
status=0
NETNS_AREAS="janus"
areas=$(find tests -mindepth 1 -maxdepth 1 -type d -name '[a-z]*' ! -name support | sort)
for area in $areas; do
  ls "$area"/test_*.py >/dev/null 2>&1 || continue
  name=$(basename "$area")
  echo "=== $name"
  wrap=""
  # Janus gathers no loopback ICE candidates: its area runs in a namespace of its own
  case " $NETNS_AREAS " in *" $name "*) wrap="tests/support/in_netns.sh" ;; esac
  $wrap .venv/bin/pytest -p no:cacheprovider -rs --junitxml="$reports/$name.xml" "$area" "$@"
  code=$?
  # 5 = no tests collected (e.g. all deselected by -k): not a failure of the suite
  if [ "$code" -ne 0 ] && [ "$code" -ne 5 ]; then
    echo "=== $name: pytest exited with $code"
    status=1
    [ -f "$reports/$name.xml" ] || echo "<testsuite tests=\"1\" failures=\"1\"/>" > "$reports/$name.xml"
  fi
done
.venv/bin/python tests/summarize.py "$reports" || status=1
exit $status
