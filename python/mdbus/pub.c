/*
 * pub.c - mdbus._mdbus.Publisher: the publisher of one channel
 * (mdbus_pub_*). Publishing never waits, so the GIL is kept except while
 * opening (which may create and pre-fault a segment).
 */
#include <string.h>

#include "module.h"

typedef struct {
	PyObject_HEAD
	mdbus_pub_t *pub;
} pub_object;

static int parse_mode(const char *s, enum mdbus_mode *mode)
{
	if (strcmp(s, "overwrite") == 0)
		*mode = MDBUS_MODE_OVERWRITE;
	else if (strcmp(s, "lossless") == 0)
		*mode = MDBUS_MODE_LOSSLESS;
	else {
		PyErr_Format(PyExc_ValueError, "%s: unknown mode", s);
		return -1;
	}
	return 0;
}

static int pub_init(pub_object *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"channel", "slot_size", "slots_per_block",
				 "block_count", "max_consumers", "mode", "dir",
				 "file_mode", "replace", "group",
				 "stall_evict_ns", "nudge_anonymous", NULL};
	struct mdbus_pub_config cfg;
	const char *channel, *mode = "overwrite";
	uint32_t file_mode;
	uint64_t evict;
	int replace = 0, nudge = 1, r;

	if (self->pub) {
		PyErr_SetString(PyExc_RuntimeError, "already open");
		return -1;
	}
	mdbus_pub_config_init(&cfg);
	file_mode = cfg.file_mode;
	evict = cfg.stall_evict_ns;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|$O&O&O&O&szO&pzO&p", kwlist,
					 &channel, mdbus_py_conv_u32, &cfg.slot_size,
					 mdbus_py_conv_u32, &cfg.slots_per_block,
					 mdbus_py_conv_u32, &cfg.block_count,
					 mdbus_py_conv_u32, &cfg.max_consumers,
					 &mode, &cfg.dir, mdbus_py_conv_u32,
					 &file_mode, &replace, &cfg.group,
					 mdbus_py_conv_u64, &evict, &nudge) ||
	    parse_mode(mode, &cfg.mode) < 0)
		return -1;
	cfg.file_mode = (mode_t)file_mode;
	cfg.stall_evict_ns = evict;
	cfg.flags = (replace ? MDBUS_PUB_REPLACE : 0) |
		    (nudge ? MDBUS_PUB_NUDGE : 0);
	Py_BEGIN_ALLOW_THREADS
	r = mdbus_pub_open(&self->pub, channel, &cfg);
	Py_END_ALLOW_THREADS
	if (r < 0) {
		self->pub = NULL;
		mdbus_py_raise(r, 1);
		return -1;
	}
	return 0;
}

static mdbus_pub_t *usable(pub_object *self)
{
	if (!self->pub)
		PyErr_SetString(PyExc_ValueError, "Publisher is closed");
	return self->pub;
}

static void pub_dealloc(pub_object *self)
{
	mdbus_pub_close(self->pub);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *pub_close(pub_object *self, PyObject *unused)
{
	mdbus_pub_close(self->pub);
	self->pub = NULL;
	Py_RETURN_NONE;
}

/* publish(type, data, ts_ns=0): data any bytes-like object. */
static PyObject *pub_publish(pub_object *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"type", "data", "ts_ns", NULL};
	mdbus_pub_t *pub = usable(self);
	uint16_t type;
	uint64_t ts = 0;
	Py_buffer data;
	int r;

	if (!pub || !PyArg_ParseTupleAndKeywords(args, kw, "O&y*|O&", kwlist,
						 mdbus_py_conv_u16, &type,
						 &data, mdbus_py_conv_u64, &ts))
		return NULL;
	r = mdbus_pub_publish(pub, type, data.buf, (size_t)data.len, ts);
	PyBuffer_Release(&data);
	if (r < 0)
		return mdbus_py_raise(r, 0);
	Py_RETURN_NONE;
}

#define ROWS_BATCH 64u /* messages per mdbus_pub_publish_batch() */

/* publish_rows(type, data, itemsize, ts_ns=0): publishes data (a
 * C-contiguous buffer) as len / itemsize messages of itemsize bytes each.
 * Returns how many were published: fewer when a lossless channel pushes
 * back (the rest was not). */
