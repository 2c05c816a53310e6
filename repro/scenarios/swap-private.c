// SPDX-License-Identifier: GPL-2.0
/*
 * swap-private: private stores over shmem offsets that are swapped out, and
 * over holes in a memory cgroup that may swap.
 *
 * Rule R7 of the RFC: a private store over an offset the page cache holds
 * copies that page, also when it is swapped out.  The series changes only
 * the hole: shmem_fault() of a COW fault asks for SGP_READ, which still
 * swaps a swapped-out offset in, so the COW page is copied from the data
 * as before.  And claim C1 as a distribution kernel meets it: with swap,
 * the page-cache pages a stock kernel allocates for private stores over
 * holes are not an OOM kill but swap traffic.
 *
 *  swapped-memfd:     does a private store over an offset whose page is
 *                     swapped out still copy the file's data (R7)?
 *                     A memfd of 64 pages, each written with write() to a
 *                     pattern of its own, is pushed out to swap: the pages
 *                     are mapped MAP_SHARED and MADV_PAGEOUT is applied;
 *                     where a cgroup v2 memory controller is usable the
 *                     case runs in a child cgroup (memory.swap.max=max)
 *                     and, if pages stay resident, writes memory.reclaim.
 *                     swapped_before is what left: the Swap: field of
 *                     /proc/self/smaps for a shared mapping of the file
 *                     (shmem counts the file's swap entries there); the
 *                     case is skipped if fewer than half the pages left.
 *                     Then the file is mapped MAP_PRIVATE and one byte is
 *                     stored to every page.  reads_back: every page reads
 *                     the stored byte, then the file's pattern (the COW
 *                     copy was made from the swapped-in data); file_intact:
 *                     pread() still gives the pattern; pc_pages_after: the
 *                     file's st_blocks in pages (shmem counts resident and
 *                     swapped pages alike: 64), swap_pages_after: Swap: of
 *                     a fresh shared mapping (0: shmem frees the swap entry
 *                     of a page it swaps in), resident_pages_after their
 *                     difference, anon_per_write: the private mapping's
 *                     anonymous pages per store (1); in a cgroup,
 *                     memcg_swap_kb_before and _after record its
 *                     memory.swap.current.  Expected: the same
 *                     values on stock and with the series; a lost store or
 *                     a page that reads other data fails the case on any
 *                     kernel.
 *  memcg-swap-memfd:  where a memory cgroup may swap, what do private
 *                     stores over holes cost it?  A child process in a
 *                     child cgroup with memory.max = 96 MiB and
 *                     memory.swap.max = max stores privately to every page
 *                     of a sparse memfd of 64 MiB (16384 pages of 4 KiB).
 *                     Facts: completed, oom_kill (memory.events), swap_kb
 *                     (memory.swap.current at completion),
 *                     swap_kb_per_store, swapped (1 if at least 1 KiB per
 *                     store went to swap), shmem_kb, anon_kb and file_kb
 *                     (memory.stat at completion).  Expected on stock:
 *                     completed=1, oom_kill=0, swapped=1: the zeroed
 *                     page-cache pages (64 MiB besides 64 MiB of COW
 *                     pages) do not fit, and reclaim pushes at least
 *                     32 MiB of the two kinds to swap, 2 KiB per store
 *                     or more; with the series completed=1, oom_kill=0,
 *                     swap_kb near 0, swapped=0.
 *                     Skipped with less than 64 MiB of free swap.
 *
 * Both cases skip with "no swap enabled" when /proc/swaps lists no swap
 * device: swap is the guest's to set up, never this program's.
 * memcg-swap-memfd also skips without CAP_SYS_ADMIN, a cgroup v2 memory
 * controller or swap accounting (memory.swap.max).  Every wait is bounded
 * and every cgroup made is removed again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"
#include "memcg.h"
#include "pagemap.h"
#include "sigbus.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif

/* swapped-memfd */
#define NR_PAGES		64
#define STORE_BYTE		0xa5	/* never a pattern byte */
#define PAGEOUT_TRIES		3
#define RECLAIM_TRIES		5
#define RETRY_MS		50

/* memcg-swap-memfd */
#define DATA_MB			64
#define LIMIT_MB		96
#define SWAP_NEEDED_MB		64	/* free swap the case needs */
#define REPORT_EVERY		256	/* pages between progress reports */
#define DEADLINE_MS		40000	/* the whole store loop, swap included */
#define SAMPLE_MS		20

