// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-missing: which accesses to a private shmem mapping raise MISSING.
 *
 * Claims C3, C4, C5 and C9 of the linux-mm thread "Avoiding allocation of
 * unused shmem page" (Oct 2022).  C3: looking the page cache up with
 * SGP_READ on a private write fault would lose the userfaultfd MISSING
 * events a registered MAP_PRIVATE shmem mapping gets today, because
 * shmem_get_folio_gfp() returns on a hole before its userfaultfd_missing()
 * check.  C5: unlike hugetlb, shmem decides "missing" from the page cache,
 * not from the page table.  C9: MISSING on shmem means "missing in the page
 * cache", which need not match what a private mapping would expect.
 *
 * C4 and C5 compare with hugetlb: hugetlb_fault() looks at the PTE first,
 * then hugetlb_no_page() looks the page cache up and raises MISSING only
 * when that misses too; a private write over a hole allocates only the
 * private page.  The hugetlbfs row measures the same accesses, a huge page
 * each, so the table shows where shmem and hugetlb agree.
 *
 * Measured, on a file of holes mapped MAP_PRIVATE and registered for
 * MISSING: the events raised by a write to a hole (resolved with
 * UFFDIO_COPY), by a read of a hole (resolved with UFFDIO_ZEROPAGE, or for
 * hugetlbfs, which has no UFFDIO_ZEROPAGE, with UFFDIO_COPY of zeros), by a
 * read of a page the page cache already holds (written through the file
 * first), and by a second access to a resolved page.  A fix for C1 must keep
 * the first two at 1 (C3).  The case fails only if an access does not
 * complete in time or a private store or placement reaches the file: how
 * many events each kernel raises is the behaviour model's business.
 *
 * Backends: a memfd, a file on a tmpfs mount and a file on a hugetlbfs
 * mount (kit_backend_setup() mounts them in a private mount namespace and
 * reserves the huge pages, or the row is skipped with the reason).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kit.h"

#define NR_PAGES	4
#define WRITE_HOLE	0	/* page written first, then read again */
#define READ_HOLE	1
#define CACHED		2	/* page the file gets before any fault */

#define COPY_BYTE	0x11
#define FILE_BYTE	0x5a

/*
 * Huge pages a hugetlbfs row needs free: the private mapping reserves one
 * per page, the cached page takes one more in the page cache.
 */
#define HUGETLB_PAGES	(NR_PAGES + 1)

/**
 * struct placement - how a MISSING event is resolved
 * @src: the source of UFFDIO_COPY, or NULL for UFFDIO_ZEROPAGE
 * @len: bytes to place: the backend's page size
 */
struct placement {
	const void *src;
	size_t len;
};

static int resolve_place(int uffd, unsigned long addr, void *arg)
{
	const struct placement *pl = arg;

	if (!pl->src)
		return kit_uffd_zeropage(uffd, addr);
	return kit_uffd_copy_len(uffd, addr, pl->src, pl->len, 0);
}

/*
 * Run one access, serving its MISSING events as @pl says; store the
 * number of events in @events.  Return whether it completed in time.
 */
static bool access_page(int *uffd, char *page, bool write,
			const struct placement *pl, const char *what,
			int *events)
{
	struct kit_access acc;
	bool completed;

	kit_access_init(&acc, *uffd, page, write, 0x77);
	acc.resolve = resolve_place;
	acc.arg = (void *)pl;
	completed = kit_access_run_uffd(&acc, uffd, what);
	*events = acc.events;
	return completed;
}

/* Does every byte of the page at @p equal @byte? */
static bool page_equals(const struct kit_area *a, const char *p, int byte)
{
	size_t i;

	for (i = 0; i < a->page_size; i++)
		if (p[i] != (char)byte)
			return false;
	return true;
}

/* Does the file hold only the cached page's bytes?  1, 0 or -1. */
static int file_intact(const struct kit_area *a)
{
	size_t i;
	int ret;

	for (i = 0; i < a->pages; i++) {
		ret = kit_area_file_equals(a, i, i == CACHED ? FILE_BYTE : 0);
		if (ret != 1)
			return ret;
	}
	return 1;
}

