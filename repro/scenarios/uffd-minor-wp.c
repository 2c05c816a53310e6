// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-minor-wp: userfaultfd MINOR and WP modes on a private shmem mapping.
 *
 * Claim C3 of the linux-mm thread "Avoiding allocation of unused shmem
 * page" (Oct 2022): a private write fault that looks the page cache up with
 * SGP_READ changes behaviour for whatever relies on the page cache,
 * userfaultfd first.  C3 named MISSING (uffd-missing measures it); the
 * hazards list of the kit adds the other two modes, MINOR and WP:
 *
 *  - MINOR: shmem_get_folio_gfp() raises MINOR for a page the page cache
 *    holds, before any hole handling.  v1 of the series (6.1, 6.12,
 *    alternatives/v7.3/v1) kept SGP_CACHE for MINOR VMAs, since its
 *    shmem_fault() took a NULL folio for a hole; v2 (7.3) reports the hole
 *    explicitly (VM_FAULT_HOLE), so a MINOR VMA takes the new path and a
 *    store over a hole no longer leaves a page-cache page (hole_pc_added:
 *    models v1 and proposed differ there).
 *  - WP takes the new path in both: a private write over a hole registered
 *    for WP zeroes the COW page and maps it; set_pte_range() carries the
 *    uffd-wp bit of the PTE marker that UFFDIO_WRITEPROTECT left over the
 *    hole.  The WP event is then raised by the retried write, from
 *    do_wp_page(), as it is when the COW page is copied from a page-cache
 *    page.
 *  - MISSING together with WP: the hole raises MISSING first (v2 raises it
 *    before its SGP_READ return; v1 kept SGP_CACHE for such VMAs).
 *
 * Cases, each on a file mapped MAP_PRIVATE:
 *
 *  minor:      pages 0 and 1 are written to the file with pwrite(), page 2
 *              is a hole; the mapping is registered for MINOR.  A read of
 *              page 0 (resolved with UFFDIO_CONTINUE), then a write to it,
 *              a write to page 1 before any read, and a write to the hole.
 *  wp-hole:    every page is a hole; the mapping is registered for WP and
 *              write-protected with UFFDIO_WRITEPROTECT before any fault,
 *              which leaves PTE markers.  A write to page 0 is resolved by
 *              unprotecting the page; then a second write.
 *  missing-wp: as wp-hole, registered for MISSING and WP together; the
 *              MISSING event is resolved with UFFDIO_COPY in WP mode, the
 *              WP event that follows by unprotecting.
 *
 * Facts: the events of each kind each access raised, whether a store was
 * held until its WP event was resolved (the page, read while the event is
 * served, does not hold the stored byte yet), whether the hole carried the
 * uffd-wp bit before the fault and what the private mapping then reads and
 * maps (from /proc/self/pagemap), how many pages the file gained
 * (st_blocks) and the mapping's anonymous pages.  The hole cases say whether
 * the reference patch keeps WP on its new path: same events, same held
 * store, only the page-cache page gone.  A case fails only if an access
 * does not complete in time or a store reaches the file, which must not
 * happen on any kernel (C8); the event counts are the behaviour model's
 * business.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kit.h"

#define NR_PAGES	4

#define FILE_BYTE	0x5a	/* what pwrite() puts in the file */
#define COPY_BYTE	0x3c	/* what UFFDIO_COPY places */
#define WRITE_BYTE	0xe7	/* what the accesses store */

#ifndef BIT_ULL
#define BIT_ULL(nr)		(1ULL << (nr))
#endif

/* Bits of a /proc/<pid>/pagemap entry (Documentation/admin-guide/mm). */
#define PM_MMAP_EXCLUSIVE	BIT_ULL(56)
#define PM_UFFD_WP		BIT_ULL(57)
#define PM_FILE			BIT_ULL(61)
#define PM_SWAP			BIT_ULL(62)
#define PM_PRESENT		BIT_ULL(63)

/**
 * struct resolver - how the userfaultfd events of one access are resolved
 * @acc: the access, for the kind of the event being resolved
 * @src: page placed by UFFDIO_COPY for a MISSING event
 * @copy_mode: mode of that UFFDIO_COPY: 0 or UFFDIO_COPY_MODE_WP
 * @held: set at the first WP event: the byte being stored did not read as
 *	stored yet, i.e. the write was held until the event was resolved
 *
 * WP events are resolved by unprotecting the page, MINOR events with
 * UFFDIO_CONTINUE, MISSING events with UFFDIO_COPY of @src.
 */