/* What page @i of the swapped-memfd file holds: 0x20 to 0x9f. */
static int pattern(size_t i)
{
	return 0x20 + (int)(i % 0x80);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Swap devices listed in /proc/swaps and their free space in KiB.  Return
 * the number of devices, or 0 with the reason to skip in @why.
 */
static int swap_devices(long long *free_kb, char *why, size_t len)
{
	long long size, used;
	char line[512];
	int devices = 0;
	FILE *f;

	*free_kb = 0;
	f = fopen("/proc/swaps", "re");
	if (!f) {
		snprintf(why, len, "no swap enabled (/proc/swaps: %s)",
			 strerror(errno));
		return 0;
	}
	/* The first line is the header. */
	if (fgets(line, sizeof(line), f)) {
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%*s %*s %lld %lld", &size,
				   &used) != 2)
				continue;
			devices++;
			*free_kb += size - used;
		}
	}
	fclose(f);
	if (!devices)
		snprintf(why, len, "no swap enabled");
	return devices;
}

/*
 * Pages of @fd (@pages long) in swap: the Swap: field of a shared mapping
 * made for the purpose and never touched, or -1 with errno set.
 */
static long long file_swap_pages(int fd, size_t pages)
{
	long long kb;
	void *p;
	int err;

	p = kit_map(fd, pages, MAP_SHARED);
	if (!p)
		return -1;
	kb = kit_vma_field_kb(p, "Swap:");
	err = errno;
	munmap(p, pages * kit_page_size());
	errno = err;
	return kb < 0 ? -1 : kb * 1024 / (long long)kit_page_size();
}

/* --------------------------------------------------------- swapped-memfd */

/*
 * A child cgroup the process runs in for the swapped-memfd case, with no
 * limit and swap allowed, so that memory.reclaim can push the file out and
 * memory.swap.current counts what left.  @orig is where to go back to.
 */
struct self_cg {
	bool joined;
	char cg[400];
	char orig[600];
};

/* The process's cgroup v2 path under @root, from /proc/self/cgroup. */
static int own_cgroup(const char *root, char *buf, size_t len)
{
	char line[512];
	int err = ENOENT;
	FILE *f;

	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -1;
	while (err == ENOENT && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (snprintf(buf, len, "%s%s", root, line + 3) >= (int)len)
			err = ENAMETOOLONG;
		else
			err = 0;
	}
	fclose(f);
	errno = err;
	return err ? -1 : 0;
}

static void self_cg_leave(struct self_cg *s)
{
	if (!s->joined)
		return;
	if (kit_memcg_write(s->orig, "cgroup.procs", "0"))
		ktap_diag("moving back to %s: %s", s->orig, strerror(errno));
	kit_memcg_destroy(s->cg);
	s->joined = false;
}

/* Join a new child cgroup; on failure say why and stay where we are. */
static void self_cg_join(struct self_cg *s)
{
	char root[400];
	char *slash;

	s->joined = false;
	if (kit_memcg_create(s->cg, sizeof(s->cg), "swap-private",
			     1LL << 40)) {
		ktap_diag("memory cgroup: %s; MADV_PAGEOUT only",
			  strerror(errno));
		return;
	}
	snprintf(root, sizeof(root), "%s", s->cg);
	slash = strrchr(root, '/');
	if (slash)
		*slash = '\0';
	if (kit_memcg_write(s->cg, "memory.max", "max") ||
	    (kit_memcg_has(s->cg, "memory.swap.max") &&
	     kit_memcg_write(s->cg, "memory.swap.max", "max")) ||
	    own_cgroup(root, s->orig, sizeof(s->orig)) ||
	    kit_memcg_write(s->cg, "cgroup.procs", "0")) {
		ktap_diag("joining %s: %s; MADV_PAGEOUT only", s->cg,
			  strerror(errno));
		kit_memcg_destroy(s->cg);
		return;
	}
	s->joined = true;
}

/* Write each page of @fd with its pattern through write(). */
static int fill_pattern(int fd, size_t pages)
{
	size_t ps = kit_page_size(), i;
	unsigned char *buf;
	int ret = 0;

	buf = malloc(ps);
	if (!buf)
		return -1;
	for (i = 0; i < pages && !ret; i++) {
		memset(buf, pattern(i), ps);
		if (pwrite(fd, buf, ps, i * ps) != (ssize_t)ps) {
			if (!errno)
				errno = EIO;
			ret = -1;
		}
	}
	free(buf);
	return ret;
}

/*
 * Push the file out to swap; return the pages that left, or -1 with errno
 * set.  @how says what was used.
 */
