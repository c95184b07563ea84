#!/bin/sh
# A stand-in for an output program (rekor-out-NAME) in the wrapper tests.
# It writes, into $FAKE_OUTPUT_DIR:
#   NAME.args     its arguments, one per line
#   NAME.env      the REKOR_SIDEKICK_* variables it received, one per line
#   NAME.alerts   every record read on standard input
# and exits with $FAKE_OUTPUT_EXIT at once when that is set.
set -eu
name=$(basename "$0")
dir=${FAKE_OUTPUT_DIR:?FAKE_OUTPUT_DIR is not set}
printf '%s\n' "$@" >"$dir/$name.args"
env | grep '^REKOR_SIDEKICK_' >"$dir/$name.env" || :
if [ -n "${FAKE_OUTPUT_EXIT:-}" ]; then
	echo "$name: failing on purpose with status $FAKE_OUTPUT_EXIT" >&2
	exit "$FAKE_OUTPUT_EXIT"
fi
exec cat >>"$dir/$name.alerts"
