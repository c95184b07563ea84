#!/usr/bin/env bats
# Two outputs fed by tee, as the wrapper runs them: one output whose
# destination is down or slow must not hold up the other.  The checks are
# on what arrived where, never on elapsed time.

load test_helper
load lib/outputs

KEY=0123456789abcdef0123456789abcdef

setup() {
	cd "$BATS_TEST_TMPDIR"
	export REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY=$KEY
	mkfifo to-ce to-pd
}

teardown() {
	stop_fakes
	for pid in ${CE_PID:-} ${PD_PID:-}; do
		kill "$pid" 2>/dev/null || true
	done
}

@test "rekor-out: one destination down delays nothing for the other" {
	ce_port=$(free_port)
	start_fake pagerduty --routing-key "$KEY"
	pd_rec=$FAKE_REC
	rekor-out-cloudevents -i fanout -u "http://127.0.0.1:$ce_port/" \
	    -S ce-spool -s ce-state.json < to-ce 2> ce-err &
	CE_PID=$!
	rekor-out-pagerduty -u "http://127.0.0.1:$FAKE_PORT/v2/enqueue" \
	    -S pd-spool -s pd-state.json < to-pd 2> pd-err &
	PD_PID=$!
	gen_alerts --count 200 --mark-every 10 > alerts.ndjson
	# tee ends only once both outputs have read everything.
	tee to-ce to-pd < alerts.ndjson > /dev/null
	wait_lines "$pd_rec" 200
	[ "$(jq -r .dedup_key "$pd_rec" | sort)" = "$(alert_ids alerts.ndjson)" ]
	# Nothing reached the down destination, yet every mark was
	# acknowledged: the alerts wait in its durable spool.
	[ "$(jq -r .next ce-state.json)" = 200 ]
	[ "$(jq -r .next pd-state.json)" = 200 ]
	wait "$PD_PID"
	# The destination comes up: the spool drains and the output ends.
	start_fake cloudevents --port "$ce_port"
	wait_lines "$FAKE_REC" 200 90
	[ "$(jq -r .id "$FAKE_REC" | sort -u)" = "$(alert_ids alerts.ndjson)" ]
	st=0
	wait "$CE_PID" || st=$?
	[ "$st" -eq 0 ]
}

@test "rekor-out: slow destination does not slow the other" {
	start_fake cloudevents --faults '[{"delay": 0.3, "count": -1}]'
	ce_rec=$FAKE_REC
	ce_port=$FAKE_PORT
	start_fake pagerduty --routing-key "$KEY"
	pd_rec=$FAKE_REC
	rekor-out-cloudevents -i fanout -u "http://127.0.0.1:$ce_port/" \
	    -s ce-state.json < to-ce 2> ce-err &
	CE_PID=$!
	rekor-out-pagerduty -u "http://127.0.0.1:$FAKE_PORT/v2/enqueue" \
	    -s pd-state.json < to-pd 2> pd-err &
	PD_PID=$!
	gen_alerts --count 40 --mark-every 5 > alerts.ndjson
	tee to-ce to-pd < alerts.ndjson > /dev/null
	wait "$PD_PID"
	[ "$(wc -l < "$pd_rec")" -eq 40 ]
	# The slow one still has alerts to send when the fast one is done,
	# and it has not acknowledged what it has not delivered.
	[ "$(wc -l < "$ce_rec")" -lt 40 ]
	[ "$(jq -r .next ce-state.json)" -le "$(wc -l < "$ce_rec")" ]
	wait "$CE_PID"
	[ "$(jq -r .id "$ce_rec" | sort -u)" = "$(alert_ids alerts.ndjson)" ]
	[ "$(jq -r .next ce-state.json)" = 40 ]
}
