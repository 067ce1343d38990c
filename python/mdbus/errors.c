/*
 * errors.c - mdbus.Error, the exception every failing call raises: .code
 * is the library's negative code (a negated errno or MDBUS_E*), .detail
 * what mdbus_last_error() said. Subclasses name the codes a caller
 * handles: NotFound, Replaced, Evicted, Full, Backpressure, Owned.
 */
#include <errno.h>
#include <string.h>

#include "module.h"

static PyObject *error_base;

struct error_class {
	const char *name;   /* "mdbus.NotFound" */
	int code;
	PyObject *cls;
};

static struct error_class classes[] = {
	{"mdbus.NotFound", -ENOENT, NULL},
	{"mdbus.Replaced", MDBUS_EREPLACED, NULL},
	{"mdbus.Evicted", MDBUS_EEVICTED, NULL},
	{"mdbus.Full", MDBUS_EFULL, NULL},
	{"mdbus.Backpressure", MDBUS_EBACKPRESSURE, NULL},
	{"mdbus.Owned", MDBUS_EOWNED, NULL},
};

#define N_CLASSES (sizeof classes / sizeof classes[0])

int mdbus_py_errors_init(PyObject *m)
{
	error_base = PyErr_NewException("mdbus.Error", PyExc_OSError, NULL);
	if (!error_base || PyModule_AddObjectRef(m, "Error", error_base) < 0)
		return -1;
	for (size_t i = 0; i < N_CLASSES; i++) {
		classes[i].cls = PyErr_NewException(classes[i].name,
						    error_base, NULL);
		if (!classes[i].cls ||
		    PyModule_AddObjectRef(m, classes[i].name + 6,
					  classes[i].cls) < 0)
			return -1;
	}
	return 0;
}

static PyObject *class_of(int err)
{
	for (size_t i = 0; i < N_CLASSES; i++)
		if (classes[i].code == err)
			return classes[i].cls;
	return error_base;
}

/* Sets attribute `name` of exc to the new reference v (NULL: fails).
 * Returns 0 or -1. */
static int set_attr(PyObject *exc, const char *name, PyObject *v)
{
	int r = v ? PyObject_SetAttrString(exc, name, v) : -1;

	Py_XDECREF(v);
	return r;
}

PyObject *mdbus_py_str(const char *s)
{
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "backslashreplace");
}

PyObject *mdbus_py_raise(int err, int detail)
{
	const char *text = detail ? mdbus_last_error() : "";
	PyObject *exc, *d = mdbus_py_str(text);

	if (!d)
		return NULL;
	if (text[0])
		exc = PyObject_CallFunction(class_of(err), "(iN)", -err,
					    PyUnicode_FromFormat("%s: %U",
						mdbus_strerror(err), d));
	else
		exc = PyObject_CallFunction(class_of(err), "(is)", -err,
					    mdbus_strerror(err));
	if (!exc) {
		Py_DECREF(d);
		return NULL;
	}
	if (set_attr(exc, "code", PyLong_FromLong(err)) < 0)
		Py_DECREF(d);
	else if (set_attr(exc, "detail", d) == 0) /* takes d */
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
	return NULL;
}