struct resolver {
	struct kit_access *acc;
	const void *src;
	unsigned long long copy_mode;
	int held;
};

static int resolve(int uffd, unsigned long addr, void *arg)
{
	struct resolver *r = arg;
	size_t ps = kit_page_size();
	unsigned long page = addr & ~(ps - 1);

	if (r->acc->fault_flags & UFFD_PAGEFAULT_FLAG_WP) {
		/* A WP fault is on a mapped page: this load cannot block. */
		if (r->held < 0)
			r->held = __atomic_load_n(r->acc->addr,
						  __ATOMIC_RELAXED) !=
				  r->acc->value;
		return kit_uffd_writeprotect(uffd, (void *)page, ps, false);
	}
	if (r->acc->fault_flags & UFFD_PAGEFAULT_FLAG_MINOR)
		return kit_uffd_continue(uffd, page, ps);
	if (!r->src) {
		errno = EPROTO;	/* a MISSING event where none may come */
		return -1;
	}
	return kit_uffd_copy_len(uffd, page, r->src, ps, r->copy_mode);
}

/**
 * struct outcome - the events one access raised
 * @missing: MISSING events
 * @wp: WP events
 * @minor: MINOR events
 * @held: for a store with WP events, whether it was held until the first
 *	was resolved (see struct resolver); -1 without WP events
 */
struct outcome {
	int missing;
	int wp;
	int minor;
	int held;
};

/*
 * Store @value to, or load from, @addr, serving the events on *@uffd.
 * Return whether the access completed in time; *@uffd becomes -1 if it had
 * to be closed to wake the access.
 */
static bool access_byte(int *uffd, unsigned char *addr, bool write,
			const void *src, unsigned long long copy_mode,
			const char *what, struct outcome *out)
{
	struct kit_access acc;
	struct resolver r = {
		.acc = &acc, .src = src, .copy_mode = copy_mode, .held = -1,
	};
	bool completed;

	kit_access_init(&acc, *uffd, addr, write, WRITE_BYTE);
	acc.resolve = resolve;
	acc.arg = &r;
	completed = kit_access_run_uffd(&acc, uffd, what);
	out->wp = acc.wp_events;
	out->minor = acc.minor_events;
	out->missing = acc.events - acc.wp_events - acc.minor_events;
	out->held = r.held;
	return completed;
}

/*
 * The pagemap entry of the page at @addr, or 0 with errno set if it cannot
 * be read (0 also reads as "nothing mapped", so the callers report it).
 */
static unsigned long long pagemap_entry(const void *addr)
{
	unsigned long long pme = 0;
	off_t off = (unsigned long)addr / kit_page_size() * sizeof(pme);
	int fd, err;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (pread(fd, &pme, sizeof(pme), off) != sizeof(pme)) {
		err = errno;
		pme = 0;
		errno = err ? err : EIO;
	}
	close(fd);
	return pme;
}

/* Does @page read @first at byte 0 and @rest everywhere else? */
static bool page_reads(const unsigned char *page, int first, int rest)
{
	size_t i;

	if (page[0] != (unsigned char)first)
		return false;
	for (i = 1; i < kit_page_size(); i++)
		if (page[i] != (unsigned char)rest)
			return false;
	return true;
}

/*
 * Does the file read as @bytes, one value per page?  Return 1, 0, or -1
 * with errno set.
 */
static int file_reads(int fd, const int *bytes, size_t pages)
{
	size_t i;
	int ret;

	for (i = 0; i < pages; i++) {
		ret = kit_pread_page_equals(fd, i, bytes[i]);
		if (ret != 1)
			return ret;
	}
	return 1;
}

/* Write @byte to the first @pages pages of the file with pwrite(). */
static int fill_file(int fd, size_t pages, int byte)
{
	size_t ps = kit_page_size();
	unsigned char *buf;
	size_t i;
	int ret = 0;

	buf = malloc(ps);
	if (!buf)
		return -1;
	memset(buf, byte, ps);
	for (i = 0; i < pages && !ret; i++)
		if (pwrite(fd, buf, ps, i * ps) != (ssize_t)ps)
			ret = -1;
	free(buf);
	return ret;
}

/* Report the case, then release what it got as far as setting up. */
static void end_case(const char *name, bool ok, unsigned char *p, int fd,
		     int uffd)
{
	ktap_result(ok, name);
	if (p)
		munmap(p, NR_PAGES * kit_page_size());
	if (fd >= 0)
		close(fd);
	if (uffd >= 0)
		close(uffd);
}

