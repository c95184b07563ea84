#!/usr/bin/env bats
# At least once across crashes: a pipeline of a simulated rekor-tail, tee
# and two outputs is killed with SIGKILL at random moments, many times,
# and restarted as the wrapper would; at the end every alert must have
# reached both destinations.  CRASH_ROUNDS sets the number of kills.

load test_helper
load lib/outputs

KEY=0123456789abcdef0123456789abcdef
TOTAL=600

setup() {
	cd "$BATS_TEST_TMPDIR"
	export REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY=$KEY
	mkfifo from-tail to-pd to-os
	start_fake pagerduty --routing-key "$KEY"
	PD_PORT=$FAKE_PORT
	PD_REC=$FAKE_REC
	start_fake opensearch
	OS_PORT=$FAKE_PORT
	OS_REC=$FAKE_REC
	PIDS=""
}

teardown() {
	kill_all
	stop_fakes
}

# Starts every stage in the background; each one's PID is in PIDS.
start_pipeline() {
	rekor-out-pagerduty -u "http://127.0.0.1:$PD_PORT/v2/enqueue" \
	    -S pd-spool -s pd-state.json -d pd-dead.jsonl < to-pd 2>> pd-err &
	PIDS="$!"
	rekor-out-opensearch -u "http://127.0.0.1:$OS_PORT" -i crash \
	    -S os-spool -s os-state.json -d os-dead.jsonl < to-os 2>> os-err &
	PIDS="$PIDS $!"
	tee to-pd to-os < from-tail > /dev/null 2>> tee-err &
	PIDS="$PIDS $!"
	python3 "$OUT_LIB/sim-tail.py" --total "$TOTAL" --batch 7 \
	    --pause 0.005 --ack-state pd-state.json \
	    --ack-state os-state.json > from-tail 2>> tail-err &
	PIDS="$PIDS $!"
}

kill_all() {
	local pid
	for pid in $PIDS; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in $PIDS; do
		wait "$pid" 2>/dev/null || true
	done
	PIDS=""
}

@test "rekor-out: SIGKILL at random moments loses no alert" {
	rounds=${CRASH_ROUNDS:-25}
	for round in $(seq "$rounds"); do
		start_pipeline
		sleep "0.$((RANDOM % 9 + 1))"
		# One random stage dies first, the rest a moment later.
		set -- $PIDS
		shift $((RANDOM % 4))
		kill -KILL "$1" 2>/dev/null || true
		sleep "0.0$((RANDOM % 9 + 1))"
		kill_all
	done
	# A last run without crashes finishes the range.
	start_pipeline
	for pid in $PIDS; do
		wait "$pid"
	done
	PIDS=""
	seq 0 $((TOTAL - 1)) > want
	jq -r .payload.custom_details.logIndex "$PD_REC" | sort -n -u > pd-got
	jq -r .doc.logIndex "$OS_REC" | sort -n -u > os-got
	run -0 diff want pd-got
	run -0 diff want os-got
	[ "$(jq -r .next pd-state.json)" = "$TOTAL" ]
	[ "$(jq -r .next os-state.json)" = "$TOTAL" ]
	[ ! -s pd-dead.jsonl ]
	[ ! -s os-dead.jsonl ]
}
