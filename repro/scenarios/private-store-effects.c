// SPDX-License-Identifier: GPL-2.0
/*
 * private-store-effects: what the rest of the system sees of one private
 * store over a shmem hole.
 *
 * Claim R10 of the RFC (and C3, C9 of the linux-mm thread "Avoiding
 * allocation of unused shmem page", Oct 2022).  On a stock kernel a write
 * fault through a MAP_PRIVATE mapping of a shmem file over a hole first
 * allocates a zeroed page-cache page (shmem_fault() with SGP_CACHE), then
 * the COW copy of it; the series allocates only the COW page.  The mapping
 * itself reads the same on both, but the page-cache page is visible from
 * outside: it takes a tmpfs block and, for a VM_NORESERVE file such as a
 * memfd, a page of commit charge; it is data for SEEK_DATA; and userfaultfd
 * on other mappings of the file sees a cached page instead of a hole.  The
 * cover letter lists these differences; each case measures one:
 *
 *  full-tmpfs:          a tmpfs mounted with size=64k (in a private mount
 *                       namespace; skipped without CAP_SYS_ADMIN) is filled
 *                       to ENOSPC with write(), then a private store goes to
 *                       a hole of a second, sparse file.  store_sigbus: 1 on
 *                       stock (the page-cache page cannot be allocated, the
 *                       fault fails with ENOSPC as SIGBUS), 0 with the
 *                       series; store_reads_back: 0 on stock (nothing was
 *                       stored), 1 with the series; fs_free_blocks (statvfs
 *                       f_bfree, 0 on both) for the record.
 *  seek-data-memfd:     a private store to page 1 of a 4-page memfd, then
 *                       lseek().  seek_data_finds: SEEK_DATA from 0 finds
 *                       page 1 on stock (1), fails with ENXIO with the
 *                       series (0).  seek_hole_at, SEEK_HOLE from 0 in
 *                       pages, is 0 on both (page 0 is a hole either way);
 *                       seek_hole_from_store, SEEK_HOLE from page 1, is 2
 *                       on stock and 1 with the series.
 *  commit-charge-memfd: private stores to every page of a 4096-page memfd
 *                       mapped MAP_PRIVATE.  The mapping's commit charge
 *                       is taken whole at mmap(); shmem charges a
 *                       VM_NORESERVE file one page of commit per page-cache
 *                       page it allocates.  commit_pages_per_store, the
 *                       growth of Committed_AS per store as an integer: 1
 *                       on stock, 0 with the series.  Committed_AS is
 *                       system-wide, and on a busy host other processes
 *                       move it all the time: their heaps grow, they
 *                       start and exit.  So the stores go in 32
 *                       batches of 128, each followed by a control of the
 *                       same length that stores nothing; a batch's growth
 *                       minus its control's, rounded to pages per store,
 *                       is that batch's value, and the fact is the value
 *                       most batches agree on.  If no value is held by a
 *                       quarter of the batches and more than any other,
 *                       the host is too busy to tell and the case fails.
 *                       committed_as_delta_kb (over all batches and
 *                       controls) and shmem_kb_delta (Shmem in
 *                       /proc/meminfo, about 16384 with 4 KiB pages on
 *                       stock, 0 with the series) are the raw figures, for
 *                       the record.
 *  uffd-later-memfd:    a store to page 1 of a 4-page memfd through a
 *                       private mapping that userfaultfd does not watch;
 *                       then a second private mapping, registered for
 *                       MISSING, and a third, registered for MINOR, read
 *                       page 1.  later_missing_events: 0 on stock (the
 *                       store left a page-cache page, mapped without an
 *                       event), 1 with the series (still a hole).
 *                       later_minor_events: 1 on stock (a cached page raises
 *                       MINOR), 0 with the series (the read fault allocates
 *                       the page-cache page itself, without an event).
 *                       Skipped where userfaultfd or UFFD_FEATURE_MINOR_SHMEM
 *                       is missing.
 *  sealed-memfd:        a 4-page memfd sealed against writes, growth and
 *                       shrinking (F_SEAL_WRITE forbids write() and shared
 *                       writable mappings, not private ones), then a store
 *                       to page 1 through a writable private mapping, and a
 *                       word written to page 2 of a read-only private
 *                       mapping of a traced child with PTRACE_POKEDATA (a
 *                       debugger's write: FOLL_FORCE, which /proc/pid/mem
 *                       gives only a tracer under CONFIG_PROC_MEM_FORCE_PTRACE).
 *                       sealed_pages_per_store and force_pages_per_write,
 *                       the file's st_blocks growth in pages: 1 on stock
 *                       (the sealed file grows, charged to the writer), 0
 *                       with the series; force_reads_back: PTRACE_PEEKDATA
 *                       reads the word back, 1 on both.
 *  collapse-memfd:      private stores to the first half of a PMD-sized
 *                       memfd, then MADV_COLLAPSE of a PMD-aligned shared
 *                       read-only mapping of it (shmem's sysfs setting does
 *                       not gate MADV_COLLAPSE).  pmd_filled: 1 if the file
 *                       then holds the whole PMD range (stock: the
 *                       left-behind folios are collapsed, the other half
 *                       filled in), 0 if not (with the series the range is
 *                       empty: collapse_file() returns SCAN_TRUNCATED);
 *                       file_pages_after: those pages; collapse_ok: whether
 *                       madvise() returned 0, for the record only: 6.1
 *                       collapses the file and still returns EINVAL (from
 *                       its page-table step after collapse_file(), not
 *                       traced further);
 *                       reads_back: the private mapping still holds its
 *                       stores, 1 on both.  Skipped without THP.
 *
 * Every case also reports file_zero: the file read with pread() holds only
 * zeros, since private stores must never reach it (C8), on any kernel.
 * A case fails if its measurement does not work or a store leaks into the
 * file; which behaviour a kernel shows is for the behaviour models to judge.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "kit.h"
#include "sigbus.h"

#define NR_PAGES	4	/* the small files */
#define STORE_PAGE	1	/* the hole stored to: page 0 stays a hole */
#define FORCE_PAGE	2	/* sealed-memfd's forced write */
#define SEALS		(F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)
#define STOP_WAIT_MS	5000	/* for the traced child to stop */
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25	/* 6.1's UAPI; glibc 2.36 lacks it */
#endif
#define COMMIT_PAGES	4096	/* commit-charge-memfd's stores */
#define COMMIT_BATCHES	32	/* ... in batches, Committed_AS read between */
#define COMMIT_AGREE	(COMMIT_BATCHES / 4)	/* batches the fact needs */
#define BATCH_PAGES	(COMMIT_PAGES / COMMIT_BATCHES)