static PyObject *pub_publish_rows(pub_object *self, PyObject *args,
				  PyObject *kw)
{
	static char *kwlist[] = {"type", "data", "itemsize", "ts_ns", NULL};
	mdbus_pub_t *pub = usable(self);
	uint16_t type;
	uint64_t ts = 0;
	Py_ssize_t itemsize, n = 0, rows;
	Py_buffer data;
	int r = 0;

	if (!pub || !PyArg_ParseTupleAndKeywords(args, kw, "O&y*n|O&", kwlist,
						 mdbus_py_conv_u16, &type,
						 &data, &itemsize,
						 mdbus_py_conv_u64, &ts))
		return NULL;
	if (itemsize <= 0 || data.len % itemsize) {
		PyBuffer_Release(&data);
		PyErr_SetString(PyExc_ValueError,
				"data is not a whole number of rows");
		return NULL;
	}
	rows = data.len / itemsize;
	if ((uint64_t)itemsize > UINT32_MAX) {
		PyBuffer_Release(&data);
		return mdbus_py_raise(MDBUS_ETOOBIG, 0);
	}
	while (n < rows) { /* batches: one atomic step each (libmdbus(3)) */
		struct mdbus_pub_msg batch[ROWS_BATCH];
		unsigned k, count = rows - n < ROWS_BATCH ? (unsigned)(rows - n)
							  : ROWS_BATCH;

		for (k = 0; k < count; k++) {
			batch[k].data = (char *)data.buf + (n + k) * itemsize;
			batch[k].size = (uint32_t)itemsize;
			batch[k].type = type;
			batch[k].ts_ns = ts;
		}
		r = mdbus_pub_publish_batch(pub, batch, count);
		if (r < 0)
			break;
		n += r;
		if ((unsigned)r < count) /* a lossless channel pushed back */
			break;
	}
	PyBuffer_Release(&data);
	if (r < 0 && r != MDBUS_EBACKPRESSURE)
		return mdbus_py_raise(r, 0);
	return PyLong_FromSsize_t(n);
}

/* skip(n): the next message gets position + n; readers count the n as
 * lost (mdbus_pub_skip()). Raises Backpressure (lossless: nothing
 * skipped; call skip(n) again with the same n before publishing),
 * Error (-EOVERFLOW past 2**62). */
static PyObject *pub_skip(pub_object *self, PyObject *arg)
{
	mdbus_pub_t *pub = usable(self);
	uint64_t n;
	int r;

	if (!pub || mdbus_py_u64(arg, "skip", &n) < 0)
		return NULL;
	r = mdbus_pub_skip(pub, n);
	if (r < 0)
		return mdbus_py_raise(r, 0);
	Py_RETURN_NONE;
}

/* counter_new(label, kind="total"|"gauge"): defines the next counter
 * (value 0) and returns its id. */
static PyObject *pub_counter_new(pub_object *self, PyObject *args,
				 PyObject *kw)
{
	static char *kwlist[] = {"label", "kind", NULL};
	mdbus_pub_t *pub = usable(self);
	const char *label, *kind = "total";
	enum mdbus_counter_kind k;
	int r;

	if (!pub || !PyArg_ParseTupleAndKeywords(args, kw, "s|s", kwlist,
						 &label, &kind))
		return NULL;
	if (strcmp(kind, "total") == 0)
		k = MDBUS_COUNTER_TOTAL;
	else if (strcmp(kind, "gauge") == 0)
		k = MDBUS_COUNTER_GAUGE;
	else
		return PyErr_Format(PyExc_ValueError,
				    "%s: unknown counter kind (total, gauge)",
				    kind);
	r = mdbus_pub_counter_new(pub, label, k);
	return r < 0 ? mdbus_py_raise(r, 0) : PyLong_FromLong(r);
}

/* ValueError unless id is a counter id (0..MDBUS_COUNTERS_MAX-1):
 * libmdbus ignores others, Python says so. Returns 0 or -1. */
static int check_id(int id, const char *call)
{
	if (id >= 0 && id < MDBUS_COUNTERS_MAX)
		return 0;
	PyErr_Format(PyExc_ValueError, "%s: counter id %d is not in 0..%d",
		     call, id, MDBUS_COUNTERS_MAX - 1);
	return -1;
}

/* counter_set(id, value), counter_add(id, delta) (add = 1). */
static PyObject *pub_counter_update(pub_object *self, PyObject *args,
				    int add)
{
	const char *call = add ? "counter_add" : "counter_set";
	mdbus_pub_t *pub = usable(self);
	PyObject *o;
	uint64_t v;
	int id;

	if (!pub || !PyArg_ParseTuple(args, "iO", &id, &o) ||
	    check_id(id, call) < 0 || mdbus_py_u64(o, call, &v) < 0)
		return NULL;
	(add ? mdbus_pub_counter_add : mdbus_pub_counter_set)(pub, id, v);
	Py_RETURN_NONE;
}