/*
 * MINOR on a private mapping over cached pages: the read of page 0 must be
 * resolved with UFFDIO_CONTINUE, which maps the page-cache page read-only
 * (mfill_atomic_install_pte() refuses to make a page-cache page writable in
 * a private mapping); the write that follows copies it.  Page 1 is written
 * before any read; page 2 is a hole, which MINOR does not cover.
 */
static void test_minor(const struct kit_backend *b, const char *name,
		       const void *arg)
{
	static const int expect_file[NR_PAGES] = { FILE_BYTE, FILE_BYTE };
	size_t ps = kit_page_size();
	struct outcome read0, write0, write1, hole;
	long long pc_before, pc_after, pc_hole;
	unsigned long long pme_read, pme_write;
	unsigned char *p = NULL;
	int fd = -1, uffd;
	bool ok = false;
	int intact;

	(void)arg;
	uffd = kit_uffd_open_case(name, UFFD_FEATURE_MINOR_SHMEM);
	if (uffd < 0)
		return;
	fd = b->create("uffd-minor", NR_PAGES);
	if (fd < 0 || fill_file(fd, 2, FILE_BYTE)) {
		ktap_diag("%s: setup: %s", name, strerror(errno));
		goto out;
	}
	p = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	if (!p) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto out;
	}
	if (kit_uffd_register(uffd, p, NR_PAGES * ps,
			      UFFDIO_REGISTER_MODE_MINOR)) {
		ktap_diag("%s: UFFDIO_REGISTER MINOR: %s", name,
			  strerror(errno));
		goto out;
	}
	pc_before = kit_file_pages(fd);

	ok = access_byte(&uffd, p, false, NULL, 0, "read of cached page 0",
			 &read0);
	pme_read = pagemap_entry(p);
	ktap_fact("read_minor_events", "%d", read0.minor);
	ktap_fact("read_missing_events", "%d", read0.missing);
	ktap_fact("read_sees_file", "%d",
		  ok && kit_page_equals(p, FILE_BYTE));
	ktap_fact("read_maps_file", "%d",
		  (pme_read & PM_PRESENT) && (pme_read & PM_FILE));

	ok &= access_byte(&uffd, p, true, NULL, 0, "write to page 0",
			  &write0);
	pme_write = pagemap_entry(p);
	ktap_fact("write_events", "%d",
		  write0.minor + write0.wp + write0.missing);
	ktap_fact("write_maps_anon", "%d",
		  (pme_write & PM_PRESENT) && !(pme_write & PM_FILE));
	ktap_fact("write_reads_private", "%d",
		  ok && page_reads(p, WRITE_BYTE, FILE_BYTE));

	ok &= access_byte(&uffd, p + ps, true, NULL, 0,
			  "write to cached page 1", &write1);
	ktap_fact("write_cached_minor_events", "%d", write1.minor);
	ktap_fact("write_cached_reads_private", "%d",
		  ok && page_reads(p + ps, WRITE_BYTE, FILE_BYTE));

	pc_hole = kit_file_pages(fd);
	ok &= access_byte(&uffd, p + 2 * ps, true, NULL, 0,
			  "write to the hole, page 2", &hole);
	pc_after = kit_file_pages(fd);
	ktap_fact("hole_write_events", "%d",
		  hole.minor + hole.wp + hole.missing);
	ktap_fact("hole_pc_added", "%lld", pc_after - pc_hole);

	intact = file_reads(fd, expect_file, NR_PAGES);
	if (pc_before < 0 || pc_hole < 0 || pc_after < 0 || intact < 0) {
		ktap_diag("%s: measurement failed: %s", name, strerror(errno));
		ok = false;
	}
	ktap_fact("pc_added", "%lld", pc_after - pc_before);
	ktap_fact("file_intact", "%d", intact == 1);
	ok &= intact == 1;
out:
	end_case(name, ok, p, fd, uffd);
}

/*
 * WP over holes of a private mapping, with or without MISSING (@arg points
 * to the UFFDIO_REGISTER mode): protect the whole range before any fault,
 * so that every page holds a PTE marker, then write to page 0 twice.
 */
