#!/bin/sh
# rekor-sidekick: runs rekor-tail | rekor-policy | rekor-out-... as the
# YAML config describes.  rekor-sidekick-config reads and checks the
# config and prints the stages as shell assignments.  This script writes
# inline policies to private files and starts the stages, through tee and
# named pipes when several outputs are enabled.  It stops them all when
# one fails, or on SIGINT, SIGTERM or SIGHUP.
set -eu

prog=rekor-sidekick
version=@VERSION@
main_pid=$$

say() {
	printf '%s: %s\n' "$prog" "$*" >&2
}

usage() {
	echo "usage: rekor-sidekick [-hntV] [-c file]"
}

help() {
	usage
	cat <<'EOF'

Runs the rekor-tail | rekor-policy | rekor-out-... pipeline that a YAML
config describes.

  -c, --config FILE  the config (default: $REKOR_SIDEKICK_CONFIG, else
                     /etc/rekor-sidekick/config.yaml)
  -n, --dry-run      print the pipeline, secrets masked, and exit
  -t, --check        check the config and find every program, then exit
  -h, --help         print this help
  -V, --version      print the version
EOF
}

misuse() {
	say "$1"
	usage >&2
	exit 2
}

# Prints $1 single-quoted for the shell, newlines and all.
quote() {
	q=$(printf '%s.' "$1" | sed "s/'/'\\\\''/g")
	printf "'%s'" "${q%.}"
}

# Prints $1 for a person: quoted only when the shell would need it.
show() {
	case $1 in
	'' | *[!A-Za-z0-9_@%+=:,./-]*) quote "$1" ;;
	*) printf '%s' "$1" ;;
	esac
}

# Sets $found to the path of program $1: next to this script, else on
# PATH.
locate() {
	if [ -x "$here/$1" ] && [ ! -d "$here/$1" ]; then
		found=$here/$1
	elif found=$(command -v -- "$1" 2>/dev/null) && [ -n "$found" ]; then
		:
	else
		say "cannot find '$1' in $here or on PATH; install it" \
		    "(make install) or add its directory to PATH"
		exit 2
	fi
}

conf=${REKOR_SIDEKICK_CONFIG:-/etc/rekor-sidekick/config.yaml}
mode=run
while [ $# -gt 0 ]; do
	case $1 in
	-c | --config)
		[ $# -ge 2 ] || misuse "option '$1' needs a file name"
		conf=$2
		shift
		;;
	--config=*) conf=${1#--config=} ;;
	-c?*) conf=${1#-c} ;;
	-n | --dry-run) mode=dry-run ;;
	-t | --check) mode=check ;;
	-h | --help)
		help
		exit 0
		;;
	-V | --version)
		echo "rekor-sidekick $version"
		exit 0
		;;
	--)
		shift
		break
		;;
	-*) misuse "unknown option '$1'" ;;
	*) break ;;
	esac
	shift
