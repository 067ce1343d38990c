# common.sh - shell helpers shared by mdpub/helpers.sh and mdsub/helpers.sh,
# which define fail() before sourcing this.

# status WANT CMD...: runs CMD, fails unless its exit status is WANT
status() {
	want=$1
	shift
	"$@"
	got=$?
	[ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want"
}

# warned_once WHAT FILE TEXT [LINE]: fails (naming WHAT) unless FILE has
# one line with TEXT, with LINE in it (without LINE: none), and no
# password ("secret", the tests' own) in a line with TEXT
warned_once() {
	_n=$(grep -c -- "$3" "$2")
	[ "$_n" = $((${#4} > 0)) ] && { [ -z "$4" ] || grep -qF -- "$4" "$2"; } &&
		! grep -- "$3" "$2" | grep -q secret ||
		fail "$1: warned $_n times, not '$4': $(cat "$2")"
}

# Hand-made recordings (doc/protocol.md, "Recording format"):
oct() { printf "\\$(printf %03o "$1")"; }
le() { # le N BYTES: N little-endian
	i=0
	while [ $i -lt "$2" ]; do oct $(($1 >> (i * 8) & 255)); i=$((i + 1)); done
}
header() { # header VERSION [HEADER_SIZE]: channel "rec", 256 x 64 x 2, created at 0
	printf 'MDBUSREC'; le "$1" 4; le 1 4
	printf '%-72s' rec | tr ' ' '\000'
	le 256 4; le 64 4; le 2 4; le 0 4; le 0 8; le "${2:-120}" 4; le 0 4
}
record() { # record SEQ TS_NS PAYLOAD [TYPE]: type 9 unless given
	le ${#3} 4; le "${4:-9}" 2; le 0 2; le "$1" 8; le "$2" 8; printf '%s' "$3"
}

# MoldUDP64 packets (doc/protocol.md, "UDP framing"):
be() { # be N BYTES: N big-endian
	i=$(($2 - 1))
	while [ $i -ge 0 ]; do oct $(($1 >> (i * 8) & 255)); i=$((i - 1)); done
}
msg() { # msg TYPE PAYLOAD: one message block
	be $((12 + ${#2})) 2
	be 0 8
	oct "$1"; oct 0; oct 0; oct 0
	printf '%s' "$2"
}
mold() { # mold FILE SESSION SEQ COUNT [BLOCK-FILES...]: one packet in FILE
	f=$1
	{ printf '%-10s' "$2"; be "$3" 8; be "$4" 2; } >"$f"
	shift 4
	[ $# -eq 0 ] || cat "$@" >>"$f"
}

# wait_for CMD...: retries CMD until it succeeds, 60 s at most (a
# deadline for a loaded machine: it returns as soon as CMD does)
wait_for() {
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 1200 ] || fail "timed out waiting for: $*"
		sleep 0.05
	done
}

# rtx_port ERRFILE: waits until mdsub --retransmit says where it answers
# re-requests (in ERRFILE) and prints the port; ERRFILE must be new or
# emptied before mdsub starts (an earlier forwarder's port would be taken:
# the shell opens it for mdsub only some time after the start)
rtx_port() {
	i=0
	# the port itself, not only the start of the line (the line may be
	# read while it is being written: distcheck once got an empty port)
	until p=$(sed -n 's/.*answering re-requests on 127.0.0.1:\([0-9][0-9]*\)$/\1/p' "$1" 2>/dev/null) &&
		[ -n "$p" ]; do
		i=$((i + 1))
		[ $i -lt 1200 ] || fail "mdsub --retransmit: $(cat "$1")"
		sleep 0.05
	done
	echo "$p"
}
