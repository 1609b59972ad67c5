/*
 * A libkrun client as crun's krun handler is one: only the installed
 * <libkrun.h>, and the library found by dlopen("libkrun.so.1").
 * Usage: abi-client ROOTDIR CMD [ARGS...]; exits with CMD's status.
 */
#include <dlfcn.h>
#include <libkrun.h>
#include <stdio.h>
#include <stdlib.h>

#define SYM(name)                                                                                  \
	__typeof__(name) *p_##name = (__typeof__(name) *)dlsym(lib, #name);                        \
	if (!p_##name) {                                                                           \
		fprintf(stderr, "abi-client: %s missing\n", #name);                                \
		return 2;                                                                          \
	}

int main(int argc, char **argv)
{
	void *lib = dlopen("libkrun.so.1", RTLD_NOW);
	const char *const envp[] = { "KILN_ABI=yes", NULL };
	int ctx, ret;

	if (argc < 3) {
		fprintf(stderr, "usage: abi-client ROOTDIR CMD [ARGS...]\n");
		return 2;
	}
	if (!lib) {
		fprintf(stderr, "abi-client: %s\n", dlerror());
		return 2;
	}
	SYM(krun_create_ctx);
	SYM(krun_set_vm_config);
	SYM(krun_set_root);
	SYM(krun_set_exec);
	SYM(krun_start_enter);
	SYM(krun_add_net_tap);
	ctx = p_krun_create_ctx();
	if (ctx < 0)
		return 3;
	/* Something Kiln does not do yet says so, and changes nothing. */
	if (p_krun_add_net_tap(ctx, "tap0", NULL, 0, 0) != -95 /* -ENOTSUP */)
		return 4;
	if (p_krun_set_vm_config(ctx, 1, 256) || p_krun_set_root(ctx, argv[1]) ||
	    p_krun_set_exec(ctx, argv[2], (const char *const *)argv + 3, envp))
		return 5;
	ret = p_krun_start_enter(ctx);
	fprintf(stderr, "abi-client: krun_start_enter returned %d\n", ret);
	return 6;
}