done
[ $# -eq 0 ] ||
    misuse "unexpected argument '$1'; the config file goes after --config"
[ -n "$conf" ] || misuse "the config file name is empty"

# A stop request that arrives before any stage runs ends the run as a
# stop does later: with status 0.  The stage traps below replace these.
if [ "$mode" = run ]; then
	trap 'exit 0' INT TERM HUP
fi

here=$(cd -- "$(dirname -- "$0")" && pwd -P)
locate rekor-sidekick-config
config_prog=$found

# The variables that the config reader's assignments set: the stages,
# the policies (policy_N_*) and the outputs (output_N_*).
state_dir=
log_level=
tail_args=
policy_count=0
output_count=0
output_0_program=
output_0_args=
output_0_secrets=
output_0_path=
clear_vars=

# The config reader reports every problem itself and exits 2.
settings=$("$config_prog" --config "$conf") || exit $?
eval "$settings"
unset settings

locate rekor-tail
tail_prog=$found
locate rekor-policy
policy_prog=$found
if [ "$output_count" -gt 1 ]; then
	locate tee
	tee_prog=$found
fi
i=0
while [ "$i" -lt "$output_count" ]; do
	eval "locate \"\$output_${i}_program\""
	eval "output_${i}_path=\$found"
	i=$((i + 1))
done

# Sets $policy_args to the rekor-policy argv, quoted for eval: one -p per
# policy, after the name, description and input mode that apply to it.
# Inline bodies are read from $1/policy-N.rego.
build_policy_args() {
	policy_args=
	p_name=
	p_desc=
	p_input=
	p_file=
	i=0
	while [ "$i" -lt "$policy_count" ]; do
		eval "p_name=\$policy_${i}_name"
		eval "p_desc=\$policy_${i}_description"
		eval "p_input=\$policy_${i}_input"
		eval "p_file=\$policy_${i}_file"
		[ -n "$p_file" ] || p_file=$1/policy-$i.rego
		policy_args="$policy_args -n $(quote "$p_name")"
		if [ -n "$p_desc" ]; then
			policy_args="$policy_args -d $(quote "$p_desc")"
		fi
		policy_args="$policy_args -i $(quote "$p_input")"
		policy_args="$policy_args -p $(quote "$p_file")"
		i=$((i + 1))
	done
}

if [ -n "$log_level" ]; then
	REKOR_LOG_LEVEL=$log_level
	export REKOR_LOG_LEVEL
fi

# --dry-run: the pipeline as a person would type it.  Secrets appear as
# the names of the variables that carry them, with masked values.
if [ "$mode" = dry-run ]; then
	build_policy_args "\${TMPDIR:-/tmp}/rekor-sidekick.XXXXXX"
	if [ -n "$log_level" ]; then
		printf 'export REKOR_LOG_LEVEL=%s\n' "$(show "$log_level")"
	fi
	eval "set -- $tail_args"
	line=$(show "$tail_prog")
	for w in "$@"; do
		line="$line $(show "$w")"
	done
	printf '%s |\n' "$line"
	# One line per policy: each -p follows its -n, -d and -i.
	eval "set -- $policy_args"
	line=$(show "$policy_prog")
	for w in "$@"; do
		case $w in
		-n) line="$line \\
    -n" ;;
		*) line="$line $(show "$w")" ;;
		esac
	done
	printf '%s |\n' "$line"
	if [ "$output_count" -gt 1 ]; then
		printf '%s' "$(show "$tee_prog")"
	fi
	o_path=
	o_secrets=
	i=0
	while [ "$i" -lt "$output_count" ]; do
		eval "o_path=\$output_${i}_path"
		eval "o_secrets=\$output_${i}_secrets"
		eval "set -- $(eval "printf '%s' \"\$output_${i}_args\"")"
		line=
		for s in $o_secrets; do
			line="$line$s=*** "
		done
		line="$line$(show "$o_path")"
		for w in "$@"; do
			line="$line $(show "$w")"
		done
		if [ "$output_count" -gt 1 ]; then
			printf ' \\\n    >(%s)' "$line"
		else
			printf '%s\n' "$line"
		fi
		i=$((i + 1))
	done
	if [ "$output_count" -gt 1 ]; then
		printf ' \\\n    >/dev/null\n'
	fi
	exit 0
fi

# From here on, files are private and removed on every way out.
umask 077
tmp=
stages=
nstages=0
caught=
cleanup() {
	if [ -n "$tmp" ]; then
		rm -rf -- "$tmp"
	fi
}
trap cleanup EXIT
trap 'caught=INT' INT
trap 'caught=TERM' TERM
trap 'caught=HUP' HUP
# Each stage's supervisor sends USR1 when its stage exits.
trap ': stage exited' USR1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rekor-sidekick.XXXXXX") || {
	say "cannot create a temporary directory in '${TMPDIR:-/tmp}'"
	exit 5
}
: >"$tmp/exits"

i=0
while [ "$i" -lt "$policy_count" ]; do
	eval "p_file=\$policy_${i}_file"
	if [ -z "$p_file" ]; then
		eval "printf '%s' \"\$policy_${i}_body\"" >"$tmp/policy-$i.rego"
	fi
	i=$((i + 1))
done
build_policy_args "$tmp"

# --check: rekor-policy finds opa and compiles every policy before it
# reads any input, so an empty input checks exactly that.
if [ "$mode" = check ]; then
	eval "set -- $policy_args"
	"$policy_prog" "$@" </dev/null >/dev/null || exit $?
	say "config '$conf' is valid: $policy_count policies, $output_count" \
	    "outputs"
	exit 0
fi

if ! mkdir -p -- "$state_dir"; then
	say "cannot create the state directory '$state_dir'; set stateDir" \
	    "to a writable directory"
	exit 5
fi