static void test_private(const struct kit_backend *b, const char *name,
			 const void *arg)
{
	int write_hole, read_hole, cached, second, sees_file, intact;
	struct placement copy, zero;
	struct kit_area a = { .fd = -1 };
	char *p = NULL, *src = NULL, *zeros = NULL;
	bool ok, cached_ok;
	size_t ps;
	int uffd;

	(void)arg;
	uffd = kit_uffd_open_case(name, 0);
	if (uffd < 0)
		return;

	if (kit_area_create(&a, b, "uffd-missing", NR_PAGES)) {
		ktap_diag("%s: create: %s", name, strerror(errno));
		goto fail;
	}
	ps = a.page_size;
	src = malloc(ps);
	if (b->flags & KIT_BACKEND_HUGETLB)
		zeros = calloc(1, ps);
	p = kit_area_map(&a, MAP_PRIVATE);
	if (!src || ((b->flags & KIT_BACKEND_HUGETLB) && !zeros) || !p) {
		ktap_diag("%s: setup: %s", name, strerror(errno));
		goto fail;
	}
	ktap_diag("%s: page size %zu KiB", name, ps >> 10);
	memset(src, COPY_BYTE, ps);
	copy = (struct placement){ .src = src, .len = ps };
	zero = (struct placement){ .src = zeros, .len = ps };
	if (kit_uffd_api(uffd) ||
	    kit_uffd_register_missing(uffd, p, NR_PAGES * ps)) {
		ktap_diag("%s: UFFDIO_API/REGISTER: %s", name, strerror(errno));
		goto fail;
	}

	/* Fill the page cache behind the mapping's back, not through it. */
	if (kit_area_file_fill(&a, CACHED, FILE_BYTE)) {
		ktap_diag("%s: fill page %d: %s", name, CACHED,
			  strerror(errno));
		goto fail;
	}

	ok = access_page(&uffd, p + WRITE_HOLE * ps, true, &copy,
			 "write to a hole", &write_hole);
	ok &= access_page(&uffd, p + READ_HOLE * ps, false, &zero,
			  "read of a hole", &read_hole);
	cached_ok = access_page(&uffd, p + CACHED * ps, false, &zero,
				"read of a cached page", &cached);
	ok &= cached_ok;
	/* Only touch the page once an access has mapped it. */
	sees_file = cached_ok && page_equals(&a, p + CACHED * ps, FILE_BYTE);
	ok &= access_page(&uffd, p + WRITE_HOLE * ps, false, &zero,
			  "second access", &second);
	intact = file_intact(&a);
	if (intact < 0)
		ktap_diag("%s: pread: %s", name, strerror(errno));

	ktap_fact("write_hole_events", "%d", write_hole);
	ktap_fact("read_hole_events", "%d", read_hole);
	ktap_fact("cached_events", "%d", cached);
	ktap_fact("cached_sees_file", "%d", sees_file);
	ktap_fact("second_access_events", "%d", second);
	ktap_fact("file_intact", "%d", intact == 1);
	ktap_result(ok && intact == 1, name);
	goto out;
fail:
	ktap_result(false, name);
out:
	if (p)
		kit_area_unmap(&a, p);
	kit_area_destroy(&a);
	if (uffd >= 0)
		close(uffd);
	free(src);
	free(zeros);
}

static size_t setup_pages(const struct kit_backend *b)
{
	(void)b;
	return HUGETLB_PAGES;
}

static const struct kit_case cases[] = {
	{ "private", 0, test_private, NULL },
};

static const struct kit_backend *const backends[] = {
	&kit_backend_memfd,
	&kit_backend_tmpfs,
	&kit_backend_hugetlbfs,
};

int main(void)
{
	static const struct kit_run run = {
		.title = "uffd-missing: MISSING events on a private mapping (C3, C4, C5, C9)",
		.backends = backends,
		.nr_backends = ARRAY_SIZE(backends),
		.setup_pages = setup_pages,
		.cases = cases,
		.nr_cases = ARRAY_SIZE(cases),
	};

	return kit_run_backends(&run);
}
