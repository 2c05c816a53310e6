// SPDX-License-Identifier: GPL-2.0
/*
 * private-read-then-write: a read fault on a hole of a private mapping, then
 * a write, and what the mapping sees of later writes to the file.
 *
 * Claims C1/C2 (the reference patch changes only write faults that come
 * with a COW page: a read fault still allocates and maps a page-cache page,
 * and the write that follows is then an ordinary COW of it), C4/C5 (hugetlb
 * maps a private read fault differently: with an anonymous page, not the
 * page cache) and C8/C9 (what a private mapping may see of the file).
 *
 * Each case maps a file of N holes MAP_PRIVATE and:
 *
 *  1. loads one byte of every page: pc_per_read is the growth of the file's
 *     st_blocks per page, read_maps_* what the mapping then maps (pagemap);
 *  2. writes the file (pwrite(), or a MAP_SHARED mapping on hugetlbfs) at
 *     the last page, read but never written: sees_later_write says whether
 *     the private mapping shows the new data there (it may: MAP_PRIVATE
 *     only promises isolation of the mapping's own writes);
 *  3. stores one byte to every other page: pc_per_write, anon_per_write,
 *     maps_* after the stores;
 *  4. writes the file at the first page, privately written in step 3:
 *     written_sees_later_write must be 0 on every kernel.
 *
 * A case fails if an access does not complete, a written page does not
 * read what was stored then zeros, a private page did not come out of each
 * store, written_sees_later_write is not 0, or the file does not read what
 * it held (zeros, and the two pages written through the file).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kit.h"
#include "pagemap.h"

#define NR_PAGES	256
#define NR_THP_PAGES	512
#define NR_HUGE_PAGES	4

#define STORED		1
#define LATE_READ	0x5a	/* written to the file at a page only read */
#define LATE_WRITTEN	0x66	/* written to the file at a page stored to */

static size_t nr_pages(const struct kit_backend *b)
{
	return kit_backend_pages(b, NR_PAGES, NR_THP_PAGES, NR_HUGE_PAGES);
}

/* The file reads zeros but at the two pages written through it. */
static int file_as_expected(const struct kit_area *a)
{
	size_t i;
	int want, ret;

	for (i = 0; i < a->pages; i++) {
		want = 0;
		if (i == 0)
			want = LATE_WRITTEN;
		else if (i == a->pages - 1)
			want = LATE_READ;
		ret = kit_area_file_equals(a, i, want);
		if (ret != 1)
			return ret;
	}
	return 1;
}

/* Pages 0 .. n-1 read STORED then zeros. */
static long bad_written_pages(const struct kit_area *a, const char *p,
			      size_t n)
{
	struct kit_area part = *a;

	part.pages = n;
	return kit_area_mismatches(&part, p, STORED, 0);
}

static void test_case(const struct kit_backend *b, const char *name,
		      const void *arg)
{
	long long pc0, pc1, pc2, pc3, anon1, anon2;
	size_t pages = nr_pages(b), last = pages - 1;
	struct kit_area a, head;
	bool ok = true;
	int failed;
	long bad;
	char *p;

	(void)arg;
	if (kit_area_create(&a, b, "private-read-then-write", pages)) {
		ktap_diag("%s: create: %s", name, strerror(errno));
		ktap_result(false, name);
		return;
	}
	p = kit_area_map(&a, MAP_PRIVATE);
	if (!p) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		kit_area_destroy(&a);
		ktap_result(false, name);
		return;
	}

	/* 1. Read faults over holes. */
	pc0 = kit_area_file_pages(&a);
	failed = kit_area_touch(&a, p, false, 0);
	pc1 = kit_area_file_pages(&a);
	anon1 = kit_area_private_pages(&a, p);
	kit_pagemap_facts("read_", p, pages, a.page_size);

	/* 2. The file changes under a page only read. */
	if (a.fd >= 0 && kit_area_file_fill(&a, last, LATE_READ)) {
		ktap_diag("%s: writing the file: %s", name, strerror(errno));
		ok = false;
	}
	pc2 = kit_area_file_pages(&a);

	/* 3. Stores to every page but the last. */
	head = a;
	head.pages = last;
	failed += kit_area_touch(&head, p, true, STORED);
	pc3 = kit_area_file_pages(&a);
	anon2 = kit_area_private_pages(&a, p);
	if (pc0 < 0 || pc1 < 0 || pc2 < 0 || pc3 < 0 || anon1 < 0 ||
	    anon2 < 0) {
		ktap_diag("%s: measurement failed: %s", name,
			  strerror(errno));
		goto fail;
	}
	ktap_fact("pages", "%zu", pages);
	ktap_fact("pc_per_read", "%.2f", (double)(pc1 - pc0) / pages);
	ktap_fact("anon_per_read", "%.2f", (double)anon1 / pages);
	ktap_fact("pc_per_write", "%.2f", (double)(pc3 - pc2) / last);
	ktap_fact("anon_per_write", "%.2f", (double)(anon2 - anon1) / last);
	kit_pagemap_facts("", p, pages, a.page_size);
	if (failed)
		ok = false;
	/* hugetlb maps an anonymous page on a private read fault already. */
	if (anon2 < (long long)last) {
		ktap_diag("%s: %lld private pages for %zu stores", name,
			  anon2, last);
		ok = false;
	}
	bad = failed ? 0 : bad_written_pages(&a, p, last);
	if (bad) {
		ktap_diag("%s: %ld written pages do not read the stored byte then zeros",
			  name, bad);
		ok = false;
	}

	if (a.fd >= 0) {
		/* 4. The file changes under a page written privately. */
		if (kit_area_file_fill(&a, 0, LATE_WRITTEN)) {
			ktap_diag("%s: writing the file: %s", name,
				  strerror(errno));
			goto fail;
		}
		ktap_fact("sees_later_write", "%d",
			  (unsigned char)p[last * a.page_size] == LATE_READ);
		ktap_fact("written_sees_later_write", "%d",
			  (unsigned char)p[0] == LATE_WRITTEN);
		if ((unsigned char)p[0] != STORED) {
			ktap_diag("%s: a write to the file reached a page %s",
				  name, "the private mapping had written");
			ok = false;
		}
		ok &= kit_fact_file_intact(name, file_as_expected(&a));
	}
	kit_area_unmap(&a, p);
	kit_area_destroy(&a);
	ktap_result(ok, name);
	return;
fail:
	kit_area_unmap(&a, p);
	kit_area_destroy(&a);
	ktap_result(false, name);
}

/* A case's file and its private copies at once, with room to spare. */
static size_t setup_pages(const struct kit_backend *b)
{
	return 3 * nr_pages(b);
}

static const struct kit_case cases[] = {
	{ .test = test_case },
};

int main(void)
{
	static const struct kit_run run = {
		.title =
			"private-read-then-write: read faults over holes, then writes (C1, C2, C4, C5, C8, C9)",
		.setup_pages = setup_pages,
		.cases = cases,
		.nr_cases = ARRAY_SIZE(cases),
	};

	return kit_run_backends(&run);
}
