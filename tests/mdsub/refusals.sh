#!/bin/sh
# What is under a channel's name, and who may read it, said precisely: a
# directory is named as one, with the fix, by mdsub and mdpub; a reader that may not read a
# segment is told its owner, group and mode and the publisher's settings
# that grant access (mdpub's group = and file_mode =); another user's
# file that a publisher cannot replace is named with its owner and the fix.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

# (with something in it: an empty one a publisher removes, replace = yes,
# mdpub/lock_squat.sh)
mkdir "$MDBUS_DIR/mdbus.dir" && : >"$MDBUS_DIR/mdbus.dir/x" || fail "directory"
status 1 "$MDSUB" dir 2>"$WORK/dir.err"
grep -q "^mdsub: dir: cannot subscribe: channel dir: the file under its name is a directory, not a segment: remove it$" \
	"$WORK/dir.err" || fail "directory: $(cat "$WORK/dir.err")"
printf '[global]\ndir = %s\n[channel dir]\nsource = synthetic\n' "$MDBUS_DIR" \
	>"$WORK/dir.conf"
chmod 0644 "$WORK/dir.conf"
status 1 timeout 60 "$MDPUB" -c "$WORK/dir.conf" 2>"$WORK/pub.err"
grep -q "channel dir: $MDBUS_DIR/mdbus.dir is a directory, not a segment: remove it$" \
	"$WORK/pub.err" || fail "mdpub, directory: $(cat "$WORK/pub.err")"

[ "$(id -u)" = 0 ] || { echo "not root: the reader of another uid not tried"; exit 0; }
pub -g 16:4 private 3
chmod 0600 "$MDBUS_DIR/mdbus.private"
chmod 0755 "$MDBUS_DIR"
status 1 runuser -u nobody -- env MDBUS_DIR="$MDBUS_DIR" "$MDSUB" -n 1 private \
	2>"$WORK/perm.err"
grep -q "^mdsub: private: cannot subscribe: channel private: $MDBUS_DIR/mdbus.private is uid 0's, group [0-9]*, mode 600: this process (uid [0-9]*) may not read it; run as a member of its group, or have its publisher give the readers' group access (mdpub's \`group =\` and \`file_mode =\`" \
	"$WORK/perm.err" || fail "permission: $(cat "$WORK/perm.err")"
# --status and --list give the same reason whole, the fix at its end
# included (the reason is longer than 255 bytes)
status 1 runuser -u nobody -- env MDBUS_DIR="$MDBUS_DIR" "$MDSUB" --status private \
	>"$WORK/st.out" 2>"$WORK/st.err"
grep -q "^mdsub: private: channel private: $MDBUS_DIR/mdbus.private is uid 0's, .*, or mdbus_pub_config's group and file_mode)$" \
	"$WORK/st.err" || fail "--status, permission: $(cat "$WORK/st.err")"
grep -q "^private: unreadable: channel private: .*, or mdbus_pub_config's group and file_mode)$" \
	"$WORK/st.out" || fail "--status output, permission: $(cat "$WORK/st.out")"
status 0 runuser -u nobody -- env MDBUS_DIR="$MDBUS_DIR" "$MDSUB" --list \
	>"$WORK/list.out" 2>"$WORK/list.err"
grep -q "^mdsub: private: channel private: .*, or mdbus_pub_config's group and file_mode)$" \
	"$WORK/list.err" || fail "--list, permission: $(cat "$WORK/list.err")"

# another user's file under the name, in a sticky directory: a publisher
# (replace = yes by default) cannot replace it, and says why and what to do
mkdir -m 1777 "$MDBUS_DIR/sticky"
head -c 5000 /dev/urandom >"$MDBUS_DIR/sticky/mdbus.squat"
chmod 0644 "$MDBUS_DIR/sticky/mdbus.squat"
printf '[global]\ndir = %s\n[channel squat]\nsource = synthetic\n' \
	"$MDBUS_DIR/sticky" >"$WORK/squat.conf"
chmod 0644 "$WORK/squat.conf"
chmod 0755 "$WORK"
status 1 runuser -u nobody -- timeout 60 "$MDPUB" -c "$WORK/squat.conf" \
	2>"$WORK/squat.err"
grep -q "channel squat: cannot replace $MDBUS_DIR/sticky/mdbus.squat, a regular file of uid 0 (in a sticky directory only its owner or root may): remove it as its owner or root" \
	"$WORK/squat.err" || fail "squatted name: $(cat "$WORK/squat.err")"

# the channel's lock file name taken, in a sticky directory: by another
# user's symbolic link (the kernel refuses root's O_CREAT open with
# EACCES there, not ELOOP) with replace = no (with yes, root's mdpub
# removes it: tests/mdpub/lock_squat.sh), and, for another user's
# publisher, by the lock file of root's channel: both named, with their
# owner and the fix
runuser -u nobody -- ln -s /nonexistent "$MDBUS_DIR/sticky/mdbus.sl+lock"
printf '[global]\ndir = %s\n[channel sl]\nsource = synthetic\nreplace = no\n' \
	"$MDBUS_DIR/sticky" >"$WORK/sl.conf"
chmod 0644 "$WORK/sl.conf"
status 1 timeout 60 "$MDPUB" -c "$WORK/sl.conf" 2>"$WORK/sl.err"
grep -q "channel sl: open its lock file $MDBUS_DIR/sticky/mdbus.sl+lock: Permission denied (a symbolic link of uid 65534: not followed; remove it as its owner or root, or use a segment directory only trusted users can write)$" \
	"$WORK/sl.err" || fail "symlinked lock file: $(cat "$WORK/sl.err")"
: >"$MDBUS_DIR/sticky/mdbus.mine+lock"
chmod 0600 "$MDBUS_DIR/sticky/mdbus.mine+lock"
printf '[global]\ndir = %s\n[channel mine]\nsource = synthetic\n' \
	"$MDBUS_DIR/sticky" >"$WORK/mine.conf"
chmod 0644 "$WORK/mine.conf"
status 1 runuser -u nobody -- timeout 60 "$MDPUB" -c "$WORK/mine.conf" \
	2>"$WORK/mine.err"
grep -q "channel mine: open its lock file $MDBUS_DIR/sticky/mdbus.mine+lock: Permission denied (a file of uid 0, mode 600, not this publisher's (uid 65534): another user's channel; remove it as its owner or root, or use another channel name or segment directory)$" \
	"$WORK/mine.err" || fail "another user's lock file: $(cat "$WORK/mine.err")"
exit 0
