// SPDX-License-Identifier: Apache-2.0
/*
 * VK_LAYER_KILN_hostmem: the host-memory bridge.
 *
 * virglrenderer hands a client a host-visible blob only as a dma-buf or shm
 * fd, but drivers such as NVIDIA and lavapipe export opaque fds only, so over
 * a vtest socket every host-visible allocation fails. Loaded into the render
 * server, this layer makes such a driver look like it exports dma-bufs:
 *
 *  - it advertises VK_EXT_external_memory_dma_buf and reports dma-buf export
 *    and import for buffers, which steers virglrenderer to its dma-buf path;
 *  - an allocation asking for dma-buf export is backed by a memfd mapped
 *    MAP_SHARED and imported with VK_EXT_external_memory_host;
 *  - exporting it as a "dma-buf" hands out the memfd, which everything after
 *    the render server only ever mmaps (and lseeks for its size);
 *  - importing such an fd maps it and imports the pointer again.
 *
 * On a driver that has VK_EXT_external_memory_dma_buf, or lacks
 * VK_EXT_external_memory_host, every entry point passes straight through.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vulkan/vk_layer.h>
#include <vulkan/vulkan.h>

#define LAYER_NAME "VK_LAYER_KILN_hostmem"
#define EXPORT	   __attribute__((visibility("default")))

#define DMA_BUF	   VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT
#define HOST_ALLOC VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT

struct pdinfo {
	struct pdinfo *next;
	VkPhysicalDevice pd;
	bool bridge;
	bool has_dma_buf_ext;
};

struct inst {
	struct inst *next;
	struct pdinfo *pds;
	void *key;
	VkInstance handle;
	PFN_vkGetInstanceProcAddr gipa;
	PFN_vkDestroyInstance DestroyInstance;
	PFN_vkEnumerateDeviceExtensionProperties EnumerateDeviceExtensionProperties;
	PFN_vkGetPhysicalDeviceExternalBufferProperties GetPhysicalDeviceExternalBufferProperties;
	PFN_vkGetPhysicalDeviceImageFormatProperties2 GetPhysicalDeviceImageFormatProperties2;
	PFN_vkGetPhysicalDeviceMemoryProperties GetPhysicalDeviceMemoryProperties;
	PFN_vkGetPhysicalDeviceMemoryProperties2 GetPhysicalDeviceMemoryProperties2;
};

/* A memfd-backed allocation this layer made or imported. */
struct hostmem {
	struct hostmem *next;
	VkDeviceMemory mem;
	int memfd;
	void *ptr;
	size_t size;
};

struct dev {
	struct dev *next;
	void *key;
	VkDevice handle;
	bool bridge;
	VkDeviceSize align;
	uint32_t host_type_bits;
	PFN_vkGetDeviceProcAddr gdpa;
	PFN_vkDestroyDevice DestroyDevice;
	PFN_vkAllocateMemory AllocateMemory;
	PFN_vkFreeMemory FreeMemory;
	PFN_vkGetMemoryFdKHR GetMemoryFdKHR;
	PFN_vkGetMemoryFdPropertiesKHR GetMemoryFdPropertiesKHR;
	PFN_vkGetMemoryHostPointerPropertiesEXT GetMemoryHostPointerPropertiesEXT;
	PFN_vkCreateBuffer CreateBuffer;
	struct hostmem *mems;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct inst *insts;
static struct dev *devs;

static void *key_of(const void *dispatchable)
{
	return *(void **)dispatchable;
}

static bool debug_on(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("KILN_HOSTMEM_DEBUG") != NULL;
	return on;
}

#define debug(...)                                                                                 \
	do {                                                                                       \
		if (debug_on())                                                                    \
			fprintf(stderr, "kiln-hostmem: " __VA_ARGS__);                             \
	} while (0)

static struct inst *inst_get(const void *h)
{
	void *key = key_of(h);
	struct inst *i;

	pthread_mutex_lock(&lock);
	for (i = insts; i && i->key != key; i = i->next)
		;
	pthread_mutex_unlock(&lock);
	return i;
}

static struct dev *dev_get(const void *h)
{
	void *key = key_of(h);
	struct dev *d;

