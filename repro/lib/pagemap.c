// SPDX-License-Identifier: GPL-2.0
/*
 * What a virtual page maps, from /proc/self/pagemap and /proc/kpageflags
 * (Documentation/admin-guide/mm/pagemap.rst).
 *
 * A pagemap entry says whether the page is present or swapped and, for a
 * reader with CAP_SYS_ADMIN, its PFN; without the capability the PFN reads
 * as 0 and /proc/kpageflags is closed.  The helpers then classify nothing
 * and say why: a page-cache page and an anonymous page are both just
 * "present" to an unprivileged reader, and guessing would turn a missing
 * privilege into a wrong fact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/kernel-page-flags.h>
#include <sys/capability.h>

#include "kit.h"
#include "pagemap.h"

#ifndef BIT_ULL
#define BIT_ULL(nr)		(1ULL << (nr))
#endif

#define PM_PRESENT		BIT_ULL(63)
#define PM_SWAP			BIT_ULL(62)
#define PM_PFN_MASK		(BIT_ULL(55) - 1)

#define KPF(bit)		BIT_ULL(bit)

static int pagemap_fd = -1;
static int kpageflags_fd = -1;

/**
 * kit_page_kind_name() - name of a page kind
 * @kind: the kind
 *
 * Return: ``none``, ``swap``, ``zero``, ``huge``, ``thp``, ``anon`` or
 * ``file``; the suffix of the ``maps_*`` facts.
 */
const char *kit_page_kind_name(enum kit_page_kind kind)
{
	static const char *const names[] = {
		[KIT_PAGE_NONE] = "none",
		[KIT_PAGE_SWAP] = "swap",
		[KIT_PAGE_ZERO] = "zero",
		[KIT_PAGE_HUGE] = "huge",
		[KIT_PAGE_THP] = "thp",
		[KIT_PAGE_ANON] = "anon",
		[KIT_PAGE_FILE] = "file",
	};

	if ((size_t)kind >= ARRAY_SIZE(names))
		return "?";
	return names[kind];
}

/**
 * kit_pagemap_usable() - can pages be classified here?
 * @why: where to put the reason if not; may be NULL
 * @len: size of @why
 *
 * Needs CAP_SYS_ADMIN (PFNs in /proc/self/pagemap), and /proc/kpageflags
 * (CONFIG_PROC_PAGE_MONITOR).  Opens both files once and keeps them open.
 *
 * Return: true if kit_page_classify() can work.
 */
bool kit_pagemap_usable(char *why, size_t len)
{
	static char reason[160];
	static int state;

	if (state)
		goto out;
	state = -1;
	if (!kit_has_cap(CAP_SYS_ADMIN)) {
		snprintf(reason, sizeof(reason),
			 "/proc/self/pagemap shows PFNs only with CAP_SYS_ADMIN");
		goto out;
	}
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0) {
		snprintf(reason, sizeof(reason), "/proc/self/pagemap: %s",
			 strerror(errno));
		goto out;
	}
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (kpageflags_fd < 0) {
		snprintf(reason, sizeof(reason), "/proc/kpageflags: %s",
			 strerror(errno));
		goto out;
	}
	state = 1;
out:
	if (state < 0 && why && len)
		snprintf(why, len, "%s", reason);
	return state > 0;
}

