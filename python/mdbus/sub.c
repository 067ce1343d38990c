/*
 * sub.c - mdbus._mdbus.Subscriber: a reader of one channel (mdbus_sub_*).
 * Waiting releases the GIL and waits in slices of SLICE_NS, checking for
 * signals between them, so that Ctrl-C interrupts a blocking read.
 * view() reads in place (view.c); the views' payload memoryviews are
 * buffers of the Subscriber, its only buffers. The Python class
 * mdbus.Subscriber (__init__.py) adds the message objects, the numpy
 * arrays of batches and the iterator on top.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "module.h"
#include "mdbus_msg.h"

#define SLICE_NS 50000000LL /* longest wait without looking at signals */

typedef struct mdbus_py_sub sub_object; /* module.h */

static const char *const start_names[] = {"latest", "oldest", NULL};
static const char *const wait_names[] = {"adaptive", "spin", "yield",
					 "block", NULL};

/* The index of s in names, or -1 with ValueError set. */
static int name_index(const char *const *names, const char *s,
		      const char *what)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	PyErr_Format(PyExc_ValueError, "%s: unknown %s", s, what);
	return -1;
}

/* Sets start and start_seq of cfg from the Python value ("latest",
 * "oldest" or a sequence number). Returns 0 or -1 with an exception. */
static int parse_start(PyObject *o, enum mdbus_start *start, uint64_t *seq)
{
	if (PyLong_Check(o)) {
		*seq = PyLong_AsUnsignedLongLong(o);
		*start = MDBUS_START_SEQ;
		return PyErr_Occurred() ? -1 : 0;
	}
	if (!PyUnicode_Check(o)) {
		PyErr_SetString(PyExc_TypeError,
				"start: \"latest\", \"oldest\" or an int");
		return -1;
	}
	int i = name_index(start_names, PyUnicode_AsUTF8(o), "start");

	if (i < 0)
		return -1;
	*start = i == 0 ? MDBUS_START_LATEST : MDBUS_START_OLDEST;
	return 0;
}

/* Sets *start and *ns to start at the first message stamped at or after
 * start_time_ns (an int of CLOCK_REALTIME ns, MDBUS_START_TIME), which
 * excludes a start of its own. Returns 0 or -1 with an exception. */
static int parse_start_time(PyObject *o, PyObject *start,
			    enum mdbus_start *st, uint64_t *ns)
{
	if (start) {
		PyErr_SetString(PyExc_ValueError,
				"give start or start_time_ns, not both");
		return -1;
	}
	if (mdbus_py_u64(o, "start_time_ns", ns) < 0)
		return -1;
	*st = MDBUS_START_TIME;
	return 0;
}

/* owner=: None (any, or $MDBUS_OWNER), a user name, or a uid as an
 * int (written into uid[]) into *out; 0, or -1 with the exception set. */
static int owner_text(PyObject *o, char uid[24], const char **out)
{
	uint64_t v;

	*out = NULL;
	if (!o || o == Py_None)
		return 0;
	if (PyUnicode_Check(o)) {
		Py_ssize_t n;

		*out = PyUnicode_AsUTF8AndSize(o, &n);
		if (!*out)
			return -1;
		if (strlen(*out) == (size_t)n)
			return 0;
		PyErr_SetString(PyExc_ValueError, "owner: embedded null character");
		return -1;
	}
	if (PyBool_Check(o) || !PyLong_Check(o)) {
		PyErr_Format(PyExc_TypeError, "owner: a user name or a uid, "
			     "not %s", Py_TYPE(o)->tp_name);
		return -1;
	}
	if (mdbus_py_u64(o, "owner", &v) < 0)
		return -1;
	if (v >= (uid_t)-1) {
		PyErr_Format(PyExc_ValueError, "owner: %R is not a uid", o);
		return -1;
	}
	snprintf(uid, 24, "%llu", (unsigned long long)v);
	*out = uid;
	return 0;
}