	pthread_mutex_lock(&lock);
	for (d = devs; d && d->key != key; d = d->next)
		;
	pthread_mutex_unlock(&lock);
	return d;
}

static void *chain_find(const void *chain, VkStructureType type)
{
	const VkBaseInStructure *s = chain;

	for (; s; s = s->pNext)
		if (s->sType == type)
			return (void *)s;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Instance level                                                      */

static bool has_ext(const VkExtensionProperties *props, uint32_t n, const char *name)
{
	for (uint32_t k = 0; k < n; k++)
		if (!strcmp(props[k].extensionName, name))
			return true;
	return false;
}

static bool dma_buf_exportable(struct inst *i, VkPhysicalDevice pd)
{
	VkPhysicalDeviceExternalBufferInfo info = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_BUFFER_INFO,
		.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
		.handleType = DMA_BUF,
	};
	VkExternalBufferProperties props = {
		.sType = VK_STRUCTURE_TYPE_EXTERNAL_BUFFER_PROPERTIES,
	};

	i->GetPhysicalDeviceExternalBufferProperties(pd, &info, &props);
	return props.externalMemoryProperties.externalMemoryFeatures &
	       VK_EXTERNAL_MEMORY_FEATURE_EXPORTABLE_BIT;
}

/* The bridge is needed where the driver can import host memory but cannot
 * export dma-bufs (some, like lavapipe, import them but export only opaque
 * fds). Decided once per physical device. */
static bool pd_decide(struct inst *i, VkPhysicalDevice pd, bool *has_dma_buf_ext)
{
	uint32_t n = 0;
	VkExtensionProperties *props;
	bool need;

	if (getenv("KILN_HOSTMEM_DISABLE"))
		return false;
	if (i->EnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS)
		return false;
	props = calloc(n ? n : 1, sizeof(*props));
	if (!props)
		return false;
	if (i->EnumerateDeviceExtensionProperties(pd, NULL, &n, props) != VK_SUCCESS)
		n = 0;
	*has_dma_buf_ext = has_ext(props, n, VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME);
	need = has_ext(props, n, VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME) &&
	       has_ext(props, n, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME) &&
	       !(*has_dma_buf_ext && dma_buf_exportable(i, pd));
	free(props);
	return need;
}

static struct pdinfo *pd_info(struct inst *i, VkPhysicalDevice pd)
{
	struct pdinfo *p;

	pthread_mutex_lock(&lock);
	for (p = i->pds; p && p->pd != pd; p = p->next)
		;
	pthread_mutex_unlock(&lock);
	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pd = pd;
	p->bridge = pd_decide(i, pd, &p->has_dma_buf_ext);
	debug("physical device %p: bridge %s\n", (void *)pd, p->bridge ? "on" : "off");
	pthread_mutex_lock(&lock);
	p->next = i->pds;
	i->pds = p;
	pthread_mutex_unlock(&lock);
	return p;
}

static bool pd_needs_bridge(struct inst *i, VkPhysicalDevice pd)
{
	struct pdinfo *p = pd_info(i, pd);

	return p && p->bridge;
}

static VKAPI_ATTR VkResult VKAPI_CALL layer_CreateInstance(const VkInstanceCreateInfo *info,
							   const VkAllocationCallbacks *alloc,
							   VkInstance *out)
{
	VkLayerInstanceCreateInfo *link = (VkLayerInstanceCreateInfo *)info->pNext;
	PFN_vkGetInstanceProcAddr gipa;
	PFN_vkCreateInstance create;
	struct inst *i;
	VkResult r;

	while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO &&
			 link->function == VK_LAYER_LINK_INFO))
		link = (VkLayerInstanceCreateInfo *)link->pNext;
	if (!link)
		return VK_ERROR_INITIALIZATION_FAILED;
	gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
	link->u.pLayerInfo = link->u.pLayerInfo->pNext;

	create = (PFN_vkCreateInstance)gipa(VK_NULL_HANDLE, "vkCreateInstance");
	r = create(info, alloc, out);
	if (r != VK_SUCCESS)
		return r;

	i = calloc(1, sizeof(*i));
	if (!i)
		return VK_ERROR_OUT_OF_HOST_MEMORY;
	i->key = key_of(*out);
	i->handle = *out;
	i->gipa = gipa;
#define GET(name) i->name = (PFN_vk##name)gipa(*out, "vk" #name)
	GET(DestroyInstance);
	GET(EnumerateDeviceExtensionProperties);
	GET(GetPhysicalDeviceExternalBufferProperties);
	GET(GetPhysicalDeviceImageFormatProperties2);
	GET(GetPhysicalDeviceMemoryProperties);
	GET(GetPhysicalDeviceMemoryProperties2);
