/*
 * A libkrun client as crun's krun handler is one: only the installed
 * <libkrun.h>, and the library found by dlopen("libkrun.so.1").
 * Usage: abi-client ROOTDIR CMD [ARGS...]; exits with CMD's status.
 *        abi-client --power-button KERNEL INITRD CMDLINE: boots that guest;
 *        SIGHUP writes krun_get_shutdown_eventfd's eventfd (as krunkit's
 *        REST "Stop" does); exits with the VM's status.
 */
#include <dlfcn.h>
#include <libkrun.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYM(name)                                                                                  \
	__typeof__(name) *p_##name = (__typeof__(name) *)dlsym(lib, #name);                        \
	if (!p_##name) {                                                                           \
		fprintf(stderr, "abi-client: %s missing\n", #name);                                \
		return 2;                                                                          \
	}

static int shutdown_fd = -1;

/* Every SIGHUP (blocked in all other threads) is one write to the eventfd. */
static void *hup_thread(void *arg)
{
	const sigset_t *set = arg;
	uint64_t one = 1;
	int sig;

	while (!sigwait(set, &sig))
		if (write(shutdown_fd, &one, sizeof(one)) != sizeof(one))
			_exit(7);
	return NULL;
}

static int power_button(void *lib, char **argv)
{
	static sigset_t set;
	pthread_t t;
	int ctx;

	SYM(krun_create_ctx);
	SYM(krun_set_vm_config);
	SYM(krun_set_kernel);
	SYM(krun_get_shutdown_eventfd);
	SYM(krun_start_enter);
	ctx = p_krun_create_ctx();
	if (ctx < 0 || p_krun_set_vm_config(ctx, 1, 256) ||
	    p_krun_set_kernel(ctx, argv[0], KRUN_KERNEL_FORMAT_RAW, argv[1], argv[2]))
		return 3;
	shutdown_fd = p_krun_get_shutdown_eventfd(ctx);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	if (shutdown_fd < 0 || pthread_sigmask(SIG_BLOCK, &set, NULL) ||
	    pthread_create(&t, NULL, hup_thread, &set))
		return 4;
	p_krun_start_enter(ctx);
	return 6;
}

int main(int argc, char **argv)
{
	void *lib = dlopen("libkrun.so.1", RTLD_NOW);
	const char *const envp[] = { "KILN_ABI=yes", NULL };
	int ctx, ret;

	if (argc == 5 && !strcmp(argv[1], "--power-button")) {
		if (!lib) {
			fprintf(stderr, "abi-client: %s\n", dlerror());
			return 2;
		}
		return power_button(lib, argv + 2);
	}
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
	SYM(krun_add_display);
	ctx = p_krun_create_ctx();
	if (ctx < 0)
		return 3;
	/* Something Kiln does not do yet says so, and changes nothing. */
	if (p_krun_add_display(ctx, 800, 600) != -95 /* -ENOTSUP */)
		return 4;
	if (p_krun_set_vm_config(ctx, 1, 256) || p_krun_set_root(ctx, argv[1]) ||
	    p_krun_set_exec(ctx, argv[2], (const char *const *)argv + 3, envp))
		return 5;
	ret = p_krun_start_enter(ctx);
	fprintf(stderr, "abi-client: krun_start_enter returned %d\n", ret);
	return 6;
}