static int sub_init(sub_object *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"channel", "name", "start", "wait",
				 "anonymous", "dir", "start_time_ns",
				 "archive_dir", "owner", NULL};
	const char *channel, *name = NULL, *wait = "adaptive", *dir = NULL;
	const char *archive_dir = NULL;
	PyObject *start = NULL, *start_time = NULL, *owner = NULL;
	char owner_uid[24];
	int anonymous = 0, r;
	struct mdbus_sub_config cfg;

	if (self->sub) {
		PyErr_SetString(PyExc_RuntimeError, "already open");
		return -1;
	}
	self->fd = -1;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zOspzOzO", kwlist,
					 &channel, &name, &start, &wait,
					 &anonymous, &dir, &start_time,
					 &archive_dir, &owner))
		return -1;
	mdbus_sub_config_init(&cfg);
	cfg.name = name;
	if (owner_text(owner, owner_uid, &cfg.owner) < 0)
		return -1;
	cfg.anonymous = anonymous;
	cfg.dir = dir;
	cfg.archive_dir = archive_dir;
	if (start_time && start_time != Py_None &&
	    parse_start_time(start_time, start, &cfg.start,
			     &cfg.start_time_ns) < 0)
		return -1;
	if (start && parse_start(start, &cfg.start, &cfg.start_seq) < 0)
		return -1;
	r = name_index(wait_names, wait, "wait strategy");
	if (r < 0)
		return -1;
	cfg.wait = (enum mdbus_wait)r;
	Py_BEGIN_ALLOW_THREADS
	r = mdbus_sub_open(&self->sub, channel, &cfg);
	Py_END_ALLOW_THREADS
	if (r < 0) {
		self->sub = NULL;
		mdbus_py_raise(r, 1);
		return -1;
	}
	self->len = mdbus_sub_payload_max(self->sub);
	self->buf = PyMem_RawMalloc(self->len ? self->len : 1);
	if (!self->buf) {
		PyErr_NoMemory();
		return -1;
	}
	return 0;
}

/* The open handle, or NULL with an exception: closed, or in use by
 * another thread. */
static mdbus_sub_t *usable(sub_object *self)
{
	if (!self->sub) {
		PyErr_SetString(PyExc_ValueError, "Subscriber is closed");
		return NULL;
	}
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError,
				"Subscriber in use by another thread");
		return NULL;
	}
	return self->sub;
}

/* usable() for what would end or move past an open view (read_raw,
 * read_batch_raw, view): RuntimeError while one is open. */
static mdbus_sub_t *usable_unviewed(sub_object *self)
{
	if (self->view) {
		PyErr_SetString(PyExc_RuntimeError,
				"a view of this Subscriber is open: leave its "
				"with-block or release() it first");
		return NULL;
	}
	return usable(self);
}

/* 0 when no buffer points into the handle's mapping (a payload of a
 * released view that something was made from), else -1 with BufferError,
 * for close() and reopen(), which unmap (mmap.close()'s rule). */
static int unexported(sub_object *self, const char *what)
{
	if (self->exports) {
		PyErr_Format(PyExc_BufferError, "%s: %zd payload buffer(s) of "
			     "views still exported (numpy arrays or memoryview "
			     "slices made from them): delete them first",
			     what, self->exports);
		return -1;
	}
	return 0;
}

static void sub_free_handle(sub_object *self)
{
	mdbus_sub_close(self->sub); /* closes the descriptor too */
	self->sub = NULL;
	self->fd = -1;
	self->copied_left = 0;
	PyMem_RawFree(self->buf);
	self->buf = NULL;
}