#undef GET
	pthread_mutex_lock(&lock);
	i->next = insts;
	insts = i;
	pthread_mutex_unlock(&lock);
	return VK_SUCCESS;
}

static VKAPI_ATTR void VKAPI_CALL layer_DestroyInstance(VkInstance instance,
							const VkAllocationCallbacks *alloc)
{
	struct inst *i = inst_get(instance), **p;

	if (!i)
		return;
	i->DestroyInstance(instance, alloc);
	pthread_mutex_lock(&lock);
	for (p = &insts; *p && *p != i; p = &(*p)->next)
		;
	if (*p)
		*p = i->next;
	pthread_mutex_unlock(&lock);
	while (i->pds) {
		struct pdinfo *p = i->pds;

		i->pds = p->next;
		free(p);
	}
	free(i);
}

static VKAPI_ATTR VkResult VKAPI_CALL layer_EnumerateDeviceExtensionProperties(
	VkPhysicalDevice pd, const char *layer, uint32_t *count, VkExtensionProperties *props)
{
	static const VkExtensionProperties dma_buf = {
		VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME,
		VK_EXT_EXTERNAL_MEMORY_DMA_BUF_SPEC_VERSION,
	};
	struct inst *i = inst_get(pd);
	struct pdinfo *pi;
	uint32_t n = 0, cap;
	VkResult r;

	if (layer && !strcmp(layer, LAYER_NAME)) {
		*count = 0;
		return VK_SUCCESS;
	}
	pi = layer ? NULL : pd_info(i, pd);
	if (!pi || !pi->bridge || pi->has_dma_buf_ext)
		return i->EnumerateDeviceExtensionProperties(pd, layer, count, props);

	r = i->EnumerateDeviceExtensionProperties(pd, NULL, &n, NULL);
	if (r != VK_SUCCESS)
		return r;
	if (!props) {
		*count = n + 1;
		return VK_SUCCESS;
	}
	cap = *count;
	if (cap <= n) {
		r = i->EnumerateDeviceExtensionProperties(pd, NULL, count, props);
		return r == VK_SUCCESS ? VK_INCOMPLETE : r;
	}
	r = i->EnumerateDeviceExtensionProperties(pd, NULL, &n, props);
	if (r != VK_SUCCESS)
		return r;
	props[n] = dma_buf;
	*count = n + 1;
	return VK_SUCCESS;
}

static VKAPI_ATTR void VKAPI_CALL layer_GetPhysicalDeviceExternalBufferProperties(
	VkPhysicalDevice pd, const VkPhysicalDeviceExternalBufferInfo *info,
	VkExternalBufferProperties *props)
{
	struct inst *i = inst_get(pd);

	if (info->handleType != DMA_BUF || !pd_needs_bridge(i, pd)) {
		i->GetPhysicalDeviceExternalBufferProperties(pd, info, props);
		return;
	}
	/* A memfd "dma-buf" can back any buffer the driver can bind to host memory. */
	props->externalMemoryProperties = (VkExternalMemoryProperties){
		.externalMemoryFeatures = VK_EXTERNAL_MEMORY_FEATURE_EXPORTABLE_BIT |
					  VK_EXTERNAL_MEMORY_FEATURE_IMPORTABLE_BIT,
		.exportFromImportedHandleTypes = DMA_BUF,
		.compatibleHandleTypes = DMA_BUF,
	};
}

static VKAPI_ATTR VkResult VKAPI_CALL layer_GetPhysicalDeviceImageFormatProperties2(
	VkPhysicalDevice pd, const VkPhysicalDeviceImageFormatInfo2 *info,
	VkImageFormatProperties2 *props)
{
	struct inst *i = inst_get(pd);
	const VkPhysicalDeviceExternalImageFormatInfo *ext = chain_find(
		info->pNext, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_IMAGE_FORMAT_INFO);

	/* Images stay out of the bridge: host memory has no tiling to offer. */
	if (ext && ext->handleType == DMA_BUF && pd_needs_bridge(i, pd))
		return VK_ERROR_FORMAT_NOT_SUPPORTED;
	return i->GetPhysicalDeviceImageFormatProperties2(pd, info, props);
}

#define HOST_FLAGS                                                                                 \
	(VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |              \
	 VK_MEMORY_PROPERTY_HOST_CACHED_BIT)

