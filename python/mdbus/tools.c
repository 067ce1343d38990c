/*
 * tools.c - the module's functions: channels(), stats(), the raw reading
 * of a recording, the layout table of mdbus_msg.h that the numpy dtypes
 * of __init__.py are checked against, and the batch rows they view.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "module.h"
#include "mdbus_msg.h"
#include "mdbus_rec.h"

#define MDBUS_MSG_LEVEL_PSEUDO (-2) /* layout(): struct mdbus_level */

/* The row size of message type `type` in a batch (the head plus its
 * structure), or 0 for a type without a fixed structure (raw, snapshot,
 * unknown). */
static size_t row_size(uint16_t type)
{
	if (type == MDBUS_MSG_BOOK_SNAPSHOT)
		return 0; /* variable: header and levels */
	size_t n = mdbus_msg_min_size(type);

	return n ? sizeof(struct mdbus_py_row_head) + n : 0;
}

/* Appends one row (head and the type's structure) to the bytearray of
 * m->type in rows, creating it. Returns 0 or -1. */
static int append_row(PyObject *rows, const struct mdbus_msg *m,
		      const void *buf, size_t row)
{
	struct mdbus_py_row_head head = {m->seq, m->ts_ns, m->lost};
	PyObject *key = PyLong_FromLong(m->type), *ba;
	Py_ssize_t at;

	if (!key)
		return -1;
	ba = PyDict_GetItemWithError(rows, key);
	if (!ba && !PyErr_Occurred()) {
		ba = PyByteArray_FromStringAndSize(NULL, 0);
		if (ba && PyDict_SetItem(rows, key, ba) < 0)
			Py_CLEAR(ba);
		Py_XDECREF(ba); /* the dict holds it */
	}
	Py_DECREF(key);
	if (!ba)
		return -1;
	at = PyByteArray_GET_SIZE(ba);
	if (PyByteArray_Resize(ba, at + (Py_ssize_t)row) < 0)
		return -1;
	memcpy(PyByteArray_AS_STRING(ba) + at, &head, sizeof head);
	memcpy(PyByteArray_AS_STRING(ba) + at + sizeof head, buf,
	       row - sizeof head);
	return 0;
}

PyObject *mdbus_py_msg_tuple(const struct mdbus_msg *m, const void *buf)
{
	return Py_BuildValue("(KKHKy#)", (unsigned long long)m->seq,
			     (unsigned long long)m->ts_ns, m->type,
			     (unsigned long long)m->lost, (const char *)buf,
			     (Py_ssize_t)m->size);
}

int mdbus_py_batch_add(PyObject *rows, PyObject *other,
		       const struct mdbus_msg *m, const void *buf)
{
	size_t row = row_size(m->type);
	PyObject *t;
	int r;

	if (row && m->size >= row - sizeof(struct mdbus_py_row_head))
		return append_row(rows, m, buf, row);
	t = mdbus_py_msg_tuple(m, buf);
	if (!t)
		return -1;
	r = PyList_Append(other, t);
	Py_DECREF(t);
	return r;
}