#define STORE_BYTE	0xa5	/* what the private stores write */
#define FILL_BYTE	0x5a	/* what fills the tmpfs */

/*
 * The full tmpfs, mounted over /tmp in a private mount namespace: nothing
 * is left on the host, whatever way the process ends.
 */
#define FULL_DIR	"/tmp"
#define FULL_OPTIONS	"mode=0700,size=64k"
/* Pages written without ENOSPC after which size= must have been ignored. */
#define FILL_MAX_PAGES	1024

/* Does every page of the file read as zeros?  1, 0, or -1 with errno set. */
static int file_zero(int fd, size_t pages)
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

/*
 * Report file_zero for @fd; return whether the file reads zeros.  A store
 * that reached the file is a real failure on any kernel.
 */
static bool report_file_zero(const char *name, int fd, size_t pages)
{
	int zero = file_zero(fd, pages);

	if (zero < 0) {
		ktap_diag("%s: pread: %s", name, strerror(errno));
		return false;
	}
	ktap_fact("file_zero", "%d", zero);
	if (!zero)
		ktap_diag("%s: a private store reached the file", name);
	return zero == 1;
}

/* ----------------------------------------------------------- full-tmpfs */

/*
 * Mount the small tmpfs.  This must run before any thread is created:
 * unshare(CLONE_NEWNS) fails while another thread shares our fs_struct.
 * Return 0, or -1 with the reason to skip in @why.
 */