static int read_u64(int fd, unsigned long long index, unsigned long long *value)
{
	ssize_t n = pread(fd, value, sizeof(*value), index * sizeof(*value));

	if (n == sizeof(*value))
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

/**
 * kit_page_classify() - what does a virtual page of this process map?
 * @addr: an address in the page
 * @info: filled in
 *
 * Return: 0, or -1 with errno set: EPERM when kit_pagemap_usable() is
 * false, or when a present page shows no PFN.
 */
int kit_page_classify(const void *addr, struct kit_page_info *info)
{
	unsigned long long entry, kflags;

	memset(info, 0, sizeof(*info));
	if (!kit_pagemap_usable(NULL, 0)) {
		errno = EPERM;
		return -1;
	}
	if (read_u64(pagemap_fd, (uintptr_t)addr / kit_page_size(), &entry))
		return -1;
	if (!(entry & PM_PRESENT)) {
		info->kind = entry & PM_SWAP ? KIT_PAGE_SWAP : KIT_PAGE_NONE;
		return 0;
	}
	info->present = true;
	info->pfn = entry & PM_PFN_MASK;
	if (!info->pfn) {
		errno = EPERM;
		return -1;
	}
	if (read_u64(kpageflags_fd, info->pfn, &kflags))
		return -1;
	info->kflags = kflags;
	info->anon = kflags & KPF(KPF_ANON);
	if (kflags & KPF(KPF_ZERO_PAGE))
		info->kind = KIT_PAGE_ZERO;
	else if (kflags & KPF(KPF_HUGE))
		info->kind = KIT_PAGE_HUGE;
	else if (kflags & KPF(KPF_THP))
		info->kind = KIT_PAGE_THP;
	else if (info->anon)
		info->kind = KIT_PAGE_ANON;
	else
		info->kind = KIT_PAGE_FILE;
	return 0;
}

/**
 * kit_pagemap_count() - count the pages of a range by what they map
 * @addr: start of the range
 * @pages: number of pages to look at
 * @stride: bytes from one page to the next (the backend's page size: the
 *	first base page of each huge page is looked at)
 * @c: filled in
 *
 * Return: 0, or -1 with errno set as kit_page_classify().
 */
int kit_pagemap_count(const void *addr, size_t pages, size_t stride,
		      struct kit_pagemap_counts *c)
{
	const char *p = addr;
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < pages; i++) {
		struct kit_page_info info;

		if (kit_page_classify(p + i * stride, &info))
			return -1;
		c->pages++;
		switch (info.kind) {
		case KIT_PAGE_NONE:
			c->none++;
			continue;
		case KIT_PAGE_SWAP:
			c->swap++;
			continue;
		case KIT_PAGE_ZERO:
			c->zero++;
			continue;
		case KIT_PAGE_HUGE:
			c->huge++;
			break;
		case KIT_PAGE_THP:
			c->thp++;
			break;
		default:
			break;
		}
		if (info.anon)
			c->anon++;
		else
			c->file++;
	}
	return 0;
}

/**
 * kit_pagemap_facts() - print what a range maps as facts of the next case
 * @prefix: prepended to the fact names, e.g. ``read_``; may be ""
 * @addr: start of the range
 * @pages: number of pages
 * @stride: bytes from one page to the next
 *
 * Prints ``<prefix>maps_none``, ``maps_anon``, ``maps_file``,
 * ``maps_zero``, ``maps_thp``, ``maps_huge`` (and ``maps_swap`` if any
 * page is swapped out) as in struct kit_pagemap_counts.  If pages cannot
 * be classified, prints no fact and one diagnostic saying why.
 *
 * Return: 0 if the facts were printed, else -1.
 */
int kit_pagemap_facts(const char *prefix, const void *addr, size_t pages,
		      size_t stride)
{
	struct kit_pagemap_counts c;
	char key[64], why[160];

	if (!kit_pagemap_usable(why, sizeof(why))) {
		ktap_diag("%smaps_* facts omitted: %s", prefix, why);
		return -1;
	}
	if (kit_pagemap_count(addr, pages, stride, &c)) {
		ktap_diag("%smaps_* facts omitted: pagemap: %s", prefix,
			  strerror(errno));
		return -1;
	}
#define FACT(name) do {							\
		snprintf(key, sizeof(key), "%smaps_" #name, prefix);	\
		ktap_fact(key, "%ld", c.name);				\
	} while (0)
	FACT(none);
	FACT(anon);
	FACT(file);
	FACT(zero);
	FACT(thp);
	FACT(huge);
	if (c.swap)
		FACT(swap);
#undef FACT
	return 0;
}
