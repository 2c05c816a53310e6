// SPDX-License-Identifier: GPL-2.0
/*
 * private-write-hole: what a private write over a shmem hole allocates.
 *
 * Claims C1 and C2 of the linux-mm thread "Avoiding allocation of unused
 * shmem page" (Oct 2022).  C1: a store through a MAP_PRIVATE mapping of a
 * shmem file, over a hole, makes shmem_fault() allocate a zero-filled
 * page-cache page (SGP_CACHE) which do_cow_fault() then copies into a new
 * anonymous page: two pages where only the COW page is needed.  C2: asking
 * shmem_fault() for SGP_READ on such a fault would avoid the first page.
 * C4: hugetlbfs does not allocate the first page; anon is the baseline
 * without a file.  C8: the stores never reach the file.
 *
 * Each case maps a file of N holes MAP_PRIVATE and write-faults every page
 * one way (variants):
 *
 *   store           one byte stored per page (the case ``memfd`` for memfd)
 *   populate-write  madvise(MADV_POPULATE_WRITE), as QEMU's prealloc does
 *   map-populate    mmap(MAP_POPULATE), as cloud-hypervisor's prefault does
 *   falloc          over a range fallocate()d but never written
 *   punched         over a hole punched where data was written
 *
 * on each backend (memfd, tmpfs, tmpfs-huge, hugetlbfs, anon; falloc and
 * punched need a file).  Facts: pc_added, the growth of the file's
 * st_blocks in pages (N on a kernel with the double allocation, 0 with it
 * fixed; 0 after falloc, whose pages exist already), anon_added, the
 * mapping's private pages (N on every kernel), their per-write ratios, the
 * Shmem and ShmemHugePages growth, and what the mapping maps (maps_*, from
 * pagemap, with CAP_SYS_ADMIN).  A case fails only on a rule every kernel
 * must keep: every access completes, each page gets its private copy, the
 * copy reads what was stored and zeros elsewhere (never stale data of a
 * punched page), and the file still reads what it held before (file_intact);
 * which kernel should allocate what is the harness's behaviour model.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kit.h"
#include "pagemap.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

/* Pages per case: a PMD's worth on huge=always, a few huge pages. */
#define NR_PAGES	256
#define NR_THP_PAGES	512
#define NR_HUGE_PAGES	4

#define STORED		1	/* the byte the store variant writes */
#define OLD_DATA	0xaa	/* what the punched range held */

enum touch { TOUCH_STORE, TOUCH_POPULATE_WRITE, TOUCH_MAP_POPULATE };
enum prep { PREP_HOLE, PREP_FALLOC, PREP_PUNCH };

/* How a case write-faults every page, and over what. */
struct variant {
	enum touch touch;
	enum prep prep;
};

static size_t nr_pages(const struct kit_backend *b)
{
	return kit_backend_pages(b, NR_PAGES, NR_THP_PAGES, NR_HUGE_PAGES);
}

/* Make the file's range what the variant stores over. */
static int prepare(const struct kit_area *a, enum prep prep)
{
	off_t len = a->pages * a->page_size;
	size_t i;

	switch (prep) {
	case PREP_FALLOC:
		return fallocate(a->fd, 0, 0, len);
	case PREP_PUNCH:
		for (i = 0; i < a->pages; i++)
			if (kit_area_file_fill(a, i, OLD_DATA))
				return -1;
		return fallocate(a->fd,
				 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 0, len);
	default:
		return 0;
	}
}

static long long meminfo_or_minus(const char *field)
{
	long long kb = kit_meminfo_kb(field);

	return kb < 0 ? -1 : kb;
}

