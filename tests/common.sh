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
