// SPDX-License-Identifier: Apache-2.0
/*
 * kiln-vkbench: the project's Vulkan compute test and benchmark.
 *
 *   kiln-vkbench test    write inputs through host-visible memory, dispatch,
 *                        read back, verify; exit status 0 means pass
 *   kiln-vkbench bench   print one "gpu.<metric> <value>" line per figure
 *
 * It runs on whatever Vulkan device the loader offers first (or the one named
 * by KILN_VK_DEVICE=index), natively or through Venus; being the same program
 * on both sides is what makes venus/native ratios meaningful.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vulkan/vulkan.h>

#include "fma_spv.h"

struct gpu {
	VkInstance instance;
	VkPhysicalDevice pd;
	VkPhysicalDeviceMemoryProperties mem_props;
	VkDevice dev;
	VkQueue queue;
	uint32_t family;
	VkCommandPool pool;
	VkCommandBuffer cmd;
	VkFence fence;
	VkDescriptorSetLayout dsl;
	VkPipelineLayout layout;
	VkPipeline pipeline;
	VkDescriptorPool dpool;
};

struct buf {
	VkBuffer buf;
	VkDeviceMemory mem;
	VkDeviceSize size;
	void *map;
	VkDescriptorSet set;
};

struct params {
	uint32_t n, iters;
	float m, c;
};

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		VkResult r_ = (expr);                                                              \
		if (r_ != VK_SUCCESS) {                                                            \
			fprintf(stderr, "vkbench: %s failed: %d\n", #expr, r_);                    \
			exit(2);                                                                   \
		}                                                                                  \
	} while (0)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */

static void pick_device(struct gpu *g)
{
	VkPhysicalDevice pds[16];
	uint32_t n = 16, want = 0, nq = 16;
	VkQueueFamilyProperties q[16];
	const char *env = getenv("KILN_VK_DEVICE");
	VkPhysicalDeviceProperties props;

	CHECK(vkEnumeratePhysicalDevices(g->instance, &n, pds));
	if (env)
		want = (uint32_t)atoi(env);
	if (n == 0 || want >= n) {
		fprintf(stderr, "vkbench: no Vulkan device %u (found %u)\n", want, n);
		exit(2);
	}
	g->pd = pds[want];
	vkGetPhysicalDeviceProperties(g->pd, &props);
	vkGetPhysicalDeviceMemoryProperties(g->pd, &g->mem_props);
	vkGetPhysicalDeviceQueueFamilyProperties(g->pd, &nq, q);
	for (g->family = 0; g->family < nq; g->family++)
		if (q[g->family].queueFlags & VK_QUEUE_COMPUTE_BIT)
			break;
	if (g->family == nq) {
		fprintf(stderr, "vkbench: %s has no compute queue\n", props.deviceName);
		exit(2);
	}
	printf("gpu.device %s\n", props.deviceName);
}

static void create_pipeline(struct gpu *g)
{
	VkShaderModuleCreateInfo smci = {
		.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
		.codeSize = sizeof(fma_spv),
		.pCode = fma_spv,
	};
	VkDescriptorSetLayoutBinding storage = {
		.binding = 0,
		.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
		.descriptorCount = 1,
		.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
	};
	VkDescriptorSetLayoutCreateInfo dslci = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
		.bindingCount = 1,
		.pBindings = &storage,
	};
	VkPushConstantRange pc = { VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(struct params) };
	VkPipelineLayoutCreateInfo plci = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
		.setLayoutCount = 1,
		.pSetLayouts = &g->dsl,
		.pushConstantRangeCount = 1,
		.pPushConstantRanges = &pc,
	};
	VkShaderModule sm;

	CHECK(vkCreateShaderModule(g->dev, &smci, NULL, &sm));
	CHECK(vkCreateDescriptorSetLayout(g->dev, &dslci, NULL, &g->dsl));
	CHECK(vkCreatePipelineLayout(g->dev, &plci, NULL, &g->layout));
	VkComputePipelineCreateInfo cpci = {
		.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
		.stage = {
			.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
			.stage = VK_SHADER_STAGE_COMPUTE_BIT,
			.module = sm,
			.pName = "main",
		},
		.layout = g->layout,
	};
	CHECK(vkCreateComputePipelines(g->dev, VK_NULL_HANDLE, 1, &cpci, NULL, &g->pipeline));
	vkDestroyShaderModule(g->dev, sm, NULL);
}

