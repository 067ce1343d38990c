/*
 * t_dlopen.c - a plugin (plugin_reader.so, which links libmdbus; this host
 * does not) is dlopen'ed, reads 500 messages in its own thread from a
 * channel a publisher process keeps writing, and is dlclose'd: 100 times
 * in one process. Asserted: every read checks out (sequence + payload),
 * dlclose succeeds and really unloads the plugin each time; no crash, and
 * no leak under ASan (LeakSanitizer runs at exit in the sanitizer build).
 * Also reports how often libmdbus itself was unloaded with it.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define CHANNEL "dlopen"
#define ROUNDS 100

static const char *plugin = PLUGIN_PATH;
static _Atomic uint32_t *flags;

/* Loads the plugin; fails the test on error. */
static void *load(void)
{
	void *h = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		tu_fail("dlopen %s: %s", plugin, dlerror());
	return h;
}

static void *sym(void *h, const char *name)
{
	void *f = dlsym(h, name);

	if (!f)
		tu_fail("dlsym %s: %s", name, dlerror());
	return f;
}

static int publisher(void *arg)
{
	void *h = load();
	tu_plugin_publish_fn *pub;

	(void)arg;
	*(void **)&pub = sym(h, "plugin_publish");
	return pub(CHANNEL, flags) ? 1 : 0;
}

int main(void)
{
	int unloaded_lib = 0;
	char why[256];
	pid_t pub;

	tu_init("t_dlopen", 300);
	flags = tu_shared(2 * sizeof(*flags));
	pub = tu_spawn(publisher, NULL);
	tu_await(&flags[0], 1, 30, "publisher to create the channel");

	for (int i = 0; i < ROUNDS; i++) {
		void *h = load(), *again;
		tu_plugin_read_fn *rd;

		*(void **)&rd = sym(h, "plugin_read");
		if (rd(CHANNEL, 500, why, sizeof(why)))
			tu_fail("round %d: plugin reader: %s", i, why);
		if (dlclose(h))
			tu_fail("round %d: dlclose: %s", i, dlerror());
		again = dlopen(plugin, RTLD_NOW | RTLD_NOLOAD);
		if (again)
			tu_fail("round %d: plugin still loaded after dlclose",
				i);
		/* the soname: current - age of MDBUS_LT_VERSION (configure.ac) */
		again = dlopen("libmdbus.so.3", RTLD_NOW | RTLD_NOLOAD);
		if (again)
			dlclose(again);
		else
			unloaded_lib++;
	}
	atomic_store(&flags[1], 1);
	tu_wait_ok(pub, 30, "publisher");
	tu_note("%d rounds; libmdbus unloaded with the plugin %d times",
		ROUNDS, unloaded_lib);
	return 0;
}