int mdbus_py_u64(PyObject *o, const char *what, uint64_t *v)
{
	if (!PyLong_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s: an int, not %s", what,
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	*v = PyLong_AsUnsignedLongLong(o);
	if (!PyErr_Occurred())
		return 0;
	if (!PyErr_ExceptionMatches(PyExc_OverflowError))
		return -1;
	PyErr_Format(PyExc_ValueError, "%s: %R is not in 0..2**64-1", what, o);
	return -1;
}

/* *v: the int o in 0..max; 0, or -1 with the exception set. */
static int u64_upto(PyObject *o, uint64_t max, uint64_t *v)
{
	if (mdbus_py_u64(o, "argument", v) < 0)
		return -1;
	if (*v <= max)
		return 0;
	PyErr_Format(PyExc_ValueError, "argument: %R is not in 0..%llu", o,
		     (unsigned long long)max);
	return -1;
}

int mdbus_py_conv_u16(PyObject *o, void *out)
{
	uint64_t v;

	if (u64_upto(o, UINT16_MAX, &v) < 0)
		return 0;
	*(uint16_t *)out = (uint16_t)v;
	return 1;
}

int mdbus_py_conv_u32(PyObject *o, void *out)
{
	uint64_t v;

	if (u64_upto(o, UINT32_MAX, &v) < 0)
		return 0;
	*(uint32_t *)out = (uint32_t)v;
	return 1;
}

int mdbus_py_conv_u64(PyObject *o, void *out)
{
	return mdbus_py_u64(o, "argument", out) < 0 ? 0 : 1;
}

PyObject *mdbus_py_counter_list(const struct mdbus_counter *c, int n)
{
	PyObject *list = PyList_New(0);

	for (int i = 0; list && i < n && i < MDBUS_COUNTERS_MAX; i++) {
		PyObject *d = Py_BuildValue(
			"{sNsssIsK}", "label", mdbus_py_str(c[i].label), "kind",
			c[i].kind == MDBUS_COUNTER_GAUGE ? "gauge" : "total",
			"id", c[i].id, "value", (unsigned long long)c[i].value);

		if (!d || PyList_Append(list, d) < 0)
			Py_CLEAR(list);
		Py_XDECREF(d);
	}
	return list;
}

/* counters(channel, dir=None): the counters of the channel's publisher
 * (mdbus_channel_counters()): the last one's, also after it stopped. */
static PyObject *py_counters(PyObject *mod, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"channel", "dir", NULL};
	const char *channel, *dir = NULL;
	struct mdbus_counter c[MDBUS_COUNTERS_MAX];
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|z", kwlist, &channel,
					 &dir))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = mdbus_channel_counters(channel, dir, c, MDBUS_COUNTERS_MAX);
	Py_END_ALLOW_THREADS
	if (r < 0)
		return mdbus_py_raise(r, 1);
	return mdbus_py_counter_list(c, r);
}

/* remove_channel(channel, dir=None, force=False): every file of the
 * channel (mdbus_channel_remove()); the number removed. */
static PyObject *py_remove_channel(PyObject *mod, PyObject *args,
				   PyObject *kw)
{
	static char *kwlist[] = {"channel", "dir", "force", NULL};
	const char *channel, *dir = NULL;
	int force = 0, r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zp", kwlist, &channel,
					 &dir, &force))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = mdbus_channel_remove(channel, dir,
				 force ? MDBUS_UNLINK_FORCE : 0);
	Py_END_ALLOW_THREADS
	if (r < 0)
		return mdbus_py_raise(r, 1);
	return PyLong_FromLong(r);
}

static int add_channel(const char *channel, void *arg)
{
	PyObject *s = PyUnicode_FromString(channel);
	int r = s ? PyList_Append(arg, s) : -1;

	Py_XDECREF(s);
	return r < 0 ? 1 : 0;
}

/* channels(dir=None): the channel names in the segment directory. */
static PyObject *py_channels(PyObject *mod, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"dir", NULL};
	const char *dir = NULL;
	PyObject *list;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|z", kwlist, &dir))
		return NULL;
	list = PyList_New(0);
	if (!list)
		return NULL;
	r = mdbus_list(dir, add_channel, list);
	if (r == 0)
		return list;
	Py_DECREF(list);
	return r > 0 ? NULL : mdbus_py_raise(r, 1);
}

static PyObject *consumer_dict(const struct mdbus_consumer_stat *c)
{
	return Py_BuildValue("{sNsisOsOsKsKsK}", "name", mdbus_py_str(c->name),
			     "pid", (int)c->pid,
			     "alive", c->alive ? Py_True : Py_False,
			     "evicted", c->evicted ? Py_True : Py_False,
			     "position", (unsigned long long)c->position,
			     "lag", (unsigned long long)c->lag,
			     "lost", (unsigned long long)c->lost);
}