static long long swap_out(int fd, size_t pages, const struct self_cg *s,
			  char *how, size_t len)
{
	size_t ps = kit_page_size(), i;
	long long swapped = 0;
	unsigned char *p, c;
	char value[32];
	int try;

	p = kit_map(fd, pages, MAP_SHARED);
	if (!p)
		return -1;
	/* MADV_PAGEOUT reclaims only what this mapping maps. */
	for (i = 0; i < pages; i++)
		if (kit_try_load(p + i * ps, &c)) {
			munmap(p, pages * ps);
			errno = EFAULT;
			return -1;
		}
	snprintf(how, len, "MADV_PAGEOUT");
	for (try = 0; try < PAGEOUT_TRIES; try++) {
		if (try)
			sleep_ms(RETRY_MS);
		if (madvise(p, pages * ps, MADV_PAGEOUT)) {
			ktap_diag("MADV_PAGEOUT: %s", strerror(errno));
			break;
		}
		swapped = file_swap_pages(fd, pages);
		if (swapped < 0 || swapped >= (long long)pages)
			break;
	}
	munmap(p, pages * ps);
	if (swapped < 0 || swapped >= (long long)pages || !s->joined ||
	    !kit_memcg_has(s->cg, "memory.reclaim"))
		return swapped;

	snprintf(how, len, "MADV_PAGEOUT and memory.reclaim");
	snprintf(value, sizeof(value), "%zu", 2 * pages * ps);
	for (try = 0; try < RECLAIM_TRIES; try++) {
		/* EAGAIN: less than asked for could be reclaimed. */
		if (kit_memcg_write(s->cg, "memory.reclaim", value) &&
		    errno != EAGAIN)
			ktap_diag("memory.reclaim: %s", strerror(errno));
		swapped = file_swap_pages(fd, pages);
		if (swapped < 0 || swapped >= (long long)pages)
			break;
		sleep_ms(RETRY_MS);
	}
	return swapped;
}

/* Pages of the private mapping @p that do not read store-then-pattern. */
static long bad_copies(const unsigned char *p, size_t pages)
{
	size_t ps = kit_page_size(), i, j;
	long bad = 0;

	for (i = 0; i < pages; i++, p += ps) {
		if (p[0] != STORE_BYTE) {
			bad++;
			continue;
		}
		for (j = 1; j < ps; j++)
			if (p[j] != (unsigned char)pattern(i))
				break;
		bad += j < ps;
	}
	return bad;
}

/* Does the file still read its pattern?  1, 0, or -1 with errno set. */
static int file_has_pattern(int fd, size_t pages)
{
	size_t i;
	int ret;

	for (i = 0; i < pages; i++) {
		ret = kit_pread_page_equals(fd, i, pattern(i));
		if (ret != 1)
			return ret;
	}
	return 1;
}

static void test_swapped(const char *name, bool memcg)
{
	long long free_kb, swapped, pc_after, swap_after, anon_kb;
	size_t ps = kit_page_size(), i;
	struct self_cg s = { .joined = false };
	char why[256], how[64];
	int failed = 0, intact;
	unsigned char *p;
	bool ok = true;
	long bad;
	int fd;

	if (!swap_devices(&free_kb, why, sizeof(why))) {
		ktap_skip(name, why);
		return;
	}
	if (memcg)
		self_cg_join(&s);
	fd = kit_memfd_create("swap-private", NR_PAGES);
	if (fd < 0 || fill_pattern(fd, NR_PAGES)) {
		ktap_diag("%s: memfd: %s", name, strerror(errno));
		goto fail;
	}
	swapped = swap_out(fd, NR_PAGES, &s, how, sizeof(how));
	if (swapped < 0) {
		ktap_diag("%s: swapping the file out: %s", name,
			  strerror(errno));
		goto fail;
	}
	ktap_fact("pages", "%d", NR_PAGES);
	ktap_fact("swapped_before", "%lld", swapped);
	if (s.joined && kit_memcg_has(s.cg, "memory.swap.current"))
		ktap_fact("memcg_swap_kb_before", "%lld",
			  kit_memcg_value(s.cg, "memory.swap.current") >> 10);
	if (swapped * 2 < NR_PAGES) {
		snprintf(why, sizeof(why),
			 "only %lld of %d pages swapped out by %s", swapped,
			 NR_PAGES, how);
		close(fd);
		self_cg_leave(&s);
		ktap_skip(name, why);
		return;
	}

	p = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	if (!p) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto fail;
	}
	for (i = 0; i < NR_PAGES; i++)
		if (kit_try_store(p + i * ps, STORE_BYTE) && !failed++)
			ktap_diag("%s: store to page %zu raised SIGBUS", name,
				  i);
	anon_kb = kit_vma_field_kb(p, "Anonymous:");
	bad = failed ? NR_PAGES : bad_copies(p, NR_PAGES);
	ktap_fact("reads_back", "%d", !failed && !bad);
	if (bad && !failed)
		ktap_diag("%s: %ld pages read other than the store and the file's data",
			  name, bad);
	kit_pagemap_facts("", p, NR_PAGES, ps);
	intact = file_has_pattern(fd, NR_PAGES);
	ok = kit_fact_file_intact(name, intact) && !failed && !bad;

	pc_after = kit_file_pages(fd);
	swap_after = file_swap_pages(fd, NR_PAGES);
	if (pc_after < 0 || swap_after < 0 || anon_kb < 0) {
		ktap_diag("%s: measurement failed: %s", name, strerror(errno));
		ok = false;
	} else {
		ktap_fact("pc_pages_after", "%lld", pc_after);
		ktap_fact("swap_pages_after", "%lld", swap_after);
		ktap_fact("resident_pages_after", "%lld",
			  pc_after - swap_after);
		ktap_fact("anon_per_write", "%.2f",
			  (double)anon_kb * 1024 / ps / NR_PAGES);
	}
	if (s.joined && kit_memcg_has(s.cg, "memory.swap.current"))
		ktap_fact("memcg_swap_kb_after", "%lld",
			  kit_memcg_value(s.cg, "memory.swap.current") >> 10);
	munmap(p, NR_PAGES * ps);
	close(fd);
	self_cg_leave(&s);
	ktap_result(ok, name);
	return;
