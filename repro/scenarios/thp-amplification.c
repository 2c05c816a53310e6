// SPDX-License-Identifier: GPL-2.0
/*
 * thp-amplification: page cache added by one 4 KiB private store over a hole
 * where shmem allocates PMD-sized folios.
 *
 * Claim C1 at its worst (hazard "huge=always tmpfs" of the RFC): on a
 * huge=always tmpfs mount, or with shmem_enabled=force, shmem_fault() with
 * SGP_CACHE allocates a 2 MiB page-cache folio and zeroes it so that
 * do_cow_fault() can copy one 4 KiB page out of it: 512 times the memory
 * the store needs, left in the page cache.  C2 (as the reference patch
 * implements it): SGP_READ finds the hole and the COW page is zeroed
 * instead, so nothing is added.
 *
 * Each case maps a file of two PMD-sized holes MAP_PRIVATE, stores one
 * byte at offset 0 and reports the growth of the file (st_blocks, as
 * pc_kb_added and amplification = bytes added / 4096) and of ShmemHugePages.
 * A control follows: one byte pwrite() into the second hole, which
 * allocates a page-cache folio on every kernel.  It must add a whole
 * PMD-sized folio (control_huge_kb): a kernel whose page cache silently
 * hands out small folios (6.1 built without CONFIG_BASE_FULL) would make
 * the measurement prove nothing, so the case fails then.  It also fails
 * if the store does not complete, if the private page does not read what
 * was stored, or if the file no longer reads zeros outside the control
 * byte.  The cases: tmpfs-huge (a huge=always mount), memfd-force
 * (memfd with /sys/kernel/mm/transparent_hugepage/shmem_enabled set to
 * force for the case's duration only, then restored), and memfd-mthp64 and
 * memfd-mthp2048 (a per-size control, hugepages-<size>kB/shmem_enabled,
 * set to always; 6.11 and later, skipped where absent).  The per-size
 * controls apply to faults only, so for them the control is a store
 * through a MAP_SHARED mapping, which must add one folio of that size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kit.h"
#include "pagemap.h"

#define THP_DIR		"/sys/kernel/mm/transparent_hugepage/"
#define SHMEM_ENABLED	THP_DIR "shmem_enabled"

#define STORED		1

struct thp_case {
	const char *name;
	const struct kit_backend *backend;
	const char *knob;	/* set to @value during the case, or NULL */
	const char *value;
	size_t folio_kb;	/* the folio size it yields; 0: PMD size */
};

static const struct thp_case cases[] = {
	{ "tmpfs-huge", &kit_backend_tmpfs_huge, NULL, NULL, 0 },
	{ "memfd-force", &kit_backend_memfd, SHMEM_ENABLED, "force", 0 },
	{ "memfd-mthp64", &kit_backend_memfd,
	  THP_DIR "hugepages-64kB/shmem_enabled", "always", 64 },
	{ "memfd-mthp2048", &kit_backend_memfd,
	  THP_DIR "hugepages-2048kB/shmem_enabled", "always", 2048 },
};

/* st_blocks of the file in KiB. */
static long long file_kb(const struct kit_area *a)
{
	long long pages = kit_area_file_pages(a);

	return pages < 0 ? -1 : pages * (long long)(a->page_size / 1024);
}

/* Every page but the control page reads zeros; it reads STORED then 0. */
static int file_intact(const struct kit_area *a, size_t control)
{
	unsigned char byte;
	size_t i;
	int ret;

	for (i = 0; i < a->pages; i++) {
		if (i == control)
			continue;
		ret = kit_area_file_equals(a, i, 0);
		if (ret != 1)
			return ret;
	}
	if (pread(a->fd, &byte, 1, control * a->page_size) != 1)
		return -1;
	return byte == STORED;
}

/* The stored byte, then zeros to the end of the page, and no further. */
static bool private_page_ok(const unsigned char *p)
{
	size_t i;

	if (p[0] != STORED)
		return false;
	for (i = 1; i < kit_page_size(); i++)
		if (p[i])
			return false;
	return true;
}

/* Map the file at a PMD-aligned address (see kit_map_aligned()). */
static void *map_aligned(const struct kit_area *a, int flags, size_t align)
{
	return kit_map_aligned(a->fd, a->pages * a->page_size, align,
			       PROT_READ | PROT_WRITE, flags);
}

/*
 * One byte into the second hole, where a page-cache folio is always
 * allocated: by pwrite() for the PMD-sized cases; for a per-size control,
 * which only faults follow, by a store through a MAP_SHARED mapping.
 */
static int control_write(const struct kit_area *a, const struct thp_case *c,
			 size_t pmd)
{
	const unsigned char stored = STORED;
	unsigned char *s;

	if (!c->folio_kb)
		return pwrite(a->fd, &stored, 1, pmd) == 1 ? 0 : -1;
	s = map_aligned(a, MAP_SHARED, pmd);
	if (!s)
		return -1;
	s[pmd] = STORED;
	return kit_area_unmap(a, s);
}