static void test_wp(const struct kit_backend *b, const char *name,
		    const void *arg)
{
	unsigned long long mode = *(const unsigned long long *)arg;
	bool missing = mode & UFFDIO_REGISTER_MODE_MISSING;
	unsigned long long copy_mode = UFFDIO_COPY_MODE_WP;
	static const int expect_file[NR_PAGES];
	long long anon_before, anon_after;
	long long pc_before, pc_after;
	size_t ps = kit_page_size();
	struct outcome first, second;
	unsigned long long pme_marker, pme;
	unsigned char *p = NULL;
	unsigned char *src;
	int fd = -1, uffd;
	bool ok = false;
	int intact;

	uffd = kit_uffd_open_case(name, UFFD_FEATURE_PAGEFAULT_FLAG_WP |
					UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
	if (uffd < 0)
		return;
	src = malloc(ps);
	fd = b->create("uffd-wp", NR_PAGES);
	if (!src || fd < 0) {
		ktap_diag("%s: setup: %s", name, strerror(errno));
		goto out;
	}
	memset(src, COPY_BYTE, ps);
	p = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	if (!p) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto out;
	}
	if (kit_uffd_register(uffd, p, NR_PAGES * ps, mode) ||
	    kit_uffd_writeprotect(uffd, p, NR_PAGES * ps, true)) {
		ktap_diag("%s: UFFDIO_REGISTER/WRITEPROTECT: %s", name,
			  strerror(errno));
		goto out;
	}
	pme_marker = pagemap_entry(p);
	/* A marker: no page, but the uffd-wp bit of a swap-like entry. */
	ktap_fact("hole_marked_wp", "%d",
		  !(pme_marker & PM_PRESENT) && (pme_marker & PM_UFFD_WP));

	pc_before = kit_file_pages(fd);
	anon_before = kit_vma_field_kb(p, "Anonymous:");
	ok = access_byte(&uffd, p, true, missing ? src : NULL, copy_mode,
			 "write to the protected hole", &first);
	pc_after = kit_file_pages(fd);
	anon_after = kit_vma_field_kb(p, "Anonymous:");
	pme = pagemap_entry(p);

	if (missing)
		ktap_fact("missing_events", "%d", first.missing);
	else if (first.missing)
		ktap_diag("%s: %d MISSING events without MISSING registered",
			  name, first.missing);
	ktap_fact("wp_events", "%d", first.wp);
	ktap_fact("write_held", "%d", first.held > 0);
	ktap_fact("reads_private", "%d",
		  ok && page_reads(p, WRITE_BYTE, missing ? COPY_BYTE : 0));
	ktap_fact("maps_anon", "%d", (pme & PM_PRESENT) && !(pme & PM_FILE) &&
		  (pme & PM_MMAP_EXCLUSIVE));
	ktap_fact("wp_bit_after", "%d", !!(pme & PM_UFFD_WP));

	ok &= access_byte(&uffd, p, true, NULL, 0, "second write",
			  &second);
	ktap_fact("second_write_events", "%d",
		  second.missing + second.wp + second.minor);

	intact = file_reads(fd, expect_file, NR_PAGES);
	if (pc_before < 0 || pc_after < 0 || anon_before < 0 ||
	    anon_after < 0 || intact < 0) {
		ktap_diag("%s: measurement failed: %s", name, strerror(errno));
		ok = false;
	}
	ktap_fact("pc_added", "%lld", pc_after - pc_before);
	ktap_fact("anon_added", "%lld",
		  (anon_after - anon_before) / (long long)(ps / 1024));
	ktap_fact("file_intact", "%d", intact == 1);
	ok &= intact == 1;
out:
	end_case(name, ok, p, fd, uffd);
	free(src);
}

static const unsigned long long wp = UFFDIO_REGISTER_MODE_WP;
static const unsigned long long missing_wp = UFFDIO_REGISTER_MODE_MISSING |
					     UFFDIO_REGISTER_MODE_WP;

static const struct kit_case cases[] = {
	{ "minor-private", 0, test_minor, NULL },
	{ "wp-hole-private", 0, test_wp, &wp },
	{ "missing-wp-private", 0, test_wp, &missing_wp },
};

static const struct kit_backend *const backends[] = {
	&kit_backend_memfd,
};

int main(void)
{
	static const struct kit_run run = {
		.title = "uffd-minor-wp: MINOR and WP on a private mapping (C3)",
		.backends = backends,
		.nr_backends = ARRAY_SIZE(backends),
		.cases = cases,
		.nr_cases = ARRAY_SIZE(cases),
	};

	return kit_run_backends(&run);
}