static void sub_dealloc(sub_object *self)
{
	sub_free_handle(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *sub_close(sub_object *self, PyObject *unused)
{
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError,
				"Subscriber in use by another thread");
		return NULL;
	}
	/* an open view ends first, releasing none (as after an exception
	 * in its block) */
	if (self->view && mdbus_py_view_abort(self->view) < 0)
		return NULL;
	if (unexported(self, "close") < 0)
		return NULL;
	sub_free_handle(self);
	Py_RETURN_NONE;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Timeout in seconds (None: forever) as a deadline in ns (-1: none).
 * Returns 0 or -1 with an exception. */
static int parse_timeout(PyObject *o, int64_t *deadline)
{
	double s;

	*deadline = -1;
	if (!o || o == Py_None)
		return 0;
	s = PyFloat_AsDouble(o);
	if (s == -1.0 && PyErr_Occurred())
		return -1;
	if (s < 0)
		s = 0;
	*deadline = now_ns() + (int64_t)(s * 1e9);
	return 0;
}

/* The message of a copied view that was ended releasing none
 * (self->copied_left): the library's peek took it, moving the position
 * past it, and a read of its own would go on after it, neither
 * delivering nor counting it. A peek gives that view again; its message
 * is copied into self->buf and *m and the view released as taken.
 * Returns 1 with it, 0 when there is none (the flag cleared either
 * way), -1 with an exception. */
static int take_copied(sub_object *self, mdbus_sub_t *sub,
		       struct mdbus_msg *m)
{
	struct mdbus_view v;
	const void *p;
	int r;

	if (!self->copied_left)
		return 0;
	self->copied_left = 0;
	r = mdbus_sub_peek(sub, &v, 1);
	if (r < 0) {
		mdbus_py_raise(r, 0);
		return -1;
	}
	/* anything but that copy (never, while the flag is kept right): a
	 * view of the ring moves nothing unreleased; the read goes on */
	if (r == 0 || mdbus_sub_position(sub) != v.seq + 1 ||
	    !(p = mdbus_view_msg(&v, 0, m)))
		return 0;
	if (m->size > self->len) { /* as a read into self->buf: kept */
		self->copied_left = 1;
		mdbus_py_raise(-EMSGSIZE, 0);
		return -1;
	}
	memcpy(self->buf, p, m->size);
	r = mdbus_sub_release(sub, &v, 1);
	if (r < 0) {
		mdbus_py_raise(r, 0);
		return -1;
	}
	return 1;
}

/* Reads the next message into self->buf and *m, waiting until deadline
 * (-1: forever) in slices without the GIL, looking for signals between.
 * Returns 1 with a message, 0 at the deadline or after interrupt(), -1
 * with an exception. */
static int wait_read(sub_object *self, mdbus_sub_t *sub, int64_t deadline,
		     struct mdbus_msg *m)
{
	if (self->fd >= 0) { /* re-arm before looking (libmdbus(3)) */
		uint64_t v;

		(void)!read(self->fd, &v, sizeof v); /* non-blocking */
	}
	if (self->copied_left) {
		int r = take_copied(self, sub, m);

		if (r != 0)
			return r;
	}
	for (;;) {
		int64_t slice = SLICE_NS;
		int r;

		if (deadline >= 0) {
			int64_t left = deadline - now_ns();

			slice = left < 0 ? 0 : left < slice ? left : slice;
		}
		self->busy = 1;
		Py_BEGIN_ALLOW_THREADS
		r = slice ? mdbus_sub_read(sub, self->buf, self->len, m, slice)
			  : mdbus_sub_try_read(sub, self->buf, self->len, m);
		Py_END_ALLOW_THREADS
		self->busy = 0;
		if (r == 0)
			return 1;
		if (r != -ETIMEDOUT && r != -EAGAIN && r != -EINTR) {
			mdbus_py_raise(r, 0);
			return -1;
		}
		if (PyErr_CheckSignals() < 0)
			return -1;
		if (r == -EINTR || slice == 0)
			return 0;
	}
}

/* read_raw(timeout=None): (seq, ts_ns, type, lost, payload bytes), or None
 * at the timeout or after interrupt(). */
static PyObject *sub_read_raw(sub_object *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"timeout", NULL};
	PyObject *timeout = NULL;
	mdbus_sub_t *sub;
	struct mdbus_msg m;
	int64_t deadline;
	int r;

	/* the arguments first: their __float__ may run anything, close()
	 * or view() included (so every method takes the handle after) */
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &timeout) ||
	    parse_timeout(timeout, &deadline) < 0 ||
	    !(sub = usable_unviewed(self)))
		return NULL;
	r = wait_read(self, sub, deadline, &m);
	if (r <= 0)
		return r < 0 ? NULL : Py_NewRef(Py_None);
	return mdbus_py_msg_tuple(&m, self->buf);
}

