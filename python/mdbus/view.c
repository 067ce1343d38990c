/*
 * view.c - mdbus._mdbus.View: messages read in place (mdbus_sub_peek(),
 * mdbus_view_msg(), mdbus_sub_release()), Subscriber.view() of sub.c.
 *
 * The view reads each message's header once, when it is made, up to the
 * first slot mdbus_view_msg() refuses (its length), so seq, ts_ns, type
 * and the payload's length never change under the caller: a payload
 * memoryview stays within its slot whatever the producer writes. Each
 * payload memoryview is a buffer of the Subscriber (sub.c's buffer
 * procs), which keeps the handle, and so the mapping, alive while any
 * buffer into it exists; the view releases the ones it made when it
 * ends. Neither the peek nor the release makes a system call, so the
 * GIL is kept throughout; once fileno() made its descriptor, a peek that
 * finds nothing re-arms it (one non-blocking read) and looks again.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "module.h"

struct view_msg {
	uint64_t ts_ns;
	const void *payload;
	uint32_t size;
	uint16_t type;
};

typedef struct {
	PyObject_HEAD
	struct mdbus_py_sub *owner; /* strong: outlives the view (NULL once
				       the collector cleared it, ended) */
	struct mdbus_view v;        /* as the peek filled it */
	int peeked;                 /* the peek returned a view (v is set) */
	int open;                   /* not released yet */
	int copied;                 /* of one message the library copied
				       out, taken by the peek */
	Py_ssize_t n;               /* messages readable (len) */
	Py_ssize_t used;            /* what leaving the block releases */
	Py_ssize_t torn;            /* the release's count, -1 before */
	struct view_msg *m;         /* n of them */
	PyObject **payload;         /* the memoryviews made so far (n) */
} view_object;

const char mdbus_py_view_doc[] =
"view(max_n=1024)\n--\n\n"
"Up to max_n messages ready now, read in place: a View of the ring's\n"
"own slots, zero copy (mdbus_sub_peek(); libmdbus(3), \"Reading in\n"
"place, in views\"). Never waits: nothing ready gives an empty View,\n"
"which is false (wait with fileno() and select: an empty view()\n"
"re-arms it, so after each readiness view() until an empty one) and\n"
"holds nothing: keeping it leaves the Subscriber free for the next\n"
"view() or read(). A View is a context manager and a sequence (len,\n"
"index, iteration) of ViewMessage(seq, ts_ns, type, payload), payload\n"
"a read-only memoryview of the message's bytes in the ring; view.seq\n"
"is the first message's number, view.lost the messages lost just\n"
"before it.\n\n"
"    with sub.view(1024) as v:\n"
"        for seq, ts_ns, type, payload in v:\n"
"            book.apply(seq, np.frombuffer(payload, mdbus.DTYPES[type]))\n"
"    if v.torn:    # its first v.torn messages were overwritten\n"
"        book.undo(v.seq, v.seq + v.torn)\n\n"
"Leaving the block releases the view (mdbus_sub_release()): the reader\n"
"moves past view.used messages, len(view) unless set lower (the rest\n"
"come again in the next view), or past none when the block raises (all\n"
"come again; call view.release(n) in the block to take the first n\n"
"anyway). A view of one message the library copied out (reading the\n"
"archive, reaching a start time, counting a lap) took it at the peek\n"
"(sub.position is past it, libmdbus(3)): released with none, it comes\n"
"again all the same, in the next view, read() or read_batch(), also\n"
"after a reopen() in the same segment.\n"
"release(used=None) ends it early; used=None means view.used.\n"
"view.torn is then how many of those released, always the first ones,\n"
"the producer overwrote while the view was held (overwrite mode; 0 in\n"
"lossless mode while registered, and for the one message the library\n"
"copies out when reading the archive, reaching a start time or counting\n"
"a lap): discard what you took from them; sub.lost counts them. Until\n"
"the release a payload is unchecked: the producer may be writing it as\n"
"you read it, so decide nothing irreversible on it before view.torn is\n"
"known (or copy it out: bytes(payload)). A lossless producer waits for\n"
"an open view, and evicts a reader that holds one stall_evict_ns: its\n"
"release then counts what the producer overwrote as torn, and the next\n"
"view() or read() raises mdbus.Evicted (reopen() to go on).\n\n"
"The view's memoryviews are released with it: using one afterwards, or\n"
"the view itself (len, index, iteration), raises ValueError. One that\n"
"something was made from (a numpy array, a slice) cannot be: it stays\n"
"readable, over whatever the ring holds by then, and close() and\n"
"reopen() raise BufferError until it is deleted (mmap's rule; it keeps\n"
"the Subscriber alive too), so no buffer outlives the mapping. Copy\n"
"what you keep past the block.\n"
"One view at a time: while one holding messages is open, view(), read(),\n"
"read_batch()\n"
"and reopen() raise RuntimeError; close() ends it first, releasing\n"
"none, as does a view dropped unreleased. The view's headers (seq, ts_ns,\n"
"type, payload length) are read once, when it is made; it ends before\n"
"a slot that does not hold the next message (the next view counts it).\n"
"Neither the peek nor the release makes a system call: the GIL is kept\n"
"(once fileno() made its descriptor, a view() that finds nothing reads\n"
"it once to re-arm it, a non-blocking read, and looks again; one that\n"
"finds messages leaves it as it is).";