fail:
	if (fd >= 0)
		close(fd);
	self_cg_leave(&s);
	ktap_result(false, name);
}

/* ------------------------------------------------------ memcg-swap-memfd */

/* The child: join @cg, store to every page, report; never returns. */
static void store_child(const char *cg, size_t pages, int wr, int rd)
{
	struct pollfd pfd = { .fd = rd, .events = POLLIN };
	size_t ps = kit_page_size(), i;
	unsigned int done;
	char *p;
	int fd;

	if (kit_memcg_write(cg, "cgroup.procs", "0"))
		_exit(2);
	fd = kit_memfd_create("swap-private", pages);
	if (fd < 0)
		_exit(3);
	p = kit_map(fd, pages, MAP_PRIVATE);
	if (!p)
		_exit(4);
	for (i = 0; i < pages; i++) {
		p[i * ps] = 1;
		done = i + 1;
		if (done % REPORT_EVERY == 0 || done == pages)
			if (write(wr, &done, sizeof(done)) != sizeof(done))
				_exit(5);
	}
	/* Hold the memory until the parent has looked at it. */
	poll(&pfd, 1, DEADLINE_MS);
	_exit(0);
}

struct cg_sample {
	long long swap, shmem, anon, file;
};

static void take_sample(const char *cg, struct cg_sample *s)
{
	s->swap = kit_memcg_value(cg, "memory.swap.current");
	s->shmem = kit_memcg_key(cg, "memory.stat", "shmem");
	s->anon = kit_memcg_key(cg, "memory.stat", "anon");
	s->file = kit_memcg_key(cg, "memory.stat", "file");
}

/*
 * Run the child; return whether all @pages stores completed.  *@broken
 * says the case could not measure: no pipe or child, or a child that
 * neither finished nor died within DEADLINE_MS.
 */
static bool run_child(const char *name, const char *cg, size_t pages,
		      struct cg_sample *at_end, unsigned int *done,
		      bool *broken)
{
	int to_child[2] = { -1, -1 }, from_child[2] = { -1, -1 };
	bool completed = false;
	double deadline;
	int status = 0;
	unsigned int got;
	pid_t pid;

	*done = 0;
	*broken = true;
	if (pipe2(to_child, O_CLOEXEC) || pipe2(from_child, O_CLOEXEC)) {
		ktap_diag("%s: pipe: %s", name, strerror(errno));
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (!pid) {
		close(to_child[1]);
		close(from_child[0]);
		store_child(cg, pages, from_child[1], to_child[0]);
	}
	if (pid < 0) {
		ktap_diag("%s: fork: %s", name, strerror(errno));
		goto out;
	}
	*broken = false;
	close(to_child[0]);
	close(from_child[1]);
	to_child[0] = -1;
	from_child[1] = -1;

	deadline = now_ms() + DEADLINE_MS;
	while (!completed && now_ms() < deadline) {
		struct pollfd pfd = { .fd = from_child[0], .events = POLLIN };
		int n = poll(&pfd, 1, SAMPLE_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (!n)
			continue;
		if (read(from_child[0], &got, sizeof(got)) != sizeof(got))
			break;	/* EOF: the child is gone */
		*done = got;
		completed = got == pages;
	}
	if (completed)
		take_sample(cg, at_end);
	else if (now_ms() >= deadline)
		*broken = true;
	if (*broken)
		ktap_diag("%s: the child did not finish in %d ms", name,
			  DEADLINE_MS);
	close(to_child[1]);	/* lets the child exit */
	to_child[1] = -1;
	if (!completed)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status))
		ktap_diag("%s: child killed by signal %d after %u of %zu stores",
			  name, WTERMSIG(status), *done, pages);
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		ktap_diag("%s: child exit status %d", name,
			  WEXITSTATUS(status));
out:
	close(to_child[0]);
	close(to_child[1]);
	close(from_child[0]);
	close(from_child[1]);
	return completed;
}