/* Imported host memory is system memory: where a GPU also offers mappable
 * video memory (a resizable BAR type: DEVICE_LOCAL and HOST_VISIBLE beside
 * plain HOST_VISIBLE types), the bridge cannot export it, so it is shown
 * as device-local only and clients map system memory instead. A device
 * with one kind of memory (lavapipe, integrated GPUs) is left alone. */
static void hide_unbridgeable(VkPhysicalDeviceMemoryProperties *p)
{
	bool sysmem = false;

	for (uint32_t k = 0; k < p->memoryTypeCount; k++) {
		VkMemoryPropertyFlags f = p->memoryTypes[k].propertyFlags;

		sysmem |= (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
			  !(f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
	}
	if (!sysmem)
		return;
	for (uint32_t k = 0; k < p->memoryTypeCount; k++)
		if (p->memoryTypes[k].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)
			p->memoryTypes[k].propertyFlags &= ~HOST_FLAGS;
}

static VKAPI_ATTR void VKAPI_CALL layer_GetPhysicalDeviceMemoryProperties(
	VkPhysicalDevice pd, VkPhysicalDeviceMemoryProperties *props)
{
	struct inst *i = inst_get(pd);

	i->GetPhysicalDeviceMemoryProperties(pd, props);
	if (pd_needs_bridge(i, pd))
		hide_unbridgeable(props);
}

static VKAPI_ATTR void VKAPI_CALL layer_GetPhysicalDeviceMemoryProperties2(
	VkPhysicalDevice pd, VkPhysicalDeviceMemoryProperties2 *props)
{
	struct inst *i = inst_get(pd);

	i->GetPhysicalDeviceMemoryProperties2(pd, props);
	if (pd_needs_bridge(i, pd))
		hide_unbridgeable(&props->memoryProperties);
}

/* ------------------------------------------------------------------ */
/* Device creation                                                     */

/* Which memory types accept a shared host mapping: probed with one page of
 * a real memfd, since that is what the bridge imports. */
static uint32_t probe_host_type_bits(struct dev *d)
{
	VkMemoryHostPointerPropertiesEXT props = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT,
	};
	size_t len = d->align;
	int fd = memfd_create("kiln-hostmem-probe", MFD_CLOEXEC);
	void *p = MAP_FAILED;

	if (fd >= 0 && ftruncate(fd, len) == 0)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		if (d->GetMemoryHostPointerPropertiesEXT(d->handle, HOST_ALLOC, p, &props) !=
		    VK_SUCCESS)
			props.memoryTypeBits = 0;
		munmap(p, len);
	}
	if (fd >= 0)
		close(fd);
	return props.memoryTypeBits;
}

static VkDeviceSize host_import_alignment(struct inst *i, VkPhysicalDevice pd)
{
	VkPhysicalDeviceExternalMemoryHostPropertiesEXT host = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT,
	};
	VkPhysicalDeviceProperties2 props = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
		.pNext = &host,
	};
	PFN_vkGetPhysicalDeviceProperties2 get = (PFN_vkGetPhysicalDeviceProperties2)i->gipa(
		i->handle, "vkGetPhysicalDeviceProperties2");
	VkDeviceSize page = (VkDeviceSize)sysconf(_SC_PAGESIZE);

	if (get)
		get(pd, &props);
	return host.minImportedHostPointerAlignment > page ? host.minImportedHostPointerAlignment
							   : page;
}

/* The enabled extensions with dma-buf (which the driver lacks) swapped for
 * host-memory import; caller frees. */