static PyTypeObject view_type;
static PyTypeObject *msg_type; /* ViewMessage, a struct sequence */

static PyStructSequence_Field msg_fields[] = {
	{"seq", "sequence number"},
	{"ts_ns", "publisher's timestamp, CLOCK_REALTIME ns"},
	{"type", "message type number"},
	{"payload", "read-only memoryview into the ring (released with the "
		    "view; unchecked until the release: View.torn)"},
	{NULL, NULL},
};

static PyStructSequence_Desc msg_desc = {
	"mdbus.ViewMessage",
	"A message of a View: (seq, ts_ns, type, payload), payload a "
	"read-only memoryview of the message's bytes in the ring itself "
	"(zero copy), released when the view is.",
	msg_fields,
	4,
};

PyObject *mdbus_py_view_open(struct mdbus_py_sub *self, mdbus_sub_t *h,
			     Py_ssize_t max_n)
{
	view_object *o;
	struct mdbus_msg msg;
	int r;

	o = PyObject_GC_New(view_object, &view_type);
	if (!o)
		return NULL;
	o->owner = (struct mdbus_py_sub *)Py_NewRef((PyObject *)self);
	memset(&o->v, 0, sizeof o->v);
	o->peeked = o->open = o->copied = 0;
	o->n = o->used = 0;
	o->torn = -1;
	o->m = NULL;
	o->payload = NULL;
	PyObject_GC_Track(o);
	r = mdbus_sub_peek(h, &o->v, max_n > INT_MAX ? INT_MAX : (unsigned)max_n);
	if (r == 0 && self->fd >= 0) {
		/* Nothing: re-arm fileno()'s descriptor, then look again. The
		 * helper signals write counts past the one it last signalled
		 * (lib/sub_fd.c), so a message its readiness (taken by this
		 * read) stood for is below that count, and the second look
		 * finds it; anything later makes it readable again. A view
		 * that finds messages leaves it readable: no system call. */
		uint64_t x;

		(void)!read(self->fd, &x, sizeof x); /* non-blocking */
		r = mdbus_sub_peek(h, &o->v, max_n > INT_MAX ? INT_MAX :
				   (unsigned)max_n);
	}
	if (r < 0) {
		Py_DECREF(o);
		return mdbus_py_raise(r, 0);
	}
	if (r > 0) {
		o->peeked = 1;
		/* a view of the ring leaves the position at its first
		 * message; a copied one (libmdbus(3)) is past it */
		o->copied = mdbus_sub_position(h) != o->v.seq;
		/* the copy a view left (or another) is this view's now */
		self->copied_left = 0;
		o->m = PyMem_Malloc((size_t)r * sizeof *o->m);
		o->payload = PyMem_Calloc((size_t)r, sizeof *o->payload);
		if (!o->m || !o->payload) {
			self->copied_left = o->copied; /* left unreleased */
			Py_DECREF(o);
			return PyErr_NoMemory();
		}
	}
	/* the messages mdbus_view_msg() vouches for now: the view ends at
	 * the first it refuses (the next peek counts what that was) */
	for (; o->n < r; o->n++) {
		struct view_msg *e = &o->m[o->n];

		e->payload = mdbus_view_msg(&o->v, (unsigned)o->n, &msg);
		if (!e->payload)
			break;
		e->ts_ns = msg.ts_ns;
		e->size = msg.size;
		e->type = msg.type;
	}
	o->used = o->n;
	o->open = 1;
	/* an empty view holds nothing: it leaves the Subscriber free (a
	 * loop may keep it while it waits and then ask for the next) */
	if (o->n)
		self->view = (PyObject *)o;
	return (PyObject *)o;
}