static void test_case(const struct thp_case *c, size_t pmd)
{
	long long kb0, kb1, kb2, huge0, huge1, huge2;
	size_t folio_kb = c->folio_kb ? c->folio_kb : pmd / 1024;
	size_t pmd_pages = pmd / kit_page_size();
	struct kit_access acc;
	struct kit_area a;
	bool ok = true;
	unsigned char *p;

	if (kit_area_create(&a, c->backend, "thp-amplification",
			    2 * pmd_pages)) {
		ktap_diag("%s: create: %s", c->name, strerror(errno));
		ktap_result(false, c->name);
		return;
	}
	/*
	 * Before mmap(): shmem_get_unmapped_area() aligns the mapping for
	 * huge pages only if they are enabled then, and newer kernels map a
	 * huge folio only into a suitably aligned range.
	 */
	if (c->knob && kit_knob_set(c->knob, c->value)) {
		ktap_diag("%s: setting %s to %s: %s", c->name, c->knob,
			  c->value, strerror(errno));
		kit_area_destroy(&a);
		ktap_result(false, c->name);
		return;
	}
	p = map_aligned(&a, MAP_PRIVATE, pmd);
	if (!p) {
		ktap_diag("%s: mmap: %s", c->name, strerror(errno));
		if (c->knob)
			kit_knob_restore(c->knob);
		kit_area_destroy(&a);
		ktap_result(false, c->name);
		return;
	}

	kb0 = file_kb(&a);
	huge0 = kit_meminfo_kb("ShmemHugePages:");
	kit_access_init(&acc, -1, p, true, STORED);
	if (kit_access_run(&acc)) {
		ktap_diag("%s: store failed: signal %d, error %d, timed out %d",
			  c->name, acc.signal, acc.error, acc.timed_out);
		ok = false;
	}
	kb1 = file_kb(&a);
	huge1 = kit_meminfo_kb("ShmemHugePages:");

	/* Control: a write through the file always allocates a folio. */
	if (control_write(&a, c, pmd)) {
		ktap_diag("%s: control write: %s", c->name, strerror(errno));
		ok = false;
	}
	kb2 = file_kb(&a);
	huge2 = kit_meminfo_kb("ShmemHugePages:");
	if (c->knob)
		kit_knob_restore(c->knob);

	if (kb0 < 0 || kb1 < 0 || kb2 < 0 || huge0 < 0 || huge1 < 0 ||
	    huge2 < 0) {
		ktap_diag("%s: measurement failed: %s", c->name,
			  strerror(errno));
		goto fail;
	}
	ktap_fact("pc_kb_added", "%lld", kb1 - kb0);
	ktap_fact("shmem_huge_kb_delta", "%lld", huge1 - huge0);
	ktap_fact("amplification", "%.2f",
		  (double)(kb1 - kb0) * 1024 / kit_page_size());
	ktap_fact("control_pc_kb", "%lld", kb2 - kb1);
	ktap_fact("control_huge_kb", "%lld", huge2 - huge1);
	kit_pagemap_facts("", p, 1, kit_page_size());
	if (kb2 - kb1 != (long long)folio_kb ||
	    (folio_kb == pmd / 1024 && huge2 - huge1 != (long long)folio_kb)) {
		ktap_diag("%s: control write: file +%lld KiB, ShmemHugePages +%lld KiB",
			  c->name, kb2 - kb1, huge2 - huge1);
		ktap_diag("%s: no %zu KiB page-cache folio: the figures prove nothing",
			  c->name, folio_kb);
		ok = false;
	}
	if (acc.completed && !private_page_ok(p)) {
		ktap_diag("%s: the private page does not read what was stored",
			  c->name);
		ok = false;
	}
	ok &= kit_fact_file_intact(c->name, file_intact(&a, pmd_pages));
	kit_area_unmap(&a, p);
	kit_area_destroy(&a);
	ktap_result(ok, c->name);
	return;
fail:
	if (c->knob)
		kit_knob_restore(c->knob);
	kit_area_unmap(&a, p);
	kit_area_destroy(&a);
	ktap_result(false, c->name);
}

static void print_knob(const char *path)
{
	char value[64];

	if (kit_knob_read(path, value, sizeof(value)))
		ktap_diag("%s: %s", path, strerror(errno));
	else
		ktap_diag("%s: %s", path, value);
}

int main(void)
{
	int setup[ARRAY_SIZE(cases)];
	char why[ARRAY_SIZE(cases)][256];
	size_t i, pmd;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		setup[i] = kit_backend_setup(cases[i].backend, 0, why[i],
					     sizeof(why[i]));
	ktap_start(ARRAY_SIZE(cases), "%s",
		   "thp-amplification: one private store over a hole where shmem allocates huge folios (C1, C2)");
	print_knob(THP_DIR "enabled");
	print_knob(SHMEM_ENABLED);
	pmd = kit_pmd_size();
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct thp_case *c = &cases[i];

		if (!pmd) {
			ktap_skip(c->name, "no transparent huge pages (no " KIT_PMD_SIZE_KNOB ")");
		} else if (setup[i] > 0) {
			ktap_skip(c->name, why[i]);
		} else if (setup[i] < 0) {
			ktap_diag("%s: %s", c->name, why[i]);
			ktap_result(false, c->name);
		} else if (c->knob && access(c->knob, F_OK)) {
			ktap_skip(c->name, "this kernel has no per-size shmem control");
		} else if (c->knob && access(c->knob, W_OK)) {
			ktap_skip(c->name, "cannot write the shmem THP control");
		} else {
			test_case(c, pmd);
		}
	}
	return ktap_exit_status();
}