static const char **bridge_extensions(const VkDeviceCreateInfo *info, bool keep_dma_buf,
				      uint32_t *count)
{
	const char **names = calloc(info->enabledExtensionCount + 1, sizeof(*names));
	uint32_t n = 0;
	bool have_host = false;

	if (!names)
		return NULL;
	for (uint32_t k = 0; k < info->enabledExtensionCount; k++) {
		const char *e = info->ppEnabledExtensionNames[k];

		if (!keep_dma_buf && !strcmp(e, VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME))
			continue;
		have_host |= !strcmp(e, VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
		names[n++] = e;
	}
	if (!have_host)
		names[n++] = VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME;
	*count = n;
	return names;
}

static void dev_load(struct dev *d, VkDevice h)
{
#define GET(name) d->name = (PFN_vk##name)d->gdpa(h, "vk" #name)
	GET(DestroyDevice);
	GET(AllocateMemory);
	GET(FreeMemory);
	GET(GetMemoryFdKHR);
	GET(GetMemoryFdPropertiesKHR);
	GET(GetMemoryHostPointerPropertiesEXT);
	GET(CreateBuffer);
#undef GET
}

static VKAPI_ATTR VkResult VKAPI_CALL layer_CreateDevice(VkPhysicalDevice pd,
							 const VkDeviceCreateInfo *info,
							 const VkAllocationCallbacks *alloc,
							 VkDevice *out)
{
	VkLayerDeviceCreateInfo *link = (VkLayerDeviceCreateInfo *)info->pNext;
	struct inst *i = inst_get(pd);
	struct pdinfo *pi;
	VkDeviceCreateInfo ci = *info;
	const char **names = NULL;
	PFN_vkGetInstanceProcAddr gipa;
	PFN_vkCreateDevice create;
	struct dev *d;
	VkResult r;

	while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO &&
			 link->function == VK_LAYER_LINK_INFO))
		link = (VkLayerDeviceCreateInfo *)link->pNext;
	if (!link || !i)
		return VK_ERROR_INITIALIZATION_FAILED;
	gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
	d = calloc(1, sizeof(*d));
	if (!d)
		return VK_ERROR_OUT_OF_HOST_MEMORY;
	d->gdpa = link->u.pLayerInfo->pfnNextGetDeviceProcAddr;
	link->u.pLayerInfo = link->u.pLayerInfo->pNext;

	pi = pd_info(i, pd);
	d->bridge = pi && pi->bridge;
	if (d->bridge) {
		names = bridge_extensions(info, pi->has_dma_buf_ext, &ci.enabledExtensionCount);
		if (!names) {
			free(d);
			return VK_ERROR_OUT_OF_HOST_MEMORY;
		}
		ci.ppEnabledExtensionNames = names;
		d->align = host_import_alignment(i, pd);
	}
	create = (PFN_vkCreateDevice)gipa(i->handle, "vkCreateDevice");
	r = create(pd, &ci, alloc, out);
	free(names);
	if (r != VK_SUCCESS) {
		free(d);
		return r;
	}
	d->key = key_of(*out);
	d->handle = *out;
	dev_load(d, *out);
	if (d->bridge)
		d->host_type_bits = probe_host_type_bits(d);
	debug("device %p: bridge %s, alignment %llu, host memory types 0x%x\n", (void *)*out,
	      d->bridge ? "on" : "off", (unsigned long long)d->align, d->host_type_bits);
	pthread_mutex_lock(&lock);
	d->next = devs;
	devs = d;
	pthread_mutex_unlock(&lock);
	return VK_SUCCESS;
}

static VKAPI_ATTR void VKAPI_CALL layer_DestroyDevice(VkDevice device,
						      const VkAllocationCallbacks *alloc)
{
	struct dev *d = dev_get(device), **p;

	if (!d)
		return;
	d->DestroyDevice(device, alloc);
	pthread_mutex_lock(&lock);
	for (p = &devs; *p && *p != d; p = &(*p)->next)
		;
	if (*p)
		*p = d->next;
	pthread_mutex_unlock(&lock);
	while (d->mems) {
		struct hostmem *m = d->mems;

		d->mems = m->next;
		munmap(m->ptr, m->size);
		close(m->memfd);
		free(m);
	}
	free(d);
}

/* ------------------------------------------------------------------ */
/* Memory                                                              */

/* Copies of the allocate-info chain the layer may rewrite; the caller's
 * structures are const. */
union alloc_ext {
	VkBaseInStructure base;
	VkExportMemoryAllocateInfo export_info;
	VkImportMemoryFdInfoKHR import_fd;
	VkMemoryDedicatedAllocateInfo dedicated;
	VkMemoryAllocateFlagsInfo flags;
	VkMemoryOpaqueCaptureAddressAllocateInfo capture;
	VkMemoryPriorityAllocateInfoEXT priority;
	VkImportMemoryHostPointerInfoEXT host;
};

#define MAX_EXT 8

struct alloc_plan {
	VkMemoryAllocateInfo info;
	union alloc_ext ext[MAX_EXT + 1];
	uint32_t n;
	int import_fd; /* a memfd "dma-buf" to import, or -1 */
	bool export_dma_buf;
};

/* The bridge's "dma-bufs" are memfds; real ones go to the driver. */
static bool is_memfd(int fd)
{
	return fcntl(fd, F_GET_SEALS) >= 0;
}