/* Releases the payload memoryviews made (one the caller made something
 * from refuses: it stays, as a buffer of the Subscriber) and forgets
 * them. Keeps the exception being raised, if any. */
static void drop_payloads(view_object *o)
{
	PyObject *type, *value, *tb;

	if (!o->payload)
		return;
	PyErr_Fetch(&type, &value, &tb);
	for (Py_ssize_t i = 0; i < o->n; i++) {
		PyObject *p = o->payload[i], *r;

		if (!p)
			continue;
		/* ours before the call, which may run a collection and so
		 * any __del__ (or another thread), that may come here too */
		o->payload[i] = NULL;
		r = PyObject_CallMethod(p, "release", NULL);
		if (r)
			Py_DECREF(r);
		else
			PyErr_Clear(); /* BufferError: exported */
		Py_DECREF(p);
	}
	PyErr_Restore(type, value, tb);
}

/* Ends an open view, the reader moving past its first `used` messages:
 * the payloads released, then mdbus_sub_release(). Returns the torn
 * count, or -1 with an exception (the view is ended all the same). */
static Py_ssize_t view_end(view_object *o, Py_ssize_t used)
{
	int r = 0;

	/* Ended, and released in the library, before anything that may run
	 * Python code (drop_payloads(): a collection's __del__, another
	 * thread), which then finds the view released. The owner is open
	 * (close() ends us first) and has not read on (read_raw() refuses
	 * while we are open); a view of no message needs no release (and
	 * is not the owner's: reads may have moved on). */
	o->open = 0;
	if (o->peeked && o->n && o->owner->sub) {
		r = mdbus_sub_release(o->owner->sub, &o->v, (unsigned)used);
		/* the peek took it: the next read delivers it (sub.c) */
		if (r >= 0 && o->copied && used == 0)
			o->owner->copied_left = 1;
	}
	if (o->owner->view == (PyObject *)o)
		o->owner->view = NULL;
	drop_payloads(o);
	PyMem_Free(o->m);
	o->m = NULL;
	if (r < 0) {
		mdbus_py_raise(r, 0);
		return -1;
	}
	o->torn = r;
	return r;
}

int mdbus_py_view_abort(PyObject *view)
{
	view_object *o = (view_object *)view;

	return o->open && view_end(o, 0) < 0 ? -1 : 0;
}

/* Ends a view never released: nothing taken, all come again. */
static void view_abandon(view_object *o)
{
	PyObject *type, *value, *tb;

	if (!o->open)
		return;
	PyErr_Fetch(&type, &value, &tb);
	if (view_end(o, 0) < 0)
		PyErr_WriteUnraisable((PyObject *)o);
	PyErr_Restore(type, value, tb);
}

/* The collector's: a view kept on its Subscriber (sub.v = sub.view())
 * is a cycle through the owner, and a payload (through its buffer's
 * .obj) another. */
static int view_traverse(view_object *o, visitproc visit, void *arg)
{
	Py_VISIT(o->owner);
	if (o->payload)
		for (Py_ssize_t i = 0; i < o->n; i++)
			Py_VISIT(o->payload[i]);
	return 0;
}

/* Breaks those cycles: the view ends first, releasing none (the owner
 * is alive while we hold it, so is its handle; view_end() drops the
 * payloads), and only then lets the owner go, which may free the handle:
 * nothing of the view calls the library after. */
static int view_clear(view_object *o)
{
	view_abandon(o);
	drop_payloads(o); /* none left by view_end(); an unopened view's */
	Py_CLEAR(o->owner);
	return 0;
}

static void view_dealloc(view_object *o)
{
	PyObject_GC_UnTrack(o);
	view_abandon(o); /* open: the owner is held (view_clear() ends us) */
	PyMem_Free(o->m);
	PyMem_Free(o->payload);
	Py_XDECREF(o->owner);
	PyObject_GC_Del(o);
}

/* The open view, or -1 with ValueError (as a closed file). */
static int view_usable(view_object *o)
{
	if (o->open)
		return 0;
	PyErr_SetString(PyExc_ValueError, "operation on a released view");
	return -1;
}