static void gpu_init(struct gpu *g)
{
	VkApplicationInfo app = {
		.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
		.pApplicationName = "kiln-vkbench",
		.apiVersion = VK_API_VERSION_1_1,
	};
	VkInstanceCreateInfo ici = {
		.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
		.pApplicationInfo = &app,
	};
	float prio = 1.0f;
	VkDeviceQueueCreateInfo qci = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
		.queueCount = 1,
		.pQueuePriorities = &prio,
	};
	VkDeviceCreateInfo dci = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
		.queueCreateInfoCount = 1,
		.pQueueCreateInfos = &qci,
	};
	VkDescriptorPoolSize ps = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 8 };
	VkDescriptorPoolCreateInfo dpci = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
		.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT,
		.maxSets = 8,
		.poolSizeCount = 1,
		.pPoolSizes = &ps,
	};
	VkFenceCreateInfo fci = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };

	CHECK(vkCreateInstance(&ici, NULL, &g->instance));
	pick_device(g);
	qci.queueFamilyIndex = g->family;
	CHECK(vkCreateDevice(g->pd, &dci, NULL, &g->dev));
	vkGetDeviceQueue(g->dev, g->family, 0, &g->queue);
	VkCommandPoolCreateInfo cpci = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
		.queueFamilyIndex = g->family,
	};
	CHECK(vkCreateCommandPool(g->dev, &cpci, NULL, &g->pool));
	VkCommandBufferAllocateInfo cbai = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
		.commandPool = g->pool,
		.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
		.commandBufferCount = 1,
	};
	CHECK(vkAllocateCommandBuffers(g->dev, &cbai, &g->cmd));
	CHECK(vkCreateFence(g->dev, &fci, NULL, &g->fence));
	CHECK(vkCreateDescriptorPool(g->dev, &dpci, NULL, &g->dpool));
	create_pipeline(g);
}

/* The first memory type allowed by `bits` having all of `want`, else -1. */
static int find_type(const struct gpu *g, uint32_t bits, VkMemoryPropertyFlags want)
{
	for (uint32_t k = 0; k < g->mem_props.memoryTypeCount; k++)
		if ((bits & (1u << k)) &&
		    (g->mem_props.memoryTypes[k].propertyFlags & want) == want)
			return (int)k;
	return -1;
}

/* host: host-visible and coherent, mapped; else device-local if there is one. */
static void buf_create(struct gpu *g, struct buf *b, VkDeviceSize size, bool host)
{
	VkBufferCreateInfo bci = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		.size = size,
		.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
			 VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
	};
	VkMemoryRequirements req;
	int type;

	b->size = size;
	b->map = NULL;
	CHECK(vkCreateBuffer(g->dev, &bci, NULL, &b->buf));
	vkGetBufferMemoryRequirements(g->dev, b->buf, &req);
	if (host)
		type = find_type(g, req.memoryTypeBits,
				 VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
					 VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
	else if ((type = find_type(g, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)) < 0)
		type = find_type(g, req.memoryTypeBits, 0);
	if (type < 0) {
		fprintf(stderr, "vkbench: no suitable memory type\n");
		exit(2);
	}
	VkMemoryAllocateInfo mai = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
		.allocationSize = req.size,
		.memoryTypeIndex = (uint32_t)type,
	};
	CHECK(vkAllocateMemory(g->dev, &mai, NULL, &b->mem));
	CHECK(vkBindBufferMemory(g->dev, b->buf, b->mem, 0));
	if (host)
		CHECK(vkMapMemory(g->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map));

	VkDescriptorSetAllocateInfo dsai = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
		.descriptorPool = g->dpool,
		.descriptorSetCount = 1,
		.pSetLayouts = &g->dsl,
	};
	CHECK(vkAllocateDescriptorSets(g->dev, &dsai, &b->set));
	VkDescriptorBufferInfo dbi = { b->buf, 0, VK_WHOLE_SIZE };
	VkWriteDescriptorSet w = {
		.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
		.dstSet = b->set,
		.descriptorCount = 1,
		.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
		.pBufferInfo = &dbi,
	};
	vkUpdateDescriptorSets(g->dev, 1, &w, 0, NULL);
}