static size_t ext_size(VkStructureType t)
{
	switch (t) {
	case VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO:
		return sizeof(VkExportMemoryAllocateInfo);
	case VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR:
		return sizeof(VkImportMemoryFdInfoKHR);
	case VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO:
		return sizeof(VkMemoryDedicatedAllocateInfo);
	case VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO:
		return sizeof(VkMemoryAllocateFlagsInfo);
	case VK_STRUCTURE_TYPE_MEMORY_OPAQUE_CAPTURE_ADDRESS_ALLOCATE_INFO:
		return sizeof(VkMemoryOpaqueCaptureAddressAllocateInfo);
	case VK_STRUCTURE_TYPE_MEMORY_PRIORITY_ALLOCATE_INFO_EXT:
		return sizeof(VkMemoryPriorityAllocateInfoEXT);
	default:
		return 0;
	}
}

/* Copies the chain, dropping what host import replaces: dma-buf export and
 * import (the layer does those) and dedicated allocation (host memory is
 * never dedicated). Returns false for a chain it does not know, which then
 * goes to the driver untouched. */
static bool plan_alloc(const VkMemoryAllocateInfo *in, struct alloc_plan *p)
{
	const VkBaseInStructure *s;

	p->info = *in;
	p->n = 0;
	p->import_fd = -1;
	p->export_dma_buf = false;
	for (s = in->pNext; s; s = s->pNext) {
		size_t size = ext_size(s->sType);
		union alloc_ext *e = &p->ext[p->n];

		if (!size || p->n == MAX_EXT)
			return false;
		memcpy(e, s, size);
		if (s->sType == VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR) {
			if (e->import_fd.handleType != DMA_BUF || !is_memfd(e->import_fd.fd))
				return false;
			p->import_fd = e->import_fd.fd;
			continue;
		}
		if (s->sType == VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO) {
			p->export_dma_buf = e->export_info.handleTypes & DMA_BUF;
			e->export_info.handleTypes &= ~DMA_BUF;
			if (!e->export_info.handleTypes)
				continue;
		}
		if (s->sType == VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO)
			continue;
		p->n++;
	}
	return p->import_fd >= 0 || p->export_dma_buf;
}

/* Links the kept structures, plus a host-pointer import of ptr if any. */
static void plan_link(struct alloc_plan *p, void *ptr)
{
	uint32_t n = p->n;

	if (ptr)
		p->ext[n++].host = (VkImportMemoryHostPointerInfoEXT){
			.sType = VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT,
			.handleType = HOST_ALLOC,
			.pHostPointer = ptr,
		};
	for (uint32_t k = 0; k + 1 < n; k++)
		p->ext[k].base.pNext = &p->ext[k + 1].base;
	if (n)
		p->ext[n - 1].base.pNext = NULL;
	p->info.pNext = n ? &p->ext[0] : NULL;
}

static size_t align_up(VkDeviceSize v, VkDeviceSize a)
{
	return (size_t)((v + a - 1) / a * a);
}

/* A fresh memfd of the aligned size for an exportable allocation, or the
 * imported one after checking it is large enough. */
static int hostmem_fd(const struct alloc_plan *p, size_t size)
{
	struct stat st;
	int fd;

	if (p->import_fd >= 0) {
		if (fstat(p->import_fd, &st) < 0 || (size_t)st.st_size < size)
			return -EINVAL;
		return p->import_fd;
	}
	fd = memfd_create("kiln-hostmem", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) < 0) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

/* As with any Vulkan fd import, an imported fd belongs to the layer once
 * the allocation succeeds and stays the caller's when it fails. */
static VkResult hostmem_alloc(struct dev *d, struct alloc_plan *p,
			      const VkAllocationCallbacks *alloc, VkDeviceMemory *out)
{
	size_t size = align_up(p->info.allocationSize, d->align);
	struct hostmem *m = calloc(1, sizeof(*m));
	VkResult r = VK_ERROR_OUT_OF_HOST_MEMORY;
	int fd;

	if (!m)
		return r;
	fd = hostmem_fd(p, size);
	if (fd < 0) {
		free(m);
		return fd == -EINVAL ? VK_ERROR_INVALID_EXTERNAL_HANDLE : r;
	}
	m->ptr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m->ptr == MAP_FAILED)
		goto fail;
	m->memfd = fd;
	m->size = size;
	p->info.allocationSize = size;
	plan_link(p, m->ptr);
	r = d->AllocateMemory(d->handle, &p->info, alloc, out);
	if (r != VK_SUCCESS) {
		munmap(m->ptr, size);
		goto fail;
	}
	m->mem = *out;
	pthread_mutex_lock(&lock);
	m->next = d->mems;
	d->mems = m;
	pthread_mutex_unlock(&lock);
	debug("%s %zu bytes as memory type %u\n", p->import_fd >= 0 ? "imported" : "allocated",
	      size, p->info.memoryTypeIndex);
	return VK_SUCCESS;