static int mount_full_tmpfs(char *why, size_t len)
{
	const char *step;

	if (!kit_has_cap(CAP_SYS_ADMIN)) {
		snprintf(why, len,
			 "needs CAP_SYS_ADMIN to mount tmpfs in a private mount namespace");
		return -1;
	}
	step = "unshare(CLONE_NEWNS)";
	if (unshare(CLONE_NEWNS))
		goto fail;
	/* Nothing mounted from now on may propagate back to the host. */
	step = "mount --make-rprivate /";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		goto fail;
	step = "mount -t tmpfs -o " FULL_OPTIONS " on " FULL_DIR;
	if (mount("kit", FULL_DIR, "tmpfs", MS_NOSUID | MS_NODEV,
		  FULL_OPTIONS))
		goto fail;
	return 0;
fail:
	snprintf(why, len, "%s: %s", step, strerror(errno));
	return -1;
}

/*
 * write() whole pages to @fd until the file system refuses with ENOSPC;
 * set *@pages to the pages written.  Return 0 once ENOSPC came, or -1 with
 * errno set (EFBIG if the size= limit never struck).
 */
static int fill_fs(int fd, long *pages)
{
	size_t ps = kit_page_size();
	long long bytes = 0;
	unsigned char *buf;
	ssize_t n;
	int ret = -1;

	*pages = 0;
	buf = malloc(ps);
	if (!buf)
		return -1;
	memset(buf, FILL_BYTE, ps);
	for (;;) {
		if (bytes >= (long long)FILL_MAX_PAGES * (long long)ps) {
			errno = EFBIG;
			break;
		}
		n = write(fd, buf, ps);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == ENOSPC)
				ret = 0;
			break;
		}
		/* A short write fills the last block; ENOSPC comes next. */
		bytes += n;
	}
	free(buf);
	*pages = bytes / (long long)ps;
	return ret;
}

static void test_full_tmpfs(const char *name)
{
	size_t ps = kit_page_size();
	int fill = -1, fd = -1, sigbus;
	unsigned char *p = NULL;
	unsigned char got = 0;
	struct statvfs sv;
	bool ok = false;
	long filled;

	fill = open(FULL_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fill < 0) {
		ktap_diag("%s: open O_TMPFILE: %s", name, strerror(errno));
		goto out;
	}
	if (fill_fs(fill, &filled)) {
		ktap_diag("%s: filling the tmpfs, after %ld pages: %s", name,
			  filled, strerror(errno));
		goto out;
	}
	ktap_diag("%s: %ld pages written before ENOSPC", name, filled);

	/* A sparse file takes no block: ftruncate() works on a full tmpfs. */
	fd = open(FULL_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, NR_PAGES * ps)) {
		ktap_diag("%s: sparse file: %s", name, strerror(errno));
		goto out;
	}
	p = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	if (!p) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto out;
	}

	sigbus = kit_try_store(p + STORE_PAGE * ps, STORE_BYTE) != 0;
	ktap_fact("store_sigbus", "%d", sigbus);
	/* Load only what a completed store mapped: a hole would fault again. */
	ktap_fact("store_reads_back", "%d", !sigbus &&
		  !kit_try_load(p + STORE_PAGE * ps, &got) &&
		  got == STORE_BYTE);
	ok = report_file_zero(name, fd, NR_PAGES);
	if (fstatvfs(fd, &sv)) {
		ktap_diag("%s: fstatvfs: %s", name, strerror(errno));
		ok = false;
	} else {
		ktap_fact("fs_free_blocks", "%llu",
			  (unsigned long long)sv.f_bfree);
	}
out:
	ktap_result(ok, name);
	if (p)
		munmap(p, NR_PAGES * ps);
	if (fd >= 0)
		close(fd);
	if (fill >= 0)
		close(fill);
}

/* ------------------------------------------------------ seek-data-memfd */

/* lseek(), in pages; -1 with errno set if it fails. */
static long long seek_pages(int fd, size_t page, int whence)
{
	size_t ps = kit_page_size();
	off_t off;

	off = lseek(fd, page * ps, whence);
	return off < 0 ? -1 : (long long)(off / ps);
}

