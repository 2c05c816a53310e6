// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-missing: which accesses to a private shmem mapping raise MISSING.
 *
 * Claims C3, C5 and C9 of the linux-mm thread "Avoiding allocation of
 * unused shmem page" (Oct 2022).  C3: looking the page cache up with
 * SGP_READ on a private write fault would lose the userfaultfd MISSING
 * events a registered MAP_PRIVATE shmem mapping gets today, because
 * shmem_get_folio_gfp() returns on a hole before its userfaultfd_missing()
 * check.  C5: unlike hugetlb, shmem decides "missing" from the page cache,
 * not from the page table.  C9: MISSING on shmem means "missing in the page
 * cache", which need not match what a private mapping would expect.
 *
 * Measured, on a file of holes mapped MAP_PRIVATE and registered for
 * MISSING: the events raised by a write to a hole (resolved with
 * UFFDIO_COPY), by a read of a hole (resolved with UFFDIO_ZEROPAGE), by a
 * read of a page the page cache already holds (pwrite() first), and by a
 * second access to a resolved page.  A fix for C1 must keep the first two
 * at 1 (C3).  The case fails only if an access does not complete in time:
 * how many events each kernel raises is the behaviour model's business.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kit.h"

#define NR_PAGES	4
#define WRITE_HOLE	0	/* page written first, then read again */
#define READ_HOLE	1
#define CACHED		2	/* page pwrite() puts in the page cache */

#define COPY_BYTE	0x11
#define FILE_BYTE	0x5a

/*
 * Run one access, serving its MISSING events with @resolve; store the
 * number of events in @events.  Return whether it completed in time.
 */
static bool access_page(int *uffd, char *page, bool write,
			int (*resolve)(int, unsigned long, void *), void *arg,
			const char *what, int *events)
{
	struct kit_access acc;

	kit_access_init(&acc, *uffd, page, write, 0x77);
	if (resolve) {
		acc.resolve = resolve;
		acc.arg = arg;
	}
	if (kit_access_run(&acc))
		ktap_diag("%s: not completed: events %d, signal %d, error %s, timed out %d",
			  what, acc.events, acc.signal,
			  acc.error ? strerror(acc.error) : "none",
			  acc.timed_out);
	if (acc.uffd_closed)
		*uffd = -1;
	*events = acc.events;
	return acc.completed;
}

static void test_private(const struct kit_backend *b, const char *name)
{
	int write_hole, read_hole, cached, second, sees_file;
	size_t ps = kit_page_size();
	char reason[128];
	bool user_only;
	char *p, *src;
	bool ok, cached_ok;
	int fd, uffd;

	uffd = kit_uffd_open(&user_only);
	if (uffd < 0) {
		snprintf(reason, sizeof(reason), "userfaultfd: %s",
			 strerror(errno));
		ktap_skip(name, reason);
		return;
	}
	ktap_diag("%s: userfaultfd %s", name,
		  user_only ? "user-mode only (no CAP_SYS_PTRACE)" :
			      "with CAP_SYS_PTRACE");

	src = malloc(ps);
	fd = b->create("uffd-missing", NR_PAGES);
	p = fd < 0 ? NULL : kit_map(fd, NR_PAGES, MAP_PRIVATE);
	if (!src || !p) {
		ktap_diag("%s: setup: %s", name, strerror(errno));
		goto fail;
	}
	memset(src, COPY_BYTE, ps);
	if (kit_uffd_api(uffd) ||
	    kit_uffd_register_missing(uffd, p, NR_PAGES * ps)) {
		ktap_diag("%s: UFFDIO_API/REGISTER: %s", name, strerror(errno));
		goto fail;
	}

	/* Fill the page cache behind the mapping's back, not through it. */
	memset(src, FILE_BYTE, ps);
	if (pwrite(fd, src, ps, CACHED * ps) != (ssize_t)ps) {
		ktap_diag("%s: pwrite: %s", name, strerror(errno));
		goto fail;
	}
	memset(src, COPY_BYTE, ps);

	ok = access_page(&uffd, p + WRITE_HOLE * ps, true, kit_resolve_copy,
			 src, "write to a hole", &write_hole);
	ok &= access_page(&uffd, p + READ_HOLE * ps, false, NULL, NULL,
			  "read of a hole", &read_hole);
	cached_ok = access_page(&uffd, p + CACHED * ps, false, NULL, NULL,
				"read of a cached page", &cached);
	ok &= cached_ok;
	/* Only touch the page once an access has mapped it. */
	sees_file = cached_ok && kit_page_equals(p + CACHED * ps, FILE_BYTE);
	ok &= access_page(&uffd, p + WRITE_HOLE * ps, false, NULL, NULL,
			  "second access", &second);

	ktap_fact("write_hole_events", "%d", write_hole);
	ktap_fact("read_hole_events", "%d", read_hole);
	ktap_fact("cached_events", "%d", cached);
	ktap_fact("cached_sees_file", "%d", sees_file);
	ktap_fact("second_access_events", "%d", second);
	ktap_result(ok, name);
	goto out;
fail:
	ktap_result(false, name);
out:
	if (p)
		munmap(p, NR_PAGES * ps);
	if (fd >= 0)
		close(fd);
	if (uffd >= 0)
		close(uffd);
	free(src);
}

struct test_case {
	const char *name;
	void (*run)(const struct kit_backend *b, const char *name);
};

static const struct test_case cases[] = {
	{ "private", test_private },
};

static const struct kit_backend backends[] = {
	{ "memfd", kit_memfd_create },
};

int main(void)
{
	struct utsname u;
	char name[64];
	size_t i, j;

	ktap_header(ARRAY_SIZE(cases) * ARRAY_SIZE(backends));
	if (!uname(&u))
		ktap_diag("kernel: %s %s", u.release, u.machine);
	ktap_diag("uffd-missing: MISSING events on a private mapping (C3, C5, C9)");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		for (j = 0; j < ARRAY_SIZE(backends); j++) {
			snprintf(name, sizeof(name), "%s-%s", cases[i].name,
				 backends[j].name);
			cases[i].run(&backends[j], name);
		}
	}
	return ktap_exit_status();
}
