# mdbus_cflags.m4 - warning flags the compiler in use accepts.
#
# MDBUS_CFLAG_PROBE(VARIABLE, FLAG, [FLAG-TO-ADD])
# Appends FLAG-TO-ADD (default FLAG) to VARIABLE when the C compiler
# compiles a trivial program with FLAG and -Werror, so that a flag the
# compiler does not know (clang only warns about those) is dropped
# instead of breaking a -Werror build. Probe -Wfoo to add -Wno-foo: GCC
# accepts any -Wno-foo silently. The result is cached per FLAG.
AC_DEFUN([MDBUS_CFLAG_PROBE], [
  AS_VAR_PUSHDEF([mdbus_cache], [mdbus_cv_cflag_$2])
  AC_CACHE_CHECK([whether $CC accepts $2], [mdbus_cache], [
    mdbus_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $2"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [AS_VAR_SET([mdbus_cache], [yes])],
      [AS_VAR_SET([mdbus_cache], [no])])
    CFLAGS=$mdbus_save_CFLAGS])
  AS_VAR_IF([mdbus_cache], [yes],
    [AS_VAR_APPEND([$1], [" m4_default([$3], [$2])"])])
  AS_VAR_POPDEF([mdbus_cache])
])

# MDBUS_CFLAGS_PROBE(VARIABLE, FLAGS)
# MDBUS_CFLAG_PROBE for each of the blank-separated FLAGS.
AC_DEFUN([MDBUS_CFLAGS_PROBE], [
  m4_foreach_w([mdbus_flag], [$2], [MDBUS_CFLAG_PROBE([$1], mdbus_flag)])
])