/* read_batch_raw(max_n, timeout=None): waits as read_raw() for a first
 * message, then takes what is ready, up to max_n messages. Returns
 * (rows, other): rows a dict {type: bytearray of rows} (module.h,
 * mdbus_py_batch_add), other a list of read_raw() tuples. */
static PyObject *sub_read_batch_raw(sub_object *self, PyObject *args,
				    PyObject *kw)
{
	static char *kwlist[] = {"max_n", "timeout", NULL};
	PyObject *timeout = NULL, *rows = NULL, *other = NULL;
	mdbus_sub_t *sub;
	Py_ssize_t max_n;
	struct mdbus_msg m;
	int64_t deadline;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "n|O", kwlist, &max_n,
					 &timeout) ||
	    parse_timeout(timeout, &deadline) < 0 ||
	    !(sub = usable_unviewed(self)))
		return NULL;
	rows = PyDict_New();
	other = PyList_New(0);
	if (!rows || !other)
		goto fail;
	r = max_n > 0 ? wait_read(self, sub, deadline, &m) : 0;
	if (r < 0)
		goto fail;
	/* after the first message an error waits for the next call */
	for (Py_ssize_t n = 0; r > 0; ) {
		if (mdbus_py_batch_add(rows, other, &m, self->buf) < 0)
			goto fail;
		if (++n == max_n)
			break;
		r = mdbus_sub_try_read(sub, self->buf, self->len, &m) == 0;
	}
	return Py_BuildValue("(NN)", rows, other);
fail:
	Py_XDECREF(rows);
	Py_XDECREF(other);
	return NULL;
}

static PyObject *sub_interrupt(sub_object *self, PyObject *unused)
{
	if (self->sub)
		mdbus_sub_interrupt(self->sub);
	Py_RETURN_NONE;
}

/* The read buffer, for a segment whose slots may be larger than the
 * last one's (a reopen onto a channel made again): every read of a
 * larger message failed with EMSGSIZE. 0, or -1 with an exception. */
static int grow_buf(sub_object *self, mdbus_sub_t *sub)
{
	size_t max = mdbus_sub_payload_max(sub);
	void *buf;

	if (max <= self->len)
		return 0;
	buf = PyMem_RawRealloc(self->buf, max);
	if (!buf) {
		PyErr_NoMemory();
		return -1;
	}
	self->buf = buf;
	self->len = max;
	return 0;
}

static PyObject *sub_reopen(sub_object *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"start", "start_time_ns", NULL};
	PyObject *start = NULL, *start_time = NULL;
	enum mdbus_start st = MDBUS_START_LATEST;
	uint64_t seq = 0;
	mdbus_sub_t *sub;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO", kwlist,
					 &start, &start_time))
		return NULL;
	if (start_time && start_time != Py_None) {
		if (parse_start_time(start_time, start, &st, &seq) < 0)
			return NULL;
	} else if (start && parse_start(start, &st, &seq) < 0) {
		return NULL;
	}
	if (!(sub = usable_unviewed(self)) || unexported(self, "reopen") < 0)
		return NULL;
	/* copied_left kept: in the same segment the library still holds
	 * the copy (the next read takes it, take_copied()); in another,
	 * take_copied() finds none and the read goes on */
	r = mdbus_sub_reopen(sub, st, seq);
	if (r < 0)
		return mdbus_py_raise(r, 1);
	return grow_buf(self, sub) < 0 ? NULL : Py_NewRef(Py_None);
}