static Py_ssize_t view_len(view_object *o)
{
	return view_usable(o) < 0 ? -1 : o->n;
}

static int view_bool(view_object *o)
{
	return view_usable(o) < 0 ? -1 : o->n > 0;
}

static PyObject *view_item(view_object *o, Py_ssize_t i)
{
	struct view_msg e;
	PyObject *t, *p;

	if (view_usable(o) < 0)
		return NULL;
	if (i < 0 || i >= o->n) {
		PyErr_SetString(PyExc_IndexError, "view index out of range");
		return NULL;
	}
	/* Each allocation below may run a collection, and so any __del__
	 * (or another thread) that may release the view: the entry copied
	 * first, the view looked at again after them. */
	e = o->m[i];
	t = PyStructSequence_New(msg_type);
	if (!t)
		return NULL;
	PyStructSequence_SetItem(t, 0, PyLong_FromUnsignedLongLong(o->v.seq + (uint64_t)i));
	PyStructSequence_SetItem(t, 1, PyLong_FromUnsignedLongLong(e.ts_ns));
	PyStructSequence_SetItem(t, 2, PyLong_FromLong(e.type));
	if (!PyStructSequence_GetItem(t, 0) || !PyStructSequence_GetItem(t, 1) ||
	    !PyStructSequence_GetItem(t, 2))
		goto fail;
	if (view_usable(o) < 0)
		goto fail;
	p = o->payload[i];
	if (p) {
		Py_INCREF(p);
	} else {
		/* held here: a collection in the allocation may clear the
		 * view (view_clear()) */
		struct mdbus_py_sub *own =
			(struct mdbus_py_sub *)Py_NewRef((PyObject *)o->owner);

		own->export_buf = e.payload;
		own->export_len = e.size;
		p = PyMemoryView_FromObject((PyObject *)own);
		own->export_buf = NULL;
		Py_DECREF(own);
		if (!p)
			goto fail;
		if (!o->open || o->payload[i]) {
			/* released meanwhile (or made meanwhile): this one
			 * must not outlive the release */
			PyObject *r = PyObject_CallMethod(p, "release", NULL);

			Py_XDECREF(r);
			Py_DECREF(p);
			if (!r || !o->open || !o->payload[i])
				goto fail;
			p = Py_NewRef(o->payload[i]);
		} else {
			o->payload[i] = Py_NewRef(p);
		}
	}
	PyStructSequence_SetItem(t, 3, p);
	/* PyStructSequence_New() leaves it untracked (CPython 3.11 does):
	 * one kept on its Subscriber (sub.m = v[0]; the payload holds the
	 * Subscriber) would be a cycle the collector cannot see */
	if (!PyObject_GC_IsTracked(t))
		PyObject_GC_Track(t);
	return t;
fail:
	if (!PyErr_Occurred())
		view_usable(o);
	Py_DECREF(t);
	return NULL;
}

/* Sets *n to the int v, a number of messages from the first: 0, or -1
 * with ValueError (outside 0..len) or TypeError. */
static int parse_used(view_object *o, PyObject *v, Py_ssize_t *n)
{
	*n = PyNumber_AsSsize_t(v, PyExc_OverflowError);
	if (*n == -1 && PyErr_Occurred())
		return -1;
	if (*n < 0 || *n > o->n) {
		PyErr_Format(PyExc_ValueError, "used %zd outside 0..%zd (len "
			     "of the view)", *n, o->n);
		return -1;
	}
	return 0;
}

/* release(used=None): see the type's doc. */
static PyObject *view_release(view_object *o, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"used", NULL};
	PyObject *u = Py_None;
	Py_ssize_t used = o->used, torn;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &u) ||
	    view_usable(o) < 0 ||
	    (u != Py_None && parse_used(o, u, &used) < 0))
		return NULL;
	torn = view_end(o, used);
	return torn < 0 ? NULL : PyLong_FromSsize_t(torn);
}

static PyObject *view_enter(view_object *o, PyObject *unused)
{
	if (view_usable(o) < 0)
		return NULL;
	return Py_NewRef((PyObject *)o);
}

/* __exit__: releases v.used messages, or none when the block raised;
 * nothing when release() ended the view already. Never suppresses. */