static void test_seek_data(const char *name)
{
	size_t ps = kit_page_size();
	long long data, hole, hole_store;
	unsigned char *p = NULL;
	bool ok = false;
	int fd, err;

	fd = kit_memfd_create("private-store-effects", NR_PAGES);
	if (fd < 0) {
		ktap_diag("%s: memfd: %s", name, strerror(errno));
		goto out;
	}
	p = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	if (!p) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto out;
	}
	if (kit_try_store(p + STORE_PAGE * ps, STORE_BYTE)) {
		ktap_diag("%s: the private store raised SIGBUS", name);
		goto out;
	}

	data = seek_pages(fd, 0, SEEK_DATA);
	err = errno;
	hole = seek_pages(fd, 0, SEEK_HOLE);
	hole_store = seek_pages(fd, STORE_PAGE, SEEK_HOLE);
	/* Data, if any, can only be the page stored to; else ENXIO. */
	if (data != STORE_PAGE && !(data < 0 && err == ENXIO)) {
		ktap_diag("%s: SEEK_DATA: page %lld, %s", name, data,
			  data < 0 ? strerror(err) : "not the page stored to");
		goto out;
	}
	if (hole < 0 || hole_store < 0) {
		ktap_diag("%s: SEEK_HOLE: %s", name, strerror(errno));
		goto out;
	}
	ktap_fact("seek_data_finds", "%d", data == STORE_PAGE);
	ktap_fact("seek_hole_at", "%lld", hole);
	ktap_fact("seek_hole_from_store", "%lld", hole_store);
	ok = report_file_zero(name, fd, NR_PAGES);
out:
	ktap_result(ok, name);
	if (p)
		munmap(p, NR_PAGES * ps);
	if (fd >= 0)
		close(fd);
}

/* -------------------------------------------------- commit-charge-memfd */

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/*
 * Store to the pages of @p in batches.  After each batch, a control of the
 * same length that stores nothing: other processes grow Committed_AS at
 * about the same rate during both, so @delta gets, per batch, the growth
 * over the batch minus the growth over its control.  *@total gets the raw
 * growth over all the batches and controls.  Return 0, or -1 with a
 * diagnostic printed.
 */
static int store_batches(const char *name, unsigned char *p,
			 long long *delta, long long *total)
{
	size_t ps = kit_page_size(), i, j;
	long long first, prev, mid, last;
	double start, end;

	/*
	 * The first read may grow the heap for stdio, a commit charge of our
	 * own: let it happen before the measurement starts.
	 */
	kit_meminfo_kb("Committed_AS:");
	first = kit_meminfo_kb("Committed_AS:");
	last = first;
	for (j = 0; j < COMMIT_BATCHES; j++) {
		start = now_us();
		for (i = j * BATCH_PAGES; i < (j + 1) * BATCH_PAGES; i++) {
			if (kit_try_store(p + i * ps, STORE_BYTE)) {
				ktap_diag("%s: store %zu raised SIGBUS", name,
					  i);
				return -1;
			}
		}
		mid = kit_meminfo_kb("Committed_AS:");
		end = now_us();
		/* Busy, as during the stores: the other CPUs see the same. */
		while (now_us() < 2 * end - start)
			;
		prev = last;
		last = kit_meminfo_kb("Committed_AS:");
		if (first < 0 || mid < 0 || last < 0) {
			ktap_diag("%s: Committed_AS: %s", name,
				  strerror(errno));
			return -1;
		}
		delta[j] = (mid - prev) - (last - mid);
	}
	*total = last - first;
	return 0;
}

/* @kb rounded to a whole number of @unit, half away from zero. */
static long long round_to(long long kb, long long unit)
{
	if (kb < 0)
		return -((-kb + unit / 2) / unit);
	return (kb + unit / 2) / unit;
}

/*
 * The most frequent of the @n values of @v, sorted, and in *@count how
 * many hold it; *@count is 0 if another value is as frequent.
 */
static long long sorted_mode(const long long *v, size_t n, size_t *count)
{
	size_t i, run = 0, best = 0;
	long long mode = 0;
	bool tie = false;

	for (i = 0; i < n; i++) {
		run = i && v[i] == v[i - 1] ? run + 1 : 1;
		if (run > best) {
			best = run;
			mode = v[i];
			tie = false;
		} else if (run == best) {
			tie = true;
		}
	}
	*count = tie ? 0 : best;
	return mode;
}