/* view(max_n=1024): the messages ready, in place (view.c). */
static PyObject *sub_view(sub_object *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"max_n", NULL};
	Py_ssize_t max_n = 1024;
	mdbus_sub_t *sub;

	/* max_n's __index__ may close() us: the handle taken after it */
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|n", kwlist, &max_n))
		return NULL;
	if (max_n < 1) {
		PyErr_SetString(PyExc_ValueError, "view: max_n must be >= 1");
		return NULL;
	}
	if (!(sub = usable_unviewed(self)))
		return NULL;
	return mdbus_py_view_open(self, sub, max_n); /* re-arms the fd */
}

/* The buffer protocol, for the payloads of views alone: each payload
 * memoryview is a buffer of the Subscriber (its .obj), so that the
 * handle outlives every buffer into its mapping and close() knows how
 * many there are. Read-only: the ring is mapped so. */
static int sub_getbuffer(sub_object *self, Py_buffer *b, int flags)
{
	const void *p = self->export_buf;

	self->export_buf = NULL;
	if (!p || !self->sub) {
		PyErr_SetString(PyExc_BufferError, "a Subscriber exports no "
				"buffer: read its views' payloads");
		b->obj = NULL;
		return -1;
	}
	if (PyBuffer_FillInfo(b, (PyObject *)self, (void *)p,
			      self->export_len, 1, flags) < 0)
		return -1;
	self->exports++;
	return 0;
}

static void sub_releasebuffer(sub_object *self, Py_buffer *b)
{
	(void)b;
	self->exports--;
}

static PyBufferProcs sub_as_buffer = {
	.bf_getbuffer = (getbufferproc)sub_getbuffer,
	.bf_releasebuffer = (releasebufferproc)sub_releasebuffer,
};

/* fileno(): mdbus_sub_fd(), for select, selectors and asyncio's
 * add_reader(). Readable when there may be something to read; each
 * read() or read_batch() re-arms it first, so read(timeout=0) until None
 * after each readiness; a view() that finds nothing re-arms it and looks
 * again (view.c), so view() until an empty one. The handle owns it:
 * close() closes it. */
static PyObject *sub_fileno(sub_object *self, PyObject *unused)
{
	mdbus_sub_t *sub = usable(self);
	int r;

	if (!sub)
		return NULL;
	if (self->fd < 0) {
		r = mdbus_sub_fd(sub);
		if (r < 0)
			return mdbus_py_raise(r, 0);
		self->fd = r;
	}
	return PyLong_FromLong(self->fd);
}

/* counters(): the publisher counters of the segment this reader reads
 * (mdbus_sub_counters()), as counters() returns them. */
static PyObject *sub_counters(sub_object *self, PyObject *unused)
{
	mdbus_sub_t *sub = usable(self);
	struct mdbus_counter c[MDBUS_COUNTERS_MAX];
	int r;

	if (!sub)
		return NULL;
	r = mdbus_sub_counters(sub, c, MDBUS_COUNTERS_MAX);
	if (r < 0)
		return mdbus_py_raise(r, 0);
	return mdbus_py_counter_list(c, r);
}

static PyObject *sub_publisher_info(sub_object *self, PyObject *unused)
{
	mdbus_sub_t *sub = usable(self);
	struct mdbus_pub_info info;
	int r;

	if (!sub)
		return NULL;
	r = mdbus_sub_pub_info(sub, &info);
	if (r < 0)
		return mdbus_py_raise(r, 0);
	return Py_BuildValue("{sssisLsK}",
			     "state", mdbus_pub_state_name(info.state),
			     "pid", (int)info.pid,
			     "heartbeat_age_ns", (long long)info.heartbeat_age_ns,
			     "write_num", (unsigned long long)info.write_num);
}