static void test_memcg_swap(const char *name, bool memcg, const char *why_not)
{
	size_t pages = ((size_t)DATA_MB << 20) / kit_page_size();
	struct cg_sample end = { -1, -1, -1, -1 };
	long long free_kb, swap_kb;
	bool completed, broken;
	char why[256], cg[400];
	unsigned int done;

	if (!swap_devices(&free_kb, why, sizeof(why))) {
		ktap_skip(name, why);
		return;
	}
	if (!memcg) {
		ktap_skip(name, why_not);
		return;
	}
	if (free_kb < (long long)SWAP_NEEDED_MB << 10) {
		snprintf(why, sizeof(why),
			 "%lld KiB of swap free, the case needs %d MiB",
			 free_kb, SWAP_NEEDED_MB);
		ktap_skip(name, why);
		return;
	}
	if (kit_memcg_create(cg, sizeof(cg), "swap-memfd",
			     (long long)LIMIT_MB << 20)) {
		ktap_diag("%s: memory cgroup: %s", name, strerror(errno));
		ktap_result(false, name);
		return;
	}
	if (!kit_memcg_has(cg, "memory.swap.max") ||
	    !kit_memcg_has(cg, "memory.swap.current")) {
		kit_memcg_destroy(cg);
		ktap_skip(name, "no memory.swap.max: swap accounting is off");
		return;
	}
	if (kit_memcg_write(cg, "memory.swap.max", "max")) {
		ktap_diag("%s: memory.swap.max: %s", name, strerror(errno));
		kit_memcg_destroy(cg);
		ktap_result(false, name);
		return;
	}

	completed = run_child(name, cg, pages, &end, &done, &broken);
	ktap_fact("pages", "%zu", pages);
	ktap_fact("limit_kb", "%d", LIMIT_MB * 1024);
	ktap_fact("swap_free_kb_before", "%lld", free_kb);
	ktap_fact("completed", "%d", completed);
	ktap_fact("pages_done", "%u", done);
	ktap_fact("oom_kill", "%lld",
		  kit_memcg_key(cg, "memory.events", "oom_kill"));
	if (kit_memcg_has(cg, "memory.swap.peak"))
		ktap_fact("swap_peak_kb", "%lld",
			  kit_memcg_value(cg, "memory.swap.peak") >> 10);
	if (completed && end.swap >= 0) {
		swap_kb = end.swap >> 10;
		ktap_fact("swap_kb", "%lld", swap_kb);
		ktap_fact("swap_kb_per_store", "%.2f",
			  (double)swap_kb / pages);
		ktap_fact("swapped", "%d", swap_kb >= (long long)pages);
	}
	if (end.shmem >= 0)
		ktap_fact("shmem_kb", "%lld", end.shmem >> 10);
	if (end.anon >= 0)
		ktap_fact("anon_kb", "%lld", end.anon >> 10);
	if (end.file >= 0)
		ktap_fact("file_kb", "%lld", end.file >> 10);
	kit_memcg_destroy(cg);
	ktap_result(!broken && (!completed || end.swap >= 0), name);
}

int main(void)
{
	char why[640] = "";
	bool memcg;

	memcg = !kit_memcg_init(why, sizeof(why));
	ktap_start(2, "%s",
		   "swap-private: private stores over swapped-out shmem pages, and over holes in a memcg with swap (R7, C1)");
	if (kit_sigbus_catch()) {
		/* Fewer cases than planned: the run fails. */
		ktap_diag("SIGBUS handler: %s", strerror(errno));
		return ktap_exit_status();
	}
	test_swapped("swapped-memfd", memcg);
	test_memcg_swap("memcg-swap-memfd", memcg, why);
	return ktap_exit_status();
}