static void test_commit_charge(const char *name)
{
	long long delta[COMMIT_BATCHES], per_store[COMMIT_BATCHES];
	long long total, shmem[2], mode, unit;
	size_t ps = kit_page_size(), agree, i;
	unsigned char *p = NULL;
	bool ok = false;
	int fd;

	/* memfd_create() files are VM_NORESERVE: charged per page. */
	fd = kit_memfd_create("private-store-effects", COMMIT_PAGES);
	if (fd < 0) {
		ktap_diag("%s: memfd: %s", name, strerror(errno));
		goto out;
	}
	/* A writable private mapping charges its whole size here, once. */
	p = kit_map(fd, COMMIT_PAGES, MAP_PRIVATE);
	if (!p) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto out;
	}

	shmem[0] = kit_meminfo_kb("Shmem:");
	if (store_batches(name, p, delta, &total))
		goto out;
	shmem[1] = kit_meminfo_kb("Shmem:");
	if (shmem[0] < 0 || shmem[1] < 0) {
		ktap_diag("%s: Shmem: %s", name, strerror(errno));
		goto out;
	}

	/* kB a batch grows by for one page per store. */
	unit = (long long)(ps / 1024) * BATCH_PAGES;
	for (i = 0; i < COMMIT_BATCHES; i++)
		per_store[i] = round_to(delta[i], unit);
	qsort(delta, COMMIT_BATCHES, sizeof(delta[0]), cmp_ll);
	qsort(per_store, COMMIT_BATCHES, sizeof(per_store[0]), cmp_ll);
	mode = sorted_mode(per_store, COMMIT_BATCHES, &agree);
	ktap_diag("%s: batches of %d stores less controls: min %lld, median %lld, max %lld kB",
		  name, BATCH_PAGES, delta[0], delta[COMMIT_BATCHES / 2],
		  delta[COMMIT_BATCHES - 1]);
	ktap_diag("%s: %zu of %d batches agree on %lld pages per store", name,
		  agree, COMMIT_BATCHES, mode);
	ok = agree >= COMMIT_AGREE;
	if (ok)
		ktap_fact("commit_pages_per_store", "%lld", mode);
	else
		ktap_diag("%s: Committed_AS too busy here to tell", name);
	ktap_fact("committed_as_delta_kb", "%lld", total);
	ktap_fact("shmem_kb_delta", "%lld", shmem[1] - shmem[0]);
	ok &= report_file_zero(name, fd, COMMIT_PAGES);
out:
	ktap_result(ok, name);
	if (p)
		munmap(p, COMMIT_PAGES * ps);
	if (fd >= 0)
		close(fd);
}

/* ----------------------------------------------------- uffd-later-memfd */

/* MINOR events are resolved with UFFDIO_CONTINUE, MISSING with a zero page. */
static int resolve_later(int uffd, unsigned long addr, void *arg)
{
	const struct kit_access *acc = arg;

	if (acc->fault_flags & UFFD_PAGEFAULT_FLAG_MINOR)
		return kit_uffd_continue(uffd, addr, kit_page_size());
	return kit_uffd_zeropage(uffd, addr);
}

/*
 * Load @addr, serving its events on *@uffd.  Return whether the access
 * completed in time and read zeros, the file's content; *@acc has the
 * events.
 */
static bool read_later(const char *name, int *uffd, unsigned char *addr,
		       const char *what, struct kit_access *acc)
{
	kit_access_init(acc, *uffd, addr, false, 0);
	acc->resolve = resolve_later;
	acc->arg = acc;
	if (!kit_access_run_uffd(acc, uffd, what))
		return false;
	if (acc->value) {
		ktap_diag("%s: %s reads 0x%02x, not the file's zeros", name,
			  what, acc->value);
		return false;
	}
	return true;
}

