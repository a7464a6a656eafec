#!/usr/bin/env bash
# The Debian packages the whole suite drives for real, installed when missing:
#   prometheus (with promtool): the serving scrape and dashboard-query tests;
#   chromium: the dashboard's and the report's browser tests (Playwright's executable_path;
#             Playwright's own browser download cannot be reached);
#   curl, sqlite3: the docs' runnable blocks that show them.
# Without root or apt-get nothing is installed: the tests that need a missing program skip with
# the reason, unless LOWCARB_REQUIRE_PROMETHEUS / LOWCARB_REQUIRE_BROWSER say they must run
# (.ci/run sets them), and then they fail.
set -euo pipefail
missing=()
for pair in prometheus:prometheus promtool:prometheus chromium:chromium curl:curl sqlite3:sqlite3; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
# One package may stand for two programs (prometheus, promtool).
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "system_deps: installing ${packages[*]}" >&2
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
else
    echo "system_deps: missing ${packages[*]} (not root, or no apt-get): the tests that need them" \
        "skip with the reason; run 'sudo apt-get install ${packages[*]}' to run them" >&2
fi