fail:
	if (p->import_fd < 0)
		close(fd);
	free(m);
	return r == VK_SUCCESS ? VK_ERROR_OUT_OF_HOST_MEMORY : r;
}

static VKAPI_ATTR VkResult VKAPI_CALL layer_AllocateMemory(VkDevice device,
							   const VkMemoryAllocateInfo *info,
							   const VkAllocationCallbacks *alloc,
							   VkDeviceMemory *out)
{
	struct dev *d = dev_get(device);
	struct alloc_plan *p;
	VkResult r;

	if (!d->bridge)
		return d->AllocateMemory(device, info, alloc, out);
	p = malloc(sizeof(*p));
	if (!p)
		return VK_ERROR_OUT_OF_HOST_MEMORY;
	if (!plan_alloc(info, p)) {
		r = d->AllocateMemory(device, info, alloc, out);
	} else if (d->host_type_bits & (1u << info->memoryTypeIndex)) {
		r = hostmem_alloc(d, p, alloc, out);
	} else if (p->import_fd >= 0) {
		r = VK_ERROR_INVALID_EXTERNAL_HANDLE;
	} else {
		/* Memory host pointers cannot back: allocated without the
		 * dma-buf export the driver lacks, so exporting it fails
		 * cleanly later instead of the allocation failing now. */
		plan_link(p, NULL);
		r = d->AllocateMemory(device, &p->info, alloc, out);
	}
	free(p);
	return r;
}

static struct hostmem *hostmem_take(struct dev *d, VkDeviceMemory mem, bool unlink)
{
	struct hostmem **p, *m;

	pthread_mutex_lock(&lock);
	for (p = &d->mems; *p && (*p)->mem != mem; p = &(*p)->next)
		;
	m = *p;
	if (m && unlink)
		*p = m->next;
	pthread_mutex_unlock(&lock);
	return m;
}

static VKAPI_ATTR void VKAPI_CALL layer_FreeMemory(VkDevice device, VkDeviceMemory mem,
						   const VkAllocationCallbacks *alloc)
{
	struct dev *d = dev_get(device);
	struct hostmem *m;

	d->FreeMemory(device, mem, alloc);
	if (!d->bridge || !mem)
		return;
	m = hostmem_take(d, mem, true);
	if (!m)
		return;
	munmap(m->ptr, m->size);
	close(m->memfd);
	free(m);
}

static VKAPI_ATTR VkResult VKAPI_CALL layer_GetMemoryFdKHR(VkDevice device,
							   const VkMemoryGetFdInfoKHR *info,
							   int *fd)
{
	struct dev *d = dev_get(device);
	struct hostmem *m;

	if (!d->bridge || info->handleType != DMA_BUF)
		return d->GetMemoryFdKHR(device, info, fd);
	m = hostmem_take(d, info->memory, false);
	if (!m)
		return VK_ERROR_INVALID_EXTERNAL_HANDLE;
	*fd = fcntl(m->memfd, F_DUPFD_CLOEXEC, 0);
	return *fd < 0 ? VK_ERROR_TOO_MANY_OBJECTS : VK_SUCCESS;
}

static VKAPI_ATTR VkResult VKAPI_CALL
layer_GetMemoryFdPropertiesKHR(VkDevice device, VkExternalMemoryHandleTypeFlagBits type, int fd,
			       VkMemoryFdPropertiesKHR *props)
{
	struct dev *d = dev_get(device);

	if (!d->bridge || type != DMA_BUF || !is_memfd(fd))
		return d->GetMemoryFdPropertiesKHR(device, type, fd, props);
	props->memoryTypeBits = d->host_type_bits;
	return VK_SUCCESS;
}