static void test_uffd_later(const char *name)
{
	unsigned char *a = NULL, *b = NULL, *c = NULL;
	size_t ps = kit_page_size();
	size_t len = NR_PAGES * ps;
	struct kit_access acc;
	int fd = -1, uffd;
	bool ok = false;

	/* One userfaultfd serves both: features are asked for once. */
	uffd = kit_uffd_open_case(name, UFFD_FEATURE_MINOR_SHMEM);
	if (uffd < 0)
		return;
	fd = kit_memfd_create("private-store-effects", NR_PAGES);
	if (fd < 0) {
		ktap_diag("%s: memfd: %s", name, strerror(errno));
		goto out;
	}
	a = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	b = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	c = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	if (!a || !b || !c) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto out;
	}

	/* Through a mapping nobody watches: no event, whatever the kernel. */
	if (kit_try_store(a + STORE_PAGE * ps, STORE_BYTE)) {
		ktap_diag("%s: the private store raised SIGBUS", name);
		goto out;
	}

	if (kit_uffd_register(uffd, b, len, UFFDIO_REGISTER_MODE_MISSING)) {
		ktap_diag("%s: UFFDIO_REGISTER MISSING: %s", name,
			  strerror(errno));
		goto out;
	}
	if (!read_later(name, &uffd, b + STORE_PAGE * ps,
			"read through the MISSING mapping", &acc))
		goto out;
	ktap_fact("later_missing_events", "%d",
		  acc.events - acc.minor_events - acc.wp_events);

	if (kit_uffd_register(uffd, c, len, UFFDIO_REGISTER_MODE_MINOR)) {
		ktap_diag("%s: UFFDIO_REGISTER MINOR: %s", name,
			  strerror(errno));
		goto out;
	}
	if (!read_later(name, &uffd, c + STORE_PAGE * ps,
			"read through the MINOR mapping", &acc))
		goto out;
	ktap_fact("later_minor_events", "%d", acc.minor_events);
	if (acc.events != acc.minor_events)
		ktap_diag("%s: %d events of another kind on the MINOR mapping",
			  name, acc.events - acc.minor_events);

	ok = report_file_zero(name, fd, NR_PAGES);
out:
	ktap_result(ok, name);
	if (a)
		munmap(a, len);
	if (b)
		munmap(b, len);
	if (c)
		munmap(c, len);
	if (fd >= 0)
		close(fd);
	if (uffd >= 0)
		close(uffd);
}

/* --------------------------------------------------------- sealed-memfd */

/*
 * Write @word at @addr of a child's copy of our address space as a
 * debugger does, PTRACE_POKEDATA (access_remote_vm() with FOLL_FORCE: a
 * read-only private mapping takes the write through a COW fault), and read
 * it back into @back with PTRACE_PEEKDATA.  0, or -1 with errno set.
 */
static int poke_child(void *addr, long word, long *back)
{
	int status = 0, err = 0, ms;
	pid_t pid, w = 0;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (!ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			raise(SIGSTOP);
		_exit(1);
	}
	for (ms = 0; ms < STOP_WAIT_MS && !w; ms += 10) {
		w = waitpid(pid, &status, WNOHANG | WUNTRACED);
		if (!w)
			usleep(10000);
	}
	if (w != pid || !WIFSTOPPED(status)) {
		err = w < 0 ? errno : ECHILD;
		goto out;
	}
	if (ptrace(PTRACE_POKEDATA, pid, addr, (void *)word)) {
		err = errno;
		goto out;
	}
	errno = 0;
	*back = ptrace(PTRACE_PEEKDATA, pid, addr, NULL);
	err = errno;
out:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	errno = err;
	return err ? -1 : 0;
}

static void test_sealed(const char *name)
{
	size_t ps = kit_page_size(), len = NR_PAGES * ps;
	long long before, stored, forced;
	unsigned char *p = MAP_FAILED, *q = MAP_FAILED;
	long word, back = 0;
	bool ok = false;
	int fd;

	fd = memfd_create("private-store-effects", MFD_CLOEXEC |
			  MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, len) || fcntl(fd, F_ADD_SEALS, SEALS)) {
		ktap_diag("%s: a sealed memfd: %s", name, strerror(errno));
		goto out;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	q = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED || q == MAP_FAILED) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto out;
	}
	before = kit_file_pages(fd);
	if (kit_try_store(p + STORE_PAGE * ps, STORE_BYTE)) {
		ktap_diag("%s: the private store raised SIGBUS", name);
		goto out;
	}
	stored = kit_file_pages(fd);
	memset(&word, STORE_BYTE, sizeof(word));
	if (poke_child(q + FORCE_PAGE * ps, word, &back)) {
		ktap_diag("%s: PTRACE_POKEDATA: %s", name, strerror(errno));
		goto out;
	}
	forced = kit_file_pages(fd);
	if (before < 0 || stored < 0 || forced < 0) {
		ktap_diag("%s: fstat: %s", name, strerror(errno));
		goto out;
	}
	ktap_fact("sealed_pages_per_store", "%lld", stored - before);
	ktap_fact("force_pages_per_write", "%lld", forced - stored);
	ktap_fact("force_reads_back", "%d", back == word);
	ok = report_file_zero(name, fd, NR_PAGES);
