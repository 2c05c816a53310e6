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
 *
 * Measured: a file of N holes is mapped MAP_PRIVATE and one byte is stored
 * per page.  pc_added is the growth of the file's st_blocks in pages: N on
 * a kernel with the double allocation, 0 with it fixed.  anon_added is the
 * growth of the mapping's smaps Anonymous: in pages, N on every kernel.
 * file_intact says the stores did not reach the file, which must hold on
 * every kernel; the case fails only on that, on a failed store or on a
 * missing COW page, never on the double allocation itself: which kernel
 * should allocate what is the harness's behaviour model, not this test's.
 *
 * Backends are rows of the table at the end; each runs the same test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kit.h"

#define NR_PAGES	256

/* A store that leaked into the file would show here as a non-zero byte. */
static int file_is_zero(int fd, size_t pages)
{
	size_t i;
	int ret;

	for (i = 0; i < pages; i++) {
		ret = kit_pread_page_equals(fd, i, 0);
		if (ret != 1)
			return ret;
	}
	return 1;
}

static void test_private_write_hole(const struct kit_backend *b)
{
	long long pc_before, pc_after, anon_before, anon_after;
	long long shmem_before, shmem_after, pc_added, anon_added;
	size_t ps = kit_page_size();
	long long kb_per_page = ps / 1024;
	int failed_stores = 0;
	int intact, fd;
	char *p;
	size_t i;

	fd = b->create("private-write-hole", NR_PAGES);
	if (fd < 0) {
		ktap_diag("%s: create: %s", b->name, strerror(errno));
		ktap_result(false, b->name);
		return;
	}
	p = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	if (!p) {
		ktap_diag("%s: mmap: %s", b->name, strerror(errno));
		close(fd);
		ktap_result(false, b->name);
		return;
	}

	pc_before = kit_file_pages(fd);
	anon_before = kit_vma_field_kb(p, "Anonymous:");
	shmem_before = kit_meminfo_kb("Shmem:");

	for (i = 0; i < NR_PAGES; i++) {
		struct kit_access acc;

		kit_access_init(&acc, -1, p + i * ps, true, 1);
		if (!kit_access_run(&acc))
			continue;
		if (!failed_stores++)
			ktap_diag("page %zu: store failed: signal %d, error %d, timed out %d",
				  i, acc.signal, acc.error, acc.timed_out);
	}

	pc_after = kit_file_pages(fd);
	anon_after = kit_vma_field_kb(p, "Anonymous:");
	shmem_after = kit_meminfo_kb("Shmem:");
	intact = file_is_zero(fd, NR_PAGES);

	if (pc_before < 0 || pc_after < 0 || anon_before < 0 ||
	    anon_after < 0 || intact < 0) {
		ktap_diag("measurement failed: %s", strerror(errno));
		munmap(p, NR_PAGES * ps);
		close(fd);
		ktap_result(false, b->name);
		return;
	}
	pc_added = pc_after - pc_before;
	anon_added = (anon_after - anon_before) / kb_per_page;
	if (failed_stores)
		ktap_diag("%d of %d stores failed", failed_stores, NR_PAGES);

	ktap_fact("pages", "%d", NR_PAGES);
	ktap_fact("pc_added", "%lld", pc_added);
	ktap_fact("anon_added", "%lld", anon_added);
	ktap_fact("pc_per_write", "%.2f", (double)pc_added / NR_PAGES);
	ktap_fact("anon_per_write", "%.2f", (double)anon_added / NR_PAGES);
	if (shmem_before >= 0 && shmem_after >= 0)
		ktap_fact("shmem_kb_delta", "%lld", shmem_after - shmem_before);
	else
		ktap_diag("meminfo Shmem: unreadable");
	ktap_fact("file_intact", "%d", intact);

	munmap(p, NR_PAGES * ps);
	close(fd);
	ktap_result(!failed_stores && anon_added == NR_PAGES && intact == 1,
		    b->name);
}

static const struct kit_backend backends[] = {
	{ "memfd", kit_memfd_create },
};

int main(void)
{
	struct utsname u;
	size_t i;

	ktap_header(ARRAY_SIZE(backends));
	if (!uname(&u))
		ktap_diag("kernel: %s %s", u.release, u.machine);
	ktap_diag("private-write-hole: %d private stores over holes (C1, C2)",
		  NR_PAGES);
	for (i = 0; i < ARRAY_SIZE(backends); i++)
		test_private_write_hole(&backends[i]);
	return ktap_exit_status();
}
