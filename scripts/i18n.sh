#!/usr/bin/env bash
# Extract every user-facing string, merge it into the Japanese catalogue, and compile it.
#   scripts/i18n.sh update    # after changing strings; then translate new entries in messages.po
#   scripts/i18n.sh compile   # after translating
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
POT=watchnet/translations/messages.pot
case "${1:-}" in
  update)
    "$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
      --project watchnet -o "$POT" .
    if [ -f watchnet/translations/ja/LC_MESSAGES/messages.po ]; then
      "$PYBABEL" update -i "$POT" -d watchnet/translations -l ja --no-fuzzy-matching --ignore-obsolete
    else
      "$PYBABEL" init -i "$POT" -d watchnet/translations -l ja
    fi
    ;;
  compile)
    "$PYBABEL" compile -d watchnet/translations --statistics
    ;;
  *) echo "usage: $0 update|compile" >&2; exit 2 ;;
esac
