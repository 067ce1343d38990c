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
	unsigned int file_mode;
	unsigned long long evict;
	int replace = 0, nudge = 1, r;

	if (self->pub) {
		PyErr_SetString(PyExc_RuntimeError, "already open");
		return -1;
	}
	mdbus_pub_config_init(&cfg);
	file_mode = cfg.file_mode;
	evict = cfg.stall_evict_ns;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|$IIIIszIpzKp", kwlist,
					 &channel, &cfg.slot_size,
					 &cfg.slots_per_block,
					 &cfg.block_count, &cfg.max_consumers,
					 &mode, &cfg.dir, &file_mode, &replace,
					 &cfg.group, &evict, &nudge) ||
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
	unsigned short type;
	unsigned long long ts = 0;
	Py_buffer data;
	int r;

	if (!pub || !PyArg_ParseTupleAndKeywords(args, kw, "Hy*|K", kwlist,
						 &type, &data, &ts))
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
	unsigned short type;
	unsigned long long ts = 0;
	Py_ssize_t itemsize, n = 0, rows;
	Py_buffer data;
	int r = 0;

	if (!pub || !PyArg_ParseTupleAndKeywords(args, kw, "Hy*n|K", kwlist,
						 &type, &data, &itemsize, &ts))
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