static PyObject *view_exit(view_object *o, PyObject *args)
{
	PyObject *type = Py_None, *value, *tb;

	if (!PyArg_UnpackTuple(args, "__exit__", 0, 3, &type, &value, &tb))
		return NULL;
	if (o->open && view_end(o, type == Py_None ? o->used : 0) < 0)
		return NULL;
	Py_RETURN_FALSE;
}

static PyObject *view_get(view_object *o, void *which)
{
	switch ((intptr_t)which) {
	case 0: /* seq */
		return PyLong_FromUnsignedLongLong(o->peeked ? o->v.seq :
			o->owner && o->owner->sub ?
			mdbus_sub_position(o->owner->sub) : 0);
	case 1: /* lost */
		return PyLong_FromUnsignedLongLong(o->peeked && o->n ? o->v.lost : 0);
	case 2: /* used */
		return PyLong_FromSsize_t(o->used);
	case 3: /* torn */
		return o->torn < 0 ? Py_NewRef(Py_None) : PyLong_FromSsize_t(o->torn);
	default: /* released */
		return PyBool_FromLong(!o->open);
	}
}

static int view_set_used(view_object *o, PyObject *v, void *unused)
{
	Py_ssize_t n;

	if (!v) {
		PyErr_SetString(PyExc_AttributeError, "used cannot be deleted");
		return -1;
	}
	if (view_usable(o) < 0 || parse_used(o, v, &n) < 0)
		return -1;
	o->used = n;
	return 0;
}

static PyObject *view_repr(view_object *o)
{
	if (!o->open)
		return PyUnicode_FromFormat("<mdbus.View released, torn=%zd>",
					    o->torn < 0 ? 0 : o->torn);
	return PyUnicode_FromFormat("<mdbus.View seq=%llu len=%zd used=%zd>",
				    (unsigned long long)o->v.seq, o->n,
				    o->used);
}

static PyGetSetDef view_getset[] = {
	{"seq", (getter)view_get, NULL,
	 "sequence number of the first message (of an empty view: the "
	 "reader's position)", (void *)0},
	{"lost", (getter)view_get, NULL,
	 "messages lost just before the first (as Message.lost)", (void *)1},
	{"used", (getter)view_get, (setter)view_set_used,
	 "how many messages, from the first, leaving the block without an "
	 "exception releases as read: len(view) unless set lower (the rest "
	 "come again in the next view)", (void *)2},
	{"torn", (getter)view_get, NULL,
	 "None until released; then how many of the released messages, "
	 "always the first ones, the producer overwrote while the view was "
	 "held: discard what you took from them", (void *)3},
	{"released", (getter)view_get, NULL, "the view was released",
	 (void *)4},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef view_methods[] = {
	{"release", (PyCFunction)(void (*)(void))view_release,
	 METH_VARARGS | METH_KEYWORDS,
	 "release(used=None): ends the view now, the reader moving past its "
	 "first `used` messages (None: view.used); returns view.torn"},
	{"__enter__", (PyCFunction)view_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)view_exit, METH_VARARGS,
	 "releases view.used messages, or none when the block raised"},
	{NULL, NULL, 0, NULL},
};

static PySequenceMethods view_as_sequence = {
	.sq_length = (lenfunc)view_len,
	.sq_item = (ssizeargfunc)view_item,
};

static PyNumberMethods view_as_number = {
	.nb_bool = (inquiry)view_bool,
};

static PyTypeObject view_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mdbus.View",
	.tp_basicsize = sizeof(view_object),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "messages read in place: Subscriber.view() says all",
	.tp_dealloc = (destructor)view_dealloc,
	.tp_traverse = (traverseproc)view_traverse,
	.tp_clear = (inquiry)view_clear,
	.tp_repr = (reprfunc)view_repr,
	.tp_as_sequence = &view_as_sequence,
	.tp_as_number = &view_as_number,
	.tp_methods = view_methods,
	.tp_getset = view_getset,
};

int mdbus_py_view_init(PyObject *m)
{
	if (PyType_Ready(&view_type) < 0)
		return -1;
	msg_type = PyStructSequence_NewType(&msg_desc);
	if (!msg_type)
		return -1;
	if (PyModule_AddObjectRef(m, "View", (PyObject *)&view_type) < 0 ||
	    PyModule_AddObjectRef(m, "ViewMessage", (PyObject *)msg_type) < 0)
		return -1;
	return 0;
}