/* The getters: counters of the handle (ValueError when closed). */
static PyObject *sub_get(sub_object *self, void *which)
{
	mdbus_sub_t *sub = self->sub;

	if (!sub) {
		PyErr_SetString(PyExc_ValueError, "Subscriber is closed");
		return NULL;
	}
	switch ((intptr_t)which) {
	case 0: return PyLong_FromUnsignedLongLong(mdbus_sub_lost(sub));
	case 1: return PyLong_FromUnsignedLongLong(mdbus_sub_loss_events(sub));
	case 2: return PyLong_FromUnsignedLongLong(mdbus_sub_position(sub));
	case 3: return PyBool_FromLong(mdbus_sub_caught_up(sub));
	case 5: return PyBool_FromLong(mdbus_sub_replaying(sub));
	case 6: return PyLong_FromUnsignedLongLong(mdbus_sub_archive_skipped(sub));
	case 7: return PyLong_FromUnsignedLong(mdbus_sub_owner(sub));
	case 8: return PyLong_FromUnsignedLongLong(mdbus_sub_epoch(sub));
	default: return PyLong_FromSize_t(mdbus_sub_payload_max(sub));
	}
}

static PyObject *sub_closed(sub_object *self, void *unused)
{
	return PyBool_FromLong(self->sub == NULL);
}

static PyGetSetDef sub_getset[] = {
	{"lost", (getter)sub_get, NULL, "messages this reader lost", (void *)0},
	{"loss_events", (getter)sub_get, NULL, "gaps they came in", (void *)1},
	{"position", (getter)sub_get, NULL, "sequence of the next message", (void *)2},
	{"caught_up", (getter)sub_get, NULL, "everything published read", (void *)3},
	{"payload_max", (getter)sub_get, NULL, "bytes a slot carries", (void *)4},
	{"replaying", (getter)sub_get, NULL,
	 "reading the channel's archive, not the ring", (void *)5},
	{"archive_skipped", (getter)sub_get, NULL,
	 "archive records read past, not returned, to reach the position",
	 (void *)6},
	{"owner", (getter)sub_get, NULL,
	 "uid of the segment file's owner: the user this reader trusts",
	 (void *)7},
	{"epoch", (getter)sub_get, NULL,
	 "epoch of the segment this reader maps (stats()['epoch'] of it)",
	 (void *)8},
	{"closed", (getter)sub_closed, NULL, "close() was called", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef sub_methods[] = {
	{"read_raw", (PyCFunction)(void (*)(void))sub_read_raw,
	 METH_VARARGS | METH_KEYWORDS, "read_raw(timeout=None)"},
	{"read_batch_raw", (PyCFunction)(void (*)(void))sub_read_batch_raw,
	 METH_VARARGS | METH_KEYWORDS, "read_batch_raw(max_n, timeout=None)"},
	{"view", (PyCFunction)(void (*)(void))sub_view,
	 METH_VARARGS | METH_KEYWORDS, mdbus_py_view_doc},
	{"interrupt", (PyCFunction)sub_interrupt, METH_NOARGS,
	 "make a read waiting in another thread return None"},
	{"reopen", (PyCFunction)(void (*)(void))sub_reopen,
	 METH_VARARGS | METH_KEYWORDS, "reopen(start='latest', start_time_ns=None)"},
	{"fileno", (PyCFunction)sub_fileno, METH_NOARGS,
	 "a descriptor readable when there may be a message (select)"},
	{"counters", (PyCFunction)sub_counters, METH_NOARGS,
	 "the publisher's counters: a list of dicts"},
	{"publisher_info", (PyCFunction)sub_publisher_info, METH_NOARGS,
	 "publisher state, pid, heartbeat age, messages published"},
	{"close", (PyCFunction)sub_close, METH_NOARGS, "close the reader"},
	{NULL, NULL, 0, NULL},
};

static PyTypeObject sub_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mdbus._mdbus.Subscriber",
	.tp_basicsize = sizeof(sub_object),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "a reader of an mdbus channel (mdbus.Subscriber)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)sub_init,
	.tp_dealloc = (destructor)sub_dealloc,
	.tp_methods = sub_methods,
	.tp_getset = sub_getset,
	.tp_as_buffer = &sub_as_buffer,
};

int mdbus_py_sub_init(PyObject *m)
{
	if (PyType_Ready(&sub_type) < 0 || mdbus_py_view_init(m) < 0)
		return -1;
	return PyModule_AddObjectRef(m, "Subscriber", (PyObject *)&sub_type);
}