static void buf_destroy(struct gpu *g, struct buf *b)
{
	vkFreeDescriptorSets(g->dev, g->dpool, 1, &b->set);
	vkDestroyBuffer(g->dev, b->buf, NULL);
	vkFreeMemory(g->dev, b->mem, NULL);
}

/* ------------------------------------------------------------------ */
/* Recording and submitting                                            */

static void begin(struct gpu *g)
{
	VkCommandBufferBeginInfo bi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
		.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
	};

	CHECK(vkResetCommandBuffer(g->cmd, 0));
	CHECK(vkBeginCommandBuffer(g->cmd, &bi));
}

static void record_fma(struct gpu *g, struct buf *b, const struct params *p)
{
	vkCmdBindPipeline(g->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, g->pipeline);
	vkCmdBindDescriptorSets(g->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, g->layout, 0, 1, &b->set, 0,
				NULL);
	vkCmdPushConstants(g->cmd, g->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(*p), p);
	vkCmdDispatch(g->cmd, (p->n + 255) / 256, 1, 1);
}

/* Ends recording, submits and waits; returns the wall time in µs. */
static double submit_wait(struct gpu *g)
{
	VkSubmitInfo si = {
		.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
		.commandBufferCount = 1,
		.pCommandBuffers = &g->cmd,
	};
	double t0;

	CHECK(vkEndCommandBuffer(g->cmd));
	t0 = now_us();
	CHECK(vkQueueSubmit(g->queue, 1, &si, g->fence));
	CHECK(vkWaitForFences(g->dev, 1, &g->fence, VK_TRUE, UINT64_MAX));
	CHECK(vkResetFences(g->dev, 1, &g->fence));
	return now_us() - t0;
}

/* ------------------------------------------------------------------ */
/* Test                                                                */

/* Host-visible buffer in, dispatch, host-visible buffer out: the path that
 * fails over vtest without the host-memory bridge. */