out:
	ktap_result(ok, name);
	if (p != MAP_FAILED)
		munmap(p, len);
	if (q != MAP_FAILED)
		munmap(q, len);
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------------- collapse-memfd */

static void test_collapse(const char *name)
{
	size_t ps = kit_page_size(), pmd, pages, i;
	unsigned char *p = NULL, *q = NULL;
	long long after;
	bool ok = false, back = true;
	int fd = -1, ret, err;

	pmd = kit_pmd_size();
	if (!pmd) {
		ktap_skip(name, "no transparent huge pages (no " KIT_PMD_SIZE_KNOB ")");
		return;
	}
	pages = pmd / ps;
	fd = kit_memfd_create("private-store-effects", pages);
	if (fd < 0) {
		ktap_diag("%s: memfd: %s", name, strerror(errno));
		goto out;
	}
	p = kit_map(fd, pages, MAP_PRIVATE);
	q = kit_map_aligned(fd, pmd, pmd, PROT_READ, MAP_SHARED);
	if (!p || !q) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto out;
	}
	for (i = 0; i < pages / 2; i++) {
		if (kit_try_store(p + i * ps, STORE_BYTE)) {
			ktap_diag("%s: the private store raised SIGBUS", name);
			goto out;
		}
	}
	ret = madvise(q, pmd, MADV_COLLAPSE);
	err = errno;
	after = kit_file_pages(fd);
	if (after < 0) {
		ktap_diag("%s: fstat: %s", name, strerror(errno));
		goto out;
	}
	if (ret)
		ktap_diag("%s: MADV_COLLAPSE: %s", name, strerror(err));
	/* kit_try_store() stores one byte, at the start of the page. */
	for (i = 0; i < pages / 2; i++)
		back &= p[i * ps] == STORE_BYTE;
	ktap_fact("collapse_ok", "%d", !ret);
	ktap_fact("file_pages_after", "%lld", after);
	ktap_fact("pmd_filled", "%d", after == (long long)pages);
	ktap_fact("reads_back", "%d", back);
	ok = report_file_zero(name, fd, pages) && back;
out:
	ktap_result(ok, name);
	if (p)
		munmap(p, pages * ps);
	if (q)
		munmap(q, pmd);
	if (fd >= 0)
		close(fd);
}

/* ----------------------------------------------------------------- main */

/**
 * struct effect_case - a case of this scenario
 * @name: its KTAP name
 * @test: run it and report it with ktap_result() or ktap_skip()
 * @needs_tmpfs: it runs on the small tmpfs: skipped if it is not mounted
 */
struct effect_case {
	const char *name;
	void (*test)(const char *name);
	bool needs_tmpfs;
};

static const struct effect_case cases[] = {
	{ "full-tmpfs", test_full_tmpfs, true },
	{ "seek-data-memfd", test_seek_data, false },
	{ "commit-charge-memfd", test_commit_charge, false },
	{ "uffd-later-memfd", test_uffd_later, false },
	{ "sealed-memfd", test_sealed, false },
	{ "collapse-memfd", test_collapse, false },
};

int main(void)
{
	char why[160];
	bool mounted;
	size_t i;

	/* Before any thread: see mount_full_tmpfs(). */
	mounted = !mount_full_tmpfs(why, sizeof(why));
	ktap_start(ARRAY_SIZE(cases), "%s",
		   "private-store-effects: what others see of a private store over a shmem hole (R10, C3, C9)");
	if (kit_sigbus_catch()) {
		/* Fewer cases than planned: the run fails. */
		ktap_diag("SIGBUS handler: %s", strerror(errno));
		return ktap_exit_status();
	}
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (cases[i].needs_tmpfs && !mounted)
			ktap_skip(cases[i].name, why);
		else
			cases[i].test(cases[i].name);
	}
	return ktap_exit_status();
}