# start_stage NAME INPUT OUTPUT SECRETS PROGRAM [ARG...]
# Runs one stage in the background under a supervisor subshell, which
# writes the stage's pid to $tmp/NAME.pid and, when the stage exits,
# appends "NAME STATUS" to $tmp/exits and sends USR1 to this script.
# OUTPUT "-" keeps this script's standard output.  The stage's
# environment keeps, of the REKOR_SIDEKICK_* variables, only SECRETS.
start_stage() {
	s_name=$1
	s_in=$2
	s_out=$3
	s_keep=$4
	shift 4
	(
		for v in $clear_vars; do
			case " $s_keep " in
			*" $v "*) ;;
			*) unset "$v" ;;
			esac
		done
		if [ "$s_out" = - ]; then
			"$@" <"$s_in" &
		else
			"$@" <"$s_in" >"$s_out" &
		fi
		child=$!
		echo "$child" >"$tmp/$s_name.pid"
		rc=0
		# dash reports a child killed by a signal on stderr, and the
		# exits file records that already.
		wait "$child" 2>/dev/null || rc=$?
		echo "$s_name $rc" >>"$tmp/exits"
		kill -USR1 "$main_pid" 2>/dev/null || :
	) &
	stages="$stages $s_name"
	nstages=$((nstages + 1))
}

mkfifo "$tmp/tail.fifo" "$tmp/policy.fifo"
eval "set -- $tail_args"
start_stage rekor-tail /dev/null "$tmp/tail.fifo" "" "$tail_prog" "$@"
eval "set -- $policy_args"
start_stage rekor-policy "$tmp/tail.fifo" "$tmp/policy.fifo" "" \
    "$policy_prog" "$@"
if [ "$output_count" -eq 1 ]; then
	eval "set -- $output_0_args"
	start_stage "$output_0_program" "$tmp/policy.fifo" - \
	    "$output_0_secrets" "$output_0_path" "$@"
else
	set --
	i=0
	while [ "$i" -lt "$output_count" ]; do
		mkfifo "$tmp/out-$i.fifo"
		set -- "$@" "$tmp/out-$i.fifo"
		i=$((i + 1))
	done
	start_stage tee "$tmp/policy.fifo" /dev/null "" "$tee_prog" -- "$@"
	o_name=
	i=0
	while [ "$i" -lt "$output_count" ]; do
		eval "o_name=\$output_${i}_program"
		eval "o_path=\$output_${i}_path"
		eval "o_secrets=\$output_${i}_secrets"
		eval "set -- $(eval "printf '%s' \"\$output_${i}_args\"")"
		start_stage "$o_name" "$tmp/out-$i.fifo" - "$o_secrets" \
		    "$o_path" "$@"
		i=$((i + 1))
	done
fi

# Every pid file exists a moment after its supervisor started; wait for
# them so that a stop can reach every stage.
for s in $stages; do
	while [ ! -s "$tmp/$s.pid" ]; do
		sleep 0.05
	done
done

# Sends SIGTERM to every stage still running; SIGKILL to those left
# after 10 seconds.  Then reaps the supervisors.
stop_all() {
	for s in $stages; do
		kill -TERM "$(cat "$tmp/$s.pid")" 2>/dev/null || :
	done
	n=0
	while [ "$n" -lt 100 ]; do
		alive=
		for s in $stages; do
			if kill -0 "$(cat "$tmp/$s.pid")" 2>/dev/null; then
				alive="$alive $s"
			fi
		done
		[ -n "$alive" ] || break
		sleep 0.1
		n=$((n + 1))
	done
	for s in $alive; do
		say "stage '$s' did not stop within 10s of SIGTERM; killing it"
		kill -KILL "$(cat "$tmp/$s.pid")" 2>/dev/null || :
	done
	wait || :
}

# The main loop: wake on USR1, on a signal, or every second (a USR1 that
# arrives just before `wait` would otherwise be missed), then look at the
# exit statuses.  A status of 2 or more, or death by a signal, stops the
# other stages.  Status 1 means that the stage ran to the end with some
# records gone wrong, so the other stages may finish.
status=0
while :; do
	if [ -n "$caught" ]; then
		say "received SIG$caught; stopping every stage"
		stop_all
		exit 0
	fi
	ended=0
	failed=
	while read -r s rc; do
		ended=$((ended + 1))
		if [ "$rc" -eq 1 ] && [ "$status" -eq 0 ]; then
			status=1
		elif [ "$rc" -gt 1 ] && [ -z "$failed" ]; then
			failed=$s
			failed_rc=$rc
		fi
	done <"$tmp/exits"
	if [ -n "$failed" ]; then
		if [ "$failed_rc" -gt 128 ]; then
			say "stage '$failed' was killed by signal" \
			    "$((failed_rc - 128)); stopping the other stages"
		else
			say "stage '$failed' exited with status $failed_rc;" \
			    "stopping the other stages"
		fi
		stop_all
		exit "$failed_rc"
	fi
	if [ "$ended" -ge "$nstages" ]; then
		wait || :
		exit "$status"
	fi
	sleep 1 &
	wait $! || :
	kill "$!" 2>/dev/null || :
done
