# lib.sh: helpers shared by the openstack CLI scripts; source it.
#   run ARGS...        runs `openstack ARGS`, keeps its output in $out (fails the script, showing
#                      the output, when the command fails) and echoes it
#   expect TEXT [WHY]  fails unless $out contains the fixed string TEXT
#   fail MESSAGE       prints "FAIL: MESSAGE" and the last output, and exits 1

out=""

fail() {
	echo "FAIL: $*" >&2
	if [[ -n "$out" ]]; then
		echo "--- last output ---" >&2
		echo "$out" >&2
	fi
	exit 1
}

run() {
	echo "+ openstack $*"
	if ! out=$(openstack "$@" 2>&1); then
		fail "openstack $* exited non-zero"
	fi
	echo "$out"
}

expect() {
	grep -qF -- "$1" <<<"$out" || fail "${2:-expected output to contain} (missing \"$1\")"
}