static int run_test(struct gpu *g, uint32_t n)
{
	struct params p = { .n = n, .iters = 4, .m = 2.0f, .c = 1.0f };
	struct buf b;
	float *v;
	uint32_t bad = 0;

	buf_create(g, &b, (VkDeviceSize)n * sizeof(float), true);
	v = b.map;
	for (uint32_t i = 0; i < n; i++)
		v[i] = (float)(i % 4096);
	begin(g);
	record_fma(g, &b, &p);
	submit_wait(g);
	/* Each chain maps s to 16 s + 15 after four steps; the four chains
	 * start at x, x+1, x+2, x+3. */
	for (uint32_t i = 0; i < n; i++) {
		float x = (float)(i % 4096);
		float want = 64.0f * x + 16.0f * 6.0f + 60.0f;

		if (v[i] != want && bad++ < 5)
			fprintf(stderr, "vkbench: v[%u] = %g, want %g\n", i, v[i], want);
	}
	buf_destroy(g, &b);
	printf("gpu.test n=%u %s\n", n, bad ? "FAIL" : "ok");
	return bad ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Benchmark                                                           */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static double bench_throughput(struct gpu *g, uint32_t n)
{
	struct params p = { .n = n, .iters = 16, .m = 0.999f, .c = 0.001f };
	struct buf b;
	double t = 0, best = 0;

	buf_create(g, &b, (VkDeviceSize)n * sizeof(float), false);
	begin(g);
	vkCmdFillBuffer(g->cmd, b.buf, 0, VK_WHOLE_SIZE, 0);
	submit_wait(g);
	/* Grow the loop until one dispatch lasts 50 ms, so the figure is the
	 * ALU's and not the submission's. */
	while (t < 50e3 && p.iters < (1u << 20)) {
		begin(g);
		record_fma(g, &b, &p);
		t = submit_wait(g);
		if (t < 50e3)
			p.iters *= t < 5e3 ? 8 : 2;
	}
	for (int k = 0; k < 3; k++) {
		double gflops;

		begin(g);
		record_fma(g, &b, &p);
		t = submit_wait(g);
		gflops = (double)n * p.iters * 4 * 2 / (t * 1e3);
		if (gflops > best)
			best = gflops;
	}
	buf_destroy(g, &b);
	return best;
}

static double bench_roundtrip(struct gpu *g)
{
	double t[201];

	for (int k = 0; k < 201; k++) {
		begin(g);
		t[k] = submit_wait(g);
	}
	return median(t, 201);
}

/* Record + submit + wait of 256 tiny dispatches, less one round trip. */
static double bench_dispatch(struct gpu *g, double roundtrip)
{
	struct params p = { .n = 256, .iters = 1, .m = 1.0f, .c = 0.0f };
	struct buf b;
	double t[21];

	buf_create(g, &b, 256 * sizeof(float), false);
	for (int k = 0; k < 21; k++) {
		double t0 = now_us();

		begin(g);
		for (int d = 0; d < 256; d++)
			record_fma(g, &b, &p);
		submit_wait(g);
		t[k] = now_us() - t0;
	}
	buf_destroy(g, &b);
	return (median(t, 21) - roundtrip) / 256;
}

/* GB/s of memcpy into (write) and out of (read) mapped host-visible memory. */
static void bench_hostmem(struct gpu *g, double *write, double *read)
{
	const size_t size = 64u << 20;
	struct buf b;
	char *sys = malloc(size);

	if (!sys) {
		fprintf(stderr, "vkbench: out of memory\n");
		exit(2);
	}
	memset(sys, 1, size);
	buf_create(g, &b, size, true);
	*write = *read = 0;
	for (int k = 0; k < 5; k++) {
		double t0 = now_us(), w, r;

		memcpy(b.map, sys, size);
		w = size / ((now_us() - t0) * 1e3);
		t0 = now_us();
		memcpy(sys, b.map, size);
		r = size / ((now_us() - t0) * 1e3);
		*write = w > *write ? w : *write;
		*read = r > *read ? r : *read;
	}
	buf_destroy(g, &b);
	free(sys);
}

static void run_bench(struct gpu *g)
{
	const char *env = getenv("KILN_BENCH_N");
	uint32_t n = env ? (uint32_t)strtoul(env, NULL, 0) : 1u << 22;
	double rt, w, r;

	printf("gpu.fma_gflops %.1f\n", bench_throughput(g, n));
	fflush(stdout);
	rt = bench_roundtrip(g);
	printf("gpu.roundtrip_us %.1f\n", rt);
	printf("gpu.dispatch_us %.2f\n", bench_dispatch(g, rt));
	fflush(stdout);
	bench_hostmem(g, &w, &r);
	printf("gpu.hostmem_write_gbs %.2f\n", w);
	printf("gpu.hostmem_read_gbs %.2f\n", r);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "test";
	struct gpu g = { 0 };
	int rc = 0;

	if (strcmp(mode, "test") && strcmp(mode, "bench")) {
		fprintf(stderr, "usage: %s test|bench\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	gpu_init(&g);
	if (!strcmp(mode, "test")) {
		rc |= run_test(&g, 1000);
		rc |= run_test(&g, 1u << 20);
		printf("gpu.test %s\n", rc ? "FAIL" : "PASS");
	} else {
		run_bench(&g);
	}
	vkDeviceWaitIdle(g.dev);
	return rc ? 1 : 0;
}
