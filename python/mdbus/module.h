/*
 * module.h - the parts of the C extension mdbus._mdbus (python/README in
 * README.md, "Python"): the error classes, the Subscriber (and its
 * views) and Publisher types and the tools, each in its own file, put
 * together by module.c.
 */
#ifndef MDBUS_PY_MODULE_H
#define MDBUS_PY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "mdbus.h"

/* The header before each row of a batch or recording array: what struct
 * mdbus_msg says about the message, then its structure (mdbus_msg.h). */
struct mdbus_py_row_head {
	uint64_t seq;
	uint64_t ts_ns;
	uint64_t lost;
};

/* sub.c: a Subscriber. view.c reads and keeps its fields up to date:
 * `view` while a view is open (one at a time: reads and reopen() refuse,
 * close() ends it), `exports` while buffers into its mapping exist
 * (close() and reopen() refuse until they are gone, so nothing points
 * into an unmapped ring). */
struct mdbus_py_sub {
	PyObject_HEAD
	mdbus_sub_t *sub;
	void *buf;          /* payload_max bytes, malloc()ed: aligned */
	size_t len;
	int busy;           /* a thread waits in it without the GIL */
	int fd;             /* mdbus_sub_fd() once fileno() made it, else -1 */
	PyObject *view;     /* the open view (borrowed: it holds us), or NULL */
	/* a view of one copied message ended releasing none: the peek took
	 * it (the position is past it), so the next read delivers it first
	 * (sub.c take_copied()); a view or reopen() clears it */
	int copied_left;
	Py_ssize_t exports; /* payload buffers of views not yet released */
	/* the payload the next buffer request exports (view.c sets it just
	 * before PyMemoryView_FromObject(); NULL: refused) */
	const void *export_buf;
	Py_ssize_t export_len;
};

/* errors.c: creates mdbus.Error and its subclasses in module m.
 * Returns 0 or -1 with a Python exception set. */
int mdbus_py_errors_init(PyObject *m);

/* Sets the Python exception for library code err (< 0): the class for
 * that code (NotFound, Replaced, ...) or mdbus.Error, with .code and
 * .detail (mdbus_last_error() when `detail` is set, else "").
 * Returns NULL, for `return mdbus_py_raise(...)`. */
PyObject *mdbus_py_raise(int err, int detail);

/* errors.c: s, a string from shared memory or a file (names, labels,
 * the library's error texts), as a str: UTF-8, a byte that is not as
 * \xNN (as mdsub shows it); NULL with an exception (no memory). */
PyObject *mdbus_py_str(const char *s);

/* sub.c, pub.c: the types, ready to be added to the module.
 * Return 0 or -1 with a Python exception set. */
int mdbus_py_sub_init(PyObject *m);
int mdbus_py_pub_init(PyObject *m);

/* view.c: sub.view(max_n): a new mdbus.View of up to max_n messages
 * read in place (mdbus_sub_peek()) from the open handle h of self, or
 * NULL with an exception. mdbus_py_view_init() readies the types View
 * and ViewMessage and adds them to m: 0, or -1 with an exception. */
extern const char mdbus_py_view_doc[]; /* Subscriber.view's docstring */
PyObject *mdbus_py_view_open(struct mdbus_py_sub *self, mdbus_sub_t *h,
			     Py_ssize_t max_n);
int mdbus_py_view_init(PyObject *m);
/* Ends the open view `view` releasing none (close()): 0, or -1 with an
 * exception. (A copied view ended so sets self->copied_left.) */
int mdbus_py_view_abort(PyObject *view);

/* tools.c: the module-level functions. */
extern PyMethodDef mdbus_py_tools[];

/* Sets *v to the int o, an argument called `what`: TypeError when o is
 * no int, ValueError when it is negative or above 2**64-1. Returns 0 or
 * -1 with the exception set. */
int mdbus_py_u64(PyObject *o, const char *what, uint64_t *v);

/* PyArg "O&" converters of an int argument in 0..2**16-1, 0..2**32-1 or
 * 0..2**64-1 into the uint16_t, uint32_t or uint64_t at out: 1, or 0
 * with TypeError (not an int) or ValueError (out of range) set. (The
 * "H", "I" and "K" formats take any int modulo the range.) */
int mdbus_py_conv_u16(PyObject *o, void *out);
int mdbus_py_conv_u32(PyObject *o, void *out);
int mdbus_py_conv_u64(PyObject *o, void *out);

/* The counters c[0..n) (n capped at MDBUS_COUNTERS_MAX) as a list of
 * dicts {"label", "kind" ("total" or "gauge"), "id", "value"}, or NULL
 * with an exception. */
PyObject *mdbus_py_counter_list(const struct mdbus_counter *c, int n);

/* Message m with payload buf as the tuple (seq, ts_ns, type, lost,
 * payload bytes), or NULL with an exception. */
PyObject *mdbus_py_msg_tuple(const struct mdbus_msg *m, const void *buf);

/* Appends message m with payload buf to the batch: a row in the
 * bytearray of its type in `rows` (a dict by type number) when the type
 * has a fixed structure and the message holds it, else a tuple
 * (seq, ts_ns, type, lost, bytes) to the list `other`. Returns 0 or -1
 * with a Python exception set. */
int mdbus_py_batch_add(PyObject *rows, PyObject *other,
		       const struct mdbus_msg *m, const void *buf);

#endif /* MDBUS_PY_MODULE_H */