/* A buffer meant for a "dma-buf" is really bound to host memory. */
static VKAPI_ATTR VkResult VKAPI_CALL layer_CreateBuffer(VkDevice device,
							 const VkBufferCreateInfo *info,
							 const VkAllocationCallbacks *alloc,
							 VkBuffer *out)
{
	struct dev *d = dev_get(device);
	const VkExternalMemoryBufferCreateInfo *ext;
	VkExternalMemoryBufferCreateInfo copy;
	VkBufferCreateInfo ci;

	ext = chain_find(info->pNext, VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO);
	if (!d->bridge || !ext || !(ext->handleTypes & DMA_BUF) || ext != info->pNext)
		return d->CreateBuffer(device, info, alloc, out);
	/* Only the common shape (external info first in the chain) is
	 * rewritten; anything else reaches the driver as it came. */
	copy = *ext;
	copy.handleTypes = (copy.handleTypes & ~DMA_BUF) | HOST_ALLOC;
	ci = *info;
	ci.pNext = &copy;
	return d->CreateBuffer(device, &ci, alloc, out);
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */

static PFN_vkVoidFunction device_hook(const char *name)
{
#define HOOK(fn)                                                                                   \
	if (!strcmp(name, "vk" #fn))                                                               \
	return (PFN_vkVoidFunction)layer_##fn
	HOOK(DestroyDevice);
	HOOK(AllocateMemory);
	HOOK(FreeMemory);
	HOOK(GetMemoryFdKHR);
	HOOK(GetMemoryFdPropertiesKHR);
	HOOK(CreateBuffer);
	return NULL;
}

static PFN_vkVoidFunction instance_hook(const char *name)
{
	HOOK(CreateInstance);
	HOOK(DestroyInstance);
	HOOK(CreateDevice);
	HOOK(EnumerateDeviceExtensionProperties);
	HOOK(GetPhysicalDeviceExternalBufferProperties);
	HOOK(GetPhysicalDeviceImageFormatProperties2);
	HOOK(GetPhysicalDeviceMemoryProperties);
	HOOK(GetPhysicalDeviceMemoryProperties2);
	if (!strcmp(name, "vkGetPhysicalDeviceMemoryProperties2KHR"))
		return (PFN_vkVoidFunction)layer_GetPhysicalDeviceMemoryProperties2;
	if (!strcmp(name, "vkGetPhysicalDeviceExternalBufferPropertiesKHR"))
		return (PFN_vkVoidFunction)layer_GetPhysicalDeviceExternalBufferProperties;
	if (!strcmp(name, "vkGetPhysicalDeviceImageFormatProperties2KHR"))
		return (PFN_vkVoidFunction)layer_GetPhysicalDeviceImageFormatProperties2;
#undef HOOK
	return device_hook(name);
}

/* The loader gets these through vkNegotiateLoaderLayerInterfaceVersion.
 * They are static on purpose: an exported vkGetInstanceProcAddr referred to
 * from inside this library would bind to libvulkan's own (symbol
 * interposition) wherever the application links the loader, and the chain
 * would call itself forever. */
static VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL layer_GetDeviceProcAddr(VkDevice device,
									const char *name)
{
	PFN_vkVoidFunction f = device_hook(name);
	struct dev *d = dev_get(device);

	if (!strcmp(name, "vkGetDeviceProcAddr"))
		return (PFN_vkVoidFunction)layer_GetDeviceProcAddr;
	if (!d)
		return NULL;
	/* Functions of extensions the device lacks stay missing. */
	if (f && d->gdpa(device, name))
		return f;
	return d->gdpa(device, name);
}

static VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL layer_GetInstanceProcAddr(VkInstance instance,
									  const char *name)
{
	PFN_vkVoidFunction f = instance_hook(name);
	struct inst *i;

	if (!strcmp(name, "vkGetInstanceProcAddr"))
		return (PFN_vkVoidFunction)layer_GetInstanceProcAddr;
	if (!strcmp(name, "vkGetDeviceProcAddr"))
		return (PFN_vkVoidFunction)layer_GetDeviceProcAddr;
	if (f || !instance)
		return f;
	i = inst_get(instance);
	return i ? i->gipa(instance, name) : NULL;
}

EXPORT VKAPI_ATTR VkResult VKAPI_CALL
vkNegotiateLoaderLayerInterfaceVersion(VkNegotiateLayerInterface *v)
{
	if (v->loaderLayerInterfaceVersion < 2)
		return VK_ERROR_INITIALIZATION_FAILED;
	v->loaderLayerInterfaceVersion = 2;
	v->pfnGetInstanceProcAddr = layer_GetInstanceProcAddr;
	v->pfnGetDeviceProcAddr = layer_GetDeviceProcAddr;
	v->pfnGetPhysicalDeviceProcAddr = NULL;
	return VK_SUCCESS;
}
