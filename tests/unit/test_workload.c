/* The workload description for the guest init and the kernel command line that names it. */
#include <stdlib.h>
#include <string.h>

#include "api/workload.h"
#include "check.h"

int main(void)
{
	char *args[] = { "-c", "echo \"hi\"\\\n", NULL };
	char *env[] = { "A=1", "B=two words", NULL };
	char *rl[] = { "NOFILE=10:20", NULL };
	struct workload w = {
		.exec_path = "/bin/sh",
		.argv = args,
		.envp = env,
		.workdir = "/tmp",
		.rlimits = rl,
		.has_exec = true,
	};
	struct workload_nic nics[2] = { { { 0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee }, true },
					{ { 0x02, 0, 0, 0, 0, 0xff }, false } };
	char *j = workload_json(&w), *c;

	CHECK(j && !strcmp(j, "{\"kiln\":1,\"args\":[\"/bin/sh\",\"-c\",\"echo "
			      "\\\"hi\\\"\\\\\\u000a\"],"
			      "\"env\":[\"A=1\",\"B=two words\"],\"cwd\":\"/tmp\","
			      "\"rlimits\":[\"NOFILE=10:20\"]}\n"),
	      "JSON: %s", j);
	free(j);
	w.has_exec = false;
	j = workload_json(&w);
	CHECK(j && !strcmp(j, "{\"kiln\":1}\n"), "no workload: empty JSON: %s", j);
	free(j);
	w.nics = nics;
	w.nnics = 2;
	j = workload_json(&w);
	CHECK(j && !strcmp(j, "{\"kiln\":1,\"net\":[{\"mac\":\"5a:94:ef:e4:0c:ee\",\"dhcp\":true},"
			      "{\"mac\":\"02:00:00:00:00:ff\",\"dhcp\":false}]}\n"),
	      "NICs only: %s", j);
	free(j);

	c = workload_cmdline(NULL, NULL, false, true);
	CHECK(c && !strcmp(c, "console=hvc0 reboot=k panic=-1 quiet rootfstype=virtiofs "
			      "root=/dev/root "
			      "init=/init.krun rw KRUN_CONFIG=/.kiln-exec.json"),
	      "default cmdline: %s", c);
	free(c);
	c = workload_cmdline("console=ttyS0  root=/dev/root foo", "hvc1", true, false);
	CHECK(c && !strcmp(c,
			   "console=hvc1 root=/dev/root foo rootfstype=virtiofs init=/init.krun ro "
			   "KRUN_ROOT_RO=1"),
	      "given cmdline, console replaced: %s", c);
	free(c);
	return check_summary();
}