static PyObject *stats_dict(const struct mdbus_stats *st, PyObject *cons)
{
	return Py_BuildValue(
		"{sss(II)sIsIsIsIsKsKsssKsKs{sssisLsK}sNsI}",
		"channel", st->channel,
		"layout", st->layout_major, st->layout_minor,
		"slot_size", st->slot_size,
		"slots_per_block", st->slots_per_block,
		"block_count", st->block_count,
		"max_consumers", st->max_consumers,
		"capacity", (unsigned long long)st->capacity,
		"total_size", (unsigned long long)st->total_size,
		"mode", mdbus_mode_name(st->mode),
		"epoch", (unsigned long long)st->epoch,
		"create_ns", (unsigned long long)st->create_ns,
		"publisher",
		"state", mdbus_pub_state_name(st->pub.state),
		"pid", (int)st->pub.pid,
		"heartbeat_age_ns", (long long)st->pub.heartbeat_age_ns,
		"write_num", (unsigned long long)st->pub.write_num,
		"consumers", cons,
		"owner", (unsigned)st->owner);
}

/* stats(channel, dir=None): the channel's geometry, publisher and
 * consumers as a dict; consumers None when the consumer table is
 * missing or spoiled (MDBUS_ETABLE). */
static PyObject *py_stats(PyObject *mod, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"channel", "dir", NULL};
	const char *channel, *dir = NULL;
	struct mdbus_consumer_stat *cons;
	struct mdbus_stats st;
	PyObject *list = NULL;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|z", kwlist, &channel,
					 &dir))
		return NULL;
	cons = PyMem_Calloc(4096, sizeof *cons); /* the most a table has */
	if (!cons)
		return PyErr_NoMemory();
	Py_BEGIN_ALLOW_THREADS
	r = mdbus_channel_stats(channel, dir, &st, cons, 4096);
	Py_END_ALLOW_THREADS
	if (r == MDBUS_ETABLE) { /* the rest all the same; consumers None */
		PyMem_Free(cons);
		Py_INCREF(Py_None);
		return stats_dict(&st, Py_None);
	}
	if (r < 0) {
		PyMem_Free(cons);
		return mdbus_py_raise(r, 1);
	}
	list = PyList_New(0);
	for (uint32_t i = 0; list && i < st.consumers && i < 4096; i++) {
		PyObject *d = consumer_dict(&cons[i]);

		if (!d || PyList_Append(list, d) < 0)
			Py_CLEAR(list);
		Py_XDECREF(d);
	}
	PyMem_Free(cons);
	return list ? stats_dict(&st, list) : NULL;
}

static PyObject *rec_info_dict(const struct mdbus_rec_info *i)
{
	return Py_BuildValue("{sNs(II)sIsIsIsIsssK}", "channel",
			     mdbus_py_str(i->channel),
			     "format", i->format_major, i->format_minor,
			     "msg_version", i->msg_version,
			     "slot_size", i->slot_size,
			     "slots_per_block", i->slots_per_block,
			     "block_count", i->block_count,
			     "mode", mdbus_mode_name(i->mode),
			     "create_ns", (unsigned long long)i->create_ns);
}

/* Reads every record of r into rows and other (mdbus_py_batch_add).
 * Returns 0 at the end (a record cut short by a killed recorder ends it
 * too), or -1 with an exception. */
static int read_records(mdbus_rec_reader_t *r, PyObject *rows,
			PyObject *other)
{
	void *buf = PyMem_Malloc(MDBUS_REC_PAYLOAD_MAX);
	struct mdbus_msg m;
	int e;

	if (!buf) {
		PyErr_NoMemory();
		return -1;
	}
	while ((e = mdbus_rec_read(r, buf, MDBUS_REC_PAYLOAD_MAX, &m)) == 0)
		if (mdbus_py_batch_add(rows, other, &m, buf) < 0)
			break;
	PyMem_Free(buf);
	if (PyErr_Occurred())
		return -1;
	if (e == -ENODATA || e == MDBUS_ETRUNCATED)
		return 0;
	mdbus_py_raise(e, 0);
	return -1;
}

