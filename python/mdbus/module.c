/*
 * module.c - the C extension mdbus._mdbus: puts together the error
 * classes (errors.c), Subscriber (sub.c), Publisher (pub.c) and the
 * functions of tools.c. The package mdbus (__init__.py) is its interface.
 */
#include "module.h"
#include "mdbus_msg.h"

static struct PyModuleDef mdbus_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "mdbus._mdbus",
	.m_doc = "libmdbus for Python: the C part of the package mdbus",
	.m_size = -1,
	.m_methods = mdbus_py_tools,
};

PyMODINIT_FUNC PyInit__mdbus(void);

PyMODINIT_FUNC PyInit__mdbus(void)
{
	PyObject *m = PyModule_Create(&mdbus_module);

	if (!m)
		return NULL;
	if (mdbus_py_errors_init(m) < 0 || mdbus_py_sub_init(m) < 0 ||
	    mdbus_py_pub_init(m) < 0 ||
	    PyModule_AddStringConstant(m, "library_version", mdbus_version()) < 0 ||
	    PyModule_AddIntConstant(m, "MSG_VERSION", MDBUS_MSG_VERSION) < 0 ||
	    PyModule_AddIntConstant(m, "SLOT_HEADER", MDBUS_SLOT_HEADER) < 0 ||
	    PyModule_AddIntConstant(m, "COUNTERS_MAX", MDBUS_COUNTERS_MAX) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