static void test_case(const struct kit_backend *b, const char *name,
		      const void *arg)
{
	const struct variant *v = arg;
	long long pc_before, pc_after, anon_added, pc_added;
	long long shmem_before, shmem_after, huge_before, huge_after;
	size_t pages = nr_pages(b);
	int flags = MAP_PRIVATE;
	struct kit_area a;
	bool intact = true;
	int failed = 0;
	long mismatched;
	char *p;

	if (kit_area_create(&a, b, "private-write-hole", pages)) {
		ktap_diag("%s: create: %s", name, strerror(errno));
		ktap_result(false, name);
		return;
	}
	if (prepare(&a, v->prep)) {
		ktap_diag("%s: preparing the file: %s", name, strerror(errno));
		goto fail;
	}

	/* MAP_POPULATE faults at mmap(): measure before mapping. */
	pc_before = kit_area_file_pages(&a);
	shmem_before = meminfo_or_minus("Shmem:");
	huge_before = meminfo_or_minus("ShmemHugePages:");

	if (v->touch == TOUCH_MAP_POPULATE)
		flags |= MAP_POPULATE;
	p = kit_area_map(&a, flags);
	if (!p) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto fail;
	}
	if (v->touch == TOUCH_STORE) {
		failed = kit_area_touch(&a, p, true, STORED);
	} else if (v->touch == TOUCH_POPULATE_WRITE &&
		   madvise(p, pages * a.page_size, MADV_POPULATE_WRITE)) {
		if (errno == EINVAL) {
			kit_area_unmap(&a, p);
			kit_area_destroy(&a);
			ktap_skip(name, "no MADV_POPULATE_WRITE (Linux < 5.14)");
			return;
		}
		ktap_diag("%s: MADV_POPULATE_WRITE: %s", name, strerror(errno));
		failed = pages;
	}

	pc_after = kit_area_file_pages(&a);
	anon_added = kit_area_private_pages(&a, p);
	shmem_after = meminfo_or_minus("Shmem:");
	huge_after = meminfo_or_minus("ShmemHugePages:");
	if (pc_before < 0 || pc_after < 0 || anon_added < 0) {
		ktap_diag("%s: measurement failed: %s", name, strerror(errno));
		kit_area_unmap(&a, p);
		goto fail;
	}
	pc_added = pc_after - pc_before;

	ktap_fact("pages", "%zu", pages);
	ktap_fact("pc_added", "%lld", pc_added);
	ktap_fact("anon_added", "%lld", anon_added);
	ktap_fact("pc_per_write", "%.2f", (double)pc_added / pages);
	ktap_fact("anon_per_write", "%.2f", (double)anon_added / pages);
	if (shmem_before >= 0 && shmem_after >= 0)
		ktap_fact("shmem_kb_delta", "%lld", shmem_after - shmem_before);
	else
		ktap_diag("meminfo Shmem: unreadable");
	if (huge_before >= 0 && huge_after >= 0)
		ktap_fact("shmem_huge_kb_delta", "%lld",
			  huge_after - huge_before);
	kit_pagemap_facts("", p, pages, a.page_size);

	mismatched = failed ? 0 : kit_area_mismatches(&a, p,
			v->touch == TOUCH_STORE ? STORED : 0, 0);
	if (mismatched)
		ktap_diag("%ld pages of the mapping read neither the stored byte nor zeros",
			  mismatched);
	if (a.fd >= 0)
		intact = kit_fact_file_intact(name,
					      kit_area_file_all_equal(&a, 0));

	kit_area_unmap(&a, p);
	kit_area_destroy(&a);
	ktap_result(!failed && !mismatched && anon_added == (long long)pages &&
		    intact, name);
	return;
fail:
	kit_area_destroy(&a);
	ktap_result(false, name);
}

/* A case's file and its private copies at once, with room to spare. */
static size_t setup_pages(const struct kit_backend *b)
{
	return 3 * nr_pages(b);
}

static const struct variant store = { TOUCH_STORE, PREP_HOLE };
static const struct variant populate_write = { TOUCH_POPULATE_WRITE, PREP_HOLE };
static const struct variant map_populate = { TOUCH_MAP_POPULATE, PREP_HOLE };
static const struct variant falloc = { TOUCH_STORE, PREP_FALLOC };
static const struct variant punched = { TOUCH_STORE, PREP_PUNCH };

static const struct kit_case cases[] = {
	{ "store", 0, test_case, &store },
	{ "populate-write", 0, test_case, &populate_write },
	{ "map-populate", 0, test_case, &map_populate },
	{ "falloc", KIT_BACKEND_FILE, test_case, &falloc },
	{ "punched", KIT_BACKEND_FILE, test_case, &punched },
};

/* The case ``memfd`` predates the variants; keep its name. */
static const char *case_name(const struct kit_case *c,
			     const struct kit_backend *b)
{
	return c->arg == &store && b == &kit_backend_memfd ? NULL : c->name;
}

int main(void)
{
	static const struct kit_run run = {
		.title = "private-write-hole: private write faults over holes (C1, C2, C4, C8)",
		.setup_pages = setup_pages,
		.cases = cases,
		.nr_cases = ARRAY_SIZE(cases),
		.case_name = case_name,
	};

	return kit_run_backends(&run);
}