/* read_recording_raw(path): (info dict, rows, other) as read_batch_raw. */
static PyObject *py_read_recording_raw(PyObject *mod, PyObject *args)
{
	const char *path;
	mdbus_rec_reader_t *r;
	struct mdbus_rec_info info;
	PyObject *rows, *other, *res = NULL;
	int e;

	if (!PyArg_ParseTuple(args, "s", &path))
		return NULL;
	e = mdbus_rec_open(&r, path, &info);
	if (e < 0)
		return mdbus_py_raise(e, 1);
	rows = PyDict_New();
	other = PyList_New(0);
	if (rows && other && read_records(r, rows, other) == 0)
		res = Py_BuildValue("(NOO)", rec_info_dict(&info), rows, other);
	mdbus_rec_close(r);
	Py_XDECREF(rows);
	Py_XDECREF(other);
	return res;
}

/* The layout of the structures of mdbus_msg.h (and of the row head, as
 * type -1), as the compiler sees it: what the dtypes must match. */
struct field_at {
	int type;
	const char *name;
	size_t offset;
	size_t size;
};

#define F(t, s, f) {t, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f)}
#define SIZE(t, s) {t, NULL, 0, sizeof(struct s)}

static const struct field_at layout[] = {
	SIZE(-1, mdbus_py_row_head),
	F(-1, mdbus_py_row_head, seq), F(-1, mdbus_py_row_head, ts_ns),
	F(-1, mdbus_py_row_head, lost),
	SIZE(MDBUS_MSG_QUOTE, mdbus_quote),
	F(MDBUS_MSG_QUOTE, mdbus_quote, symbol),
	F(MDBUS_MSG_QUOTE, mdbus_quote, bid_px),
	F(MDBUS_MSG_QUOTE, mdbus_quote, bid_qty),
	F(MDBUS_MSG_QUOTE, mdbus_quote, ask_px),
	F(MDBUS_MSG_QUOTE, mdbus_quote, ask_qty),
	F(MDBUS_MSG_QUOTE, mdbus_quote, exch_ns),
	F(MDBUS_MSG_QUOTE, mdbus_quote, recv_ns),
	SIZE(MDBUS_MSG_TRADE, mdbus_trade),
	F(MDBUS_MSG_TRADE, mdbus_trade, symbol),
	F(MDBUS_MSG_TRADE, mdbus_trade, px),
	F(MDBUS_MSG_TRADE, mdbus_trade, qty),
	F(MDBUS_MSG_TRADE, mdbus_trade, trade_id),
	F(MDBUS_MSG_TRADE, mdbus_trade, exch_ns),
	F(MDBUS_MSG_TRADE, mdbus_trade, recv_ns),
	F(MDBUS_MSG_TRADE, mdbus_trade, aggressor),
	F(MDBUS_MSG_TRADE, mdbus_trade, pad),
	SIZE(MDBUS_MSG_BOOK_LEVEL, mdbus_book_level),
	F(MDBUS_MSG_BOOK_LEVEL, mdbus_book_level, symbol),
	F(MDBUS_MSG_BOOK_LEVEL, mdbus_book_level, px),
	F(MDBUS_MSG_BOOK_LEVEL, mdbus_book_level, qty),
	F(MDBUS_MSG_BOOK_LEVEL, mdbus_book_level, exch_ns),
	F(MDBUS_MSG_BOOK_LEVEL, mdbus_book_level, recv_ns),
	F(MDBUS_MSG_BOOK_LEVEL, mdbus_book_level, level),
	F(MDBUS_MSG_BOOK_LEVEL, mdbus_book_level, side),
	F(MDBUS_MSG_BOOK_LEVEL, mdbus_book_level, action),
	F(MDBUS_MSG_BOOK_LEVEL, mdbus_book_level, pad),
	SIZE(MDBUS_MSG_BOOK_SNAPSHOT, mdbus_book_snapshot),
	F(MDBUS_MSG_BOOK_SNAPSHOT, mdbus_book_snapshot, symbol),
	F(MDBUS_MSG_BOOK_SNAPSHOT, mdbus_book_snapshot, exch_ns),
	F(MDBUS_MSG_BOOK_SNAPSHOT, mdbus_book_snapshot, recv_ns),
	F(MDBUS_MSG_BOOK_SNAPSHOT, mdbus_book_snapshot, bids),
	F(MDBUS_MSG_BOOK_SNAPSHOT, mdbus_book_snapshot, asks),
	F(MDBUS_MSG_BOOK_SNAPSHOT, mdbus_book_snapshot, pad),
	SIZE(MDBUS_MSG_STATUS, mdbus_status),
	F(MDBUS_MSG_STATUS, mdbus_status, symbol),
	F(MDBUS_MSG_STATUS, mdbus_status, exch_ns),
	F(MDBUS_MSG_STATUS, mdbus_status, recv_ns),
	F(MDBUS_MSG_STATUS, mdbus_status, state),
	F(MDBUS_MSG_STATUS, mdbus_status, text),
	SIZE(MDBUS_MSG_HEARTBEAT, mdbus_heartbeat),
	F(MDBUS_MSG_HEARTBEAT, mdbus_heartbeat, send_ns),
	F(MDBUS_MSG_HEARTBEAT, mdbus_heartbeat, feed_seq),
	F(MDBUS_MSG_HEARTBEAT, mdbus_heartbeat, source_id),
	F(MDBUS_MSG_HEARTBEAT, mdbus_heartbeat, pad),
	SIZE(MDBUS_MSG_LEVEL_PSEUDO, mdbus_level),
	F(MDBUS_MSG_LEVEL_PSEUDO, mdbus_level, px),
	F(MDBUS_MSG_LEVEL_PSEUDO, mdbus_level, qty),
};