static PyObject *pub_counter_set(pub_object *self, PyObject *args)
{
	return pub_counter_update(self, args, 0);
}

static PyObject *pub_counter_add(pub_object *self, PyObject *args)
{
	return pub_counter_update(self, args, 1);
}

/* counter_get(id): its value (0 for an id not defined yet). */
static PyObject *pub_counter_get(pub_object *self, PyObject *args)
{
	mdbus_pub_t *pub = usable(self);
	int id;

	if (!pub || !PyArg_ParseTuple(args, "i", &id) ||
	    check_id(id, "counter_get") < 0)
		return NULL;
	return PyLong_FromUnsignedLongLong(mdbus_pub_counter_get(pub, id));
}

static PyObject *pub_heartbeat(pub_object *self, PyObject *unused)
{
	mdbus_pub_t *pub = usable(self);

	if (!pub)
		return NULL;
	mdbus_pub_heartbeat(pub);
	Py_RETURN_NONE;
}

static PyObject *pub_reap(pub_object *self, PyObject *unused)
{
	mdbus_pub_t *pub = usable(self);
	int r;

	if (!pub)
		return NULL;
	r = mdbus_pub_reap(pub);
	return r < 0 ? mdbus_py_raise(r, 0) : PyLong_FromLong(r);
}

static PyObject *pub_get(pub_object *self, void *which)
{
	mdbus_pub_t *pub = usable(self);

	if (!pub)
		return NULL;
	if (which)
		return PyLong_FromSize_t(mdbus_pub_payload_max(pub));
	return PyLong_FromUnsignedLongLong(mdbus_pub_position(pub));
}

static PyObject *pub_closed(pub_object *self, void *unused)
{
	return PyBool_FromLong(self->pub == NULL);
}

static PyGetSetDef pub_getset[] = {
	{"position", (getter)pub_get, NULL, "sequence of the next message", NULL},
	{"payload_max", (getter)pub_get, NULL, "bytes a slot carries", (void *)1},
	{"closed", (getter)pub_closed, NULL, "close() was called", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef pub_methods[] = {
	{"publish", (PyCFunction)(void (*)(void))pub_publish,
	 METH_VARARGS | METH_KEYWORDS, "publish(type, data, ts_ns=0)"},
	{"publish_rows", (PyCFunction)(void (*)(void))pub_publish_rows,
	 METH_VARARGS | METH_KEYWORDS, "publish_rows(type, data, itemsize, ts_ns=0)"},
	{"skip", (PyCFunction)pub_skip, METH_O,
	 "skip(n): the next message gets position + n, readers count n lost"},
	{"counter_new", (PyCFunction)(void (*)(void))pub_counter_new,
	 METH_VARARGS | METH_KEYWORDS,
	 "counter_new(label, kind='total'|'gauge'): the new counter's id"},
	{"counter_set", (PyCFunction)pub_counter_set, METH_VARARGS,
	 "counter_set(id, value)"},
	{"counter_add", (PyCFunction)pub_counter_add, METH_VARARGS,
	 "counter_add(id, delta)"},
	{"counter_get", (PyCFunction)pub_counter_get, METH_VARARGS,
	 "counter_get(id): its value (0 for an id not defined)"},
	{"heartbeat", (PyCFunction)pub_heartbeat, METH_NOARGS,
	 "store the heartbeat time readers see"},
	{"reap", (PyCFunction)pub_reap, METH_NOARGS,
	 "free entries of dead readers, evict stalled ones (lossless)"},
	{"close", (PyCFunction)pub_close, METH_NOARGS,
	 "mark the channel stopped and unmap it"},
	{NULL, NULL, 0, NULL},
};

static PyTypeObject pub_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mdbus._mdbus.Publisher",
	.tp_basicsize = sizeof(pub_object),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "the publisher of an mdbus channel (mdbus.Publisher)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)pub_init,
	.tp_dealloc = (destructor)pub_dealloc,
	.tp_methods = pub_methods,
	.tp_getset = pub_getset,
};

int mdbus_py_pub_init(PyObject *m)
{
	if (PyType_Ready(&pub_type) < 0)
		return -1;
	return PyModule_AddObjectRef(m, "Publisher", (PyObject *)&pub_type);
}