/* layout(): [(type, name, offset, size)], name None for the structure's
 * size; type -1 is the row head, -2 struct mdbus_level. */
static PyObject *py_layout(PyObject *mod, PyObject *unused)
{
	size_t n = sizeof layout / sizeof layout[0];
	PyObject *list = PyList_New((Py_ssize_t)n);

	for (size_t i = 0; list && i < n; i++) {
		PyObject *t = Py_BuildValue("(iznn)", layout[i].type,
					    layout[i].name,
					    (Py_ssize_t)layout[i].offset,
					    (Py_ssize_t)layout[i].size);

		if (!t)
			Py_CLEAR(list);
		else
			PyList_SET_ITEM(list, (Py_ssize_t)i, t);
	}
	return list;
}

PyMethodDef mdbus_py_tools[] = {
	{"channels", (PyCFunction)(void (*)(void))py_channels,
	 METH_VARARGS | METH_KEYWORDS, "channels(dir=None): channel names"},
	{"stats", (PyCFunction)(void (*)(void))py_stats,
	 METH_VARARGS | METH_KEYWORDS, "stats(channel, dir=None): a dict"},
	{"counters", (PyCFunction)(void (*)(void))py_counters,
	 METH_VARARGS | METH_KEYWORDS,
	 "counters(channel, dir=None): the publisher's counters, a list of dicts"},
	{"remove_channel", (PyCFunction)(void (*)(void))py_remove_channel,
	 METH_VARARGS | METH_KEYWORDS,
	 "remove_channel(channel, dir=None, force=False): files removed"},
	{"read_recording_raw", py_read_recording_raw, METH_VARARGS,
	 "read_recording_raw(path): (info, rows, other)"},
	{"layout", py_layout, METH_NOARGS,
	 "sizes and field offsets of the mdbus_msg.h structures"},
	{NULL, NULL, 0, NULL},
};
