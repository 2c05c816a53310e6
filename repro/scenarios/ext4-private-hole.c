// SPDX-License-Identifier: GPL-2.0
/*
 * ext4-private-hole: private stores over holes of a sparse ext4 file, the
 * answer to "why shmem, and not every file system".
 *
 * Claim R12 of the RFC.  A private write fault over a hole of a file on a
 * block file system also goes through the page cache: do_cow_fault() calls
 * ->fault(), ext4_filemap_fault() is filemap_fault(), which finds no folio,
 * reads one in (with read-around; ext4 zero-fills a hole without I/O and
 * allocates no block) and returns it for the COW copy.  So ext4 too adds a
 * page-cache page per store, but a clean one with no block behind it:
 * reclaim drops it without writing anything, which shmem cannot do without
 * swap.  The series changes shmem only; ext4 is the same on both kernels.
 *
 *  store-ext4:  what does a private store over an ext4 hole allocate?
 *               A file of 256 holes (ftruncate()) mapped MAP_PRIVATE, one
 *               store per page.  pc_per_write: page-cache pages added per
 *               store, counted exactly with mincore() on a second,
 *               MAP_SHARED mapping of the file that is never touched (its
 *               PTEs are empty, so mincore() looks each offset up in the
 *               page cache): 1 on both kernels (read-around brings whole
 *               windows in, but never past end of file).  dirty_pc_pages:
 *               those of the page-cache pages that are dirty (PG_dirty from
 *               /proc/kpageflags, each page mapped by a load through the
 *               shared mapping; cachestat() where kpageflags cannot be
 *               read): 0.  st_blocks_after: the file's st_blocks (512-byte
 *               units) after the stores: 0, no block allocated.
 *               anon_per_write: the private mapping's anonymous pages per
 *               store: 1.  reads_back: each page reads the stored byte and
 *               zeros; file_intact: the file still reads zeros (C8).  The
 *               maps_* facts say what the private mapping maps.
 *  memcg-ext4:  do the stores that OOM a memfd's cgroup fit an ext4 file's?
 *               A child process in a child cgroup with memory.max = 96 MiB
 *               (memory.swap.max = 0) stores privately to every page of a
 *               64 MiB sparse ext4 file.  completed=1, oom_kill=0 on both
 *               kernels: the page-cache pages are clean and reclaim drops
 *               them, where the same stores to a memfd are OOM-killed on
 *               stock (memcg-charge/memfd).  file_kb: memory.stat file at
 *               completion (what of the page cache is left), file_max_kb
 *               the largest sample meanwhile; anon_kb and shmem_kb as
 *               well.
 *
 * The file system is the one the guest's /init mounts at /mnt/ext4; both
 * cases skip if /proc/self/mounts shows no ext4 there, or a file cannot be
 * created in it.  memcg-ext4 also skips without CAP_SYS_ADMIN or a cgroup
 * v2 memory controller.  A case fails when it cannot measure, a store is
 * lost or reads other data, or a store reaches the file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kernel-page-flags.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"
#include "memcg.h"
#include "pagemap.h"
#include "sigbus.h"

/* Where the guest's /init mounts the ext4 disk. */
#ifndef EXT4_DIR
#define EXT4_DIR	"/mnt/ext4"
#endif

#ifndef __NR_cachestat
#define __NR_cachestat	451
#endif

#define NR_PAGES	256
#define STORE_BYTE	0xa5

/* memcg-ext4 */
#define DATA_MB		64
#define LIMIT_MB	96
#define REPORT_EVERY	256	/* pages between progress reports */
#define DEADLINE_MS	20000	/* the whole store loop */
#define SAMPLE_MS	5

/* struct cachestat_range and struct cachestat of <linux/mman.h> (6.5) */
struct kit_cachestat_range {
	unsigned long long off;
	unsigned long long len;
};

struct kit_cachestat {
	unsigned long long nr_cache;
	unsigned long long nr_dirty;
	unsigned long long nr_writeback;
	unsigned long long nr_evicted;
	unsigned long long nr_recently_evicted;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Is an ext4 file system mounted at EXT4_DIR?  The last entry for the
 * directory in /proc/self/mounts is the one on top.  0, or -1 with the
 * reason to skip in @why.
 */
static int ext4_mounted(char *why, size_t len)
{
	char line[1024], dir[512], type[64], top[64] = "";
	FILE *f;

	f = fopen("/proc/self/mounts", "re");
	if (!f) {
		snprintf(why, len, "/proc/self/mounts: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %511s %63s", dir, type) == 2 &&
		    !strcmp(dir, EXT4_DIR))
			snprintf(top, sizeof(top), "%s", type);
	fclose(f);
	if (!top[0]) {
		snprintf(why, len, "no file system mounted at %s", EXT4_DIR);
		return -1;
	}
	if (strcmp(top, "ext4")) {
		snprintf(why, len, "%s is not an ext4 mount but %s", EXT4_DIR,
			 top);
		return -1;
	}
	return 0;
}

/* An unlinked sparse file of @pages pages on EXT4_DIR, or -1. */
static int ext4_file(size_t pages)
{
	char path[600];
	int fd, err;

	fd = open(EXT4_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		snprintf(path, sizeof(path), "%s/ext4-private-hole-XXXXXX",
			 EXT4_DIR);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)pages * kit_page_size())) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* A file cannot be made for a reason that is a need unmet, not a bug. */
static bool unmet(int err)
{
	return err == EACCES || err == EPERM || err == EROFS ||
	       err == ENOSPC || err == EDQUOT;
}

/* Pages of a MAP_SHARED mapping @shared that are in the page cache. */
static long resident(void *shared, size_t pages)
{
	unsigned char *vec;
	long n = 0;
	size_t i;

	vec = malloc(pages);
	if (!vec)
		return -1;
	if (mincore(shared, pages * kit_page_size(), vec)) {
		free(vec);
		return -1;
	}
	for (i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

/*
 * Dirty page-cache pages of the file mapped at @shared: PG_dirty of each
 * resident page, mapped by a load (which allocates nothing: the page is
 * there); else cachestat().  -1 with @how empty if neither works.
 */
static long dirty_pages(int fd, unsigned char *shared, size_t pages,
			char *how, size_t len)
{
	struct kit_cachestat_range range = { 0, 0 };
	size_t ps = kit_page_size(), i;
	struct kit_cachestat cs;
	unsigned char *vec, c;
	long dirty = 0;

	how[0] = '\0';
	vec = malloc(pages);
	if (vec && kit_pagemap_usable(NULL, 0) &&
	    !mincore(shared, pages * ps, vec)) {
		for (i = 0; i < pages; i++) {
			struct kit_page_info info;

			if (!(vec[i] & 1))
				continue;
			if (kit_try_load(shared + i * ps, &c) ||
			    kit_page_classify(shared + i * ps, &info) ||
			    !info.present) {
				dirty = -1;
				break;
			}
			dirty += !!(info.kflags & (1ULL << KPF_DIRTY));
		}
		if (dirty >= 0) {
			snprintf(how, len, "kpageflags");
			free(vec);
			return dirty;
		}
	}
	free(vec);
	if (!syscall(__NR_cachestat, fd, &range, &cs, 0)) {
		snprintf(how, len, "cachestat");
		return (long)cs.nr_dirty;
	}
	return -1;
}

/* Pages of the private mapping @p not reading the store, then zeros. */
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
			if (p[j])
				break;
		bad += j < ps;
	}
	return bad;
}

/* Does every page of @fd read zeros?  1, 0, or -1 with errno set. */
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

/* ------------------------------------------------------------ store-ext4 */

static void test_store(const char *name)
{
	size_t ps = kit_page_size(), i;
	unsigned char *shared = NULL, *p = NULL;
	long pc_before, pc_after, dirty, bad = 0;
	long long anon_kb;
	bool ok = false;
	char how[32];
	struct stat st;
	int fd, failed = 0;

	fd = ext4_file(NR_PAGES);
	if (fd < 0) {
		char why[160];

		snprintf(why, sizeof(why), "cannot create a file in %s: %s",
			 EXT4_DIR, strerror(errno));
		if (unmet(errno)) {
			ktap_skip(name, why);
			return;
		}
		ktap_diag("%s: %s", name, why);
		ktap_result(false, name);
		return;
	}
	shared = kit_map(fd, NR_PAGES, MAP_SHARED);
	p = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	if (!shared || !p) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		goto out;
	}
	pc_before = resident(shared, NR_PAGES);
	for (i = 0; i < NR_PAGES; i++)
		if (kit_try_store(p + i * ps, STORE_BYTE) && !failed++)
			ktap_diag("%s: store to page %zu raised SIGBUS", name,
				  i);
	pc_after = resident(shared, NR_PAGES);
	anon_kb = kit_vma_field_kb(p, "Anonymous:");
	if (pc_before < 0 || pc_after < 0 || anon_kb < 0 || fstat(fd, &st)) {
		ktap_diag("%s: measurement failed: %s", name, strerror(errno));
		goto out;
	}
	ktap_fact("pages", "%d", NR_PAGES);
	ktap_fact("pc_pages", "%ld", pc_after);
	ktap_fact("pc_per_write", "%.2f",
		  (double)(pc_after - pc_before) / NR_PAGES);
	dirty = dirty_pages(fd, shared, NR_PAGES, how, sizeof(how));
	if (dirty >= 0) {
		ktap_diag("%s: dirty pages counted with %s", name, how);
		ktap_fact("dirty_pc_pages", "%ld", dirty);
	} else {
		ktap_diag("%s: dirty_pc_pages omitted: no /proc/kpageflags, no cachestat()",
			  name);
	}
	ktap_fact("st_blocks_after", "%lld", (long long)st.st_blocks);
	ktap_fact("anon_per_write", "%.2f",
		  (double)anon_kb * 1024 / ps / NR_PAGES);
	bad = failed ? NR_PAGES : bad_copies(p, NR_PAGES);
	ktap_fact("reads_back", "%d", !bad);
	if (bad && !failed)
		ktap_diag("%s: %ld pages read neither the store nor zeros",
			  name, bad);
	kit_pagemap_facts("", p, NR_PAGES, ps);
	ok = kit_fact_file_intact(name, file_zero(fd, NR_PAGES)) && !bad;
out:
	if (p)
		munmap(p, NR_PAGES * ps);
	if (shared)
		munmap(shared, NR_PAGES * ps);
	close(fd);
	ktap_result(ok, name);
}

/* ------------------------------------------------------------ memcg-ext4 */

/* Exit statuses of the child. */
enum { CHILD_OK, CHILD_CGROUP, CHILD_FILE, CHILD_FILE_UNMET, CHILD_MAP,
	CHILD_PIPE };

/* The child: join @cg, store to every page, report; never returns. */
static void store_child(const char *cg, size_t pages, int wr, int rd)
{
	struct pollfd pfd = { .fd = rd, .events = POLLIN };
	size_t ps = kit_page_size(), i;
	unsigned int done;
	char *p;
	int fd;

	if (kit_memcg_write(cg, "cgroup.procs", "0"))
		_exit(CHILD_CGROUP);
	fd = ext4_file(pages);
	if (fd < 0)
		_exit(unmet(errno) ? CHILD_FILE_UNMET : CHILD_FILE);
	p = kit_map(fd, pages, MAP_PRIVATE);
	if (!p)
		_exit(CHILD_MAP);
	for (i = 0; i < pages; i++) {
		p[i * ps] = 1;
		done = i + 1;
		if (done % REPORT_EVERY == 0 || done == pages)
			if (write(wr, &done, sizeof(done)) != sizeof(done))
				_exit(CHILD_PIPE);
	}
	/* Hold the memory until the parent has looked at it. */
	poll(&pfd, 1, DEADLINE_MS);
	_exit(CHILD_OK);
}

struct sample {
	long long current, anon, shmem, file;
};

static void take_sample(const char *cg, struct sample *s)
{
	s->current = kit_memcg_value(cg, "memory.current");
	s->anon = kit_memcg_key(cg, "memory.stat", "anon");
	s->shmem = kit_memcg_key(cg, "memory.stat", "shmem");
	s->file = kit_memcg_key(cg, "memory.stat", "file");
}

static void test_memcg(const char *name, bool memcg, const char *why_not)
{
	size_t pages = ((size_t)DATA_MB << 20) / kit_page_size();
	int to_child[2] = { -1, -1 }, from_child[2] = { -1, -1 };
	struct sample end = { -1, -1, -1, -1 }, s;
	long long file_max = -1;
	bool completed = false, ok = false, skipped = false;
	unsigned int done = 0, got;
	double deadline;
	char cg[400];
	int status = 0;
	pid_t pid = -1;

	if (!memcg) {
		ktap_skip(name, why_not);
		return;
	}
	if (kit_memcg_create(cg, sizeof(cg), "ext4",
			     (long long)LIMIT_MB << 20)) {
		ktap_diag("%s: memory cgroup: %s", name, strerror(errno));
		ktap_result(false, name);
		return;
	}
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
	close(to_child[0]);
	close(from_child[1]);
	to_child[0] = -1;
	from_child[1] = -1;
	if (pid < 0) {
		ktap_diag("%s: fork: %s", name, strerror(errno));
		goto out;
	}

	deadline = now_ms() + DEADLINE_MS;
	while (!completed && now_ms() < deadline) {
		struct pollfd pfd = { .fd = from_child[0], .events = POLLIN };
		int n = poll(&pfd, 1, SAMPLE_MS);

		take_sample(cg, &s);
		if (s.file > file_max)
			file_max = s.file;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (!n)
			continue;
		if (read(from_child[0], &got, sizeof(got)) != sizeof(got))
			break;	/* EOF: the child is gone */
		done = got;
		completed = done == pages;
	}
	ok = true;
	if (completed) {
		take_sample(cg, &end);
	} else if (now_ms() >= deadline) {
		ktap_diag("%s: the child did not finish in %d ms", name,
			  DEADLINE_MS);
		ok = false;
	}
	close(to_child[1]);	/* lets the child exit */
	to_child[1] = -1;
	if (!completed)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status)) {
		ktap_diag("%s: child killed by signal %d after %u of %zu stores",
			  name, WTERMSIG(status), done, pages);
	} else if (WIFEXITED(status) && WEXITSTATUS(status)) {
		ktap_diag("%s: child exit status %d", name,
			  WEXITSTATUS(status));
		skipped = WEXITSTATUS(status) == CHILD_FILE_UNMET;
		ok = false;
	}
	pid = -1;
	if (skipped) {
		kit_memcg_destroy(cg);
		ktap_skip(name, "cannot create a file in " EXT4_DIR);
		goto close;
	}

	ktap_fact("pages", "%zu", pages);
	ktap_fact("limit_kb", "%d", LIMIT_MB * 1024);
	ktap_fact("completed", "%d", completed);
	ktap_fact("pages_done", "%u", done);
	ktap_fact("oom_kill", "%lld",
		  kit_memcg_key(cg, "memory.events", "oom_kill"));
	if (kit_memcg_has(cg, "memory.peak"))
		ktap_fact("peak_kb", "%lld",
			  kit_memcg_value(cg, "memory.peak") >> 10);
	if (end.file >= 0)
		ktap_fact("file_kb", "%lld", end.file >> 10);
	if (file_max >= 0)
		ktap_fact("file_max_kb", "%lld", file_max >> 10);
	if (end.anon >= 0)
		ktap_fact("anon_kb", "%lld", end.anon >> 10);
	if (end.shmem >= 0)
		ktap_fact("shmem_kb", "%lld", end.shmem >> 10);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	kit_memcg_destroy(cg);
	ktap_result(ok, name);
close:
	close(to_child[0]);
	close(to_child[1]);
	close(from_child[0]);
	close(from_child[1]);
}

int main(void)
{
	char why[640] = "", why_memcg[640] = "";
	bool mounted, memcg;

	mounted = !ext4_mounted(why, sizeof(why));
	memcg = mounted && !kit_memcg_init(why_memcg, sizeof(why_memcg));
	ktap_start(2, "%s",
		   "ext4-private-hole: private stores over holes of a sparse ext4 file (R12)");
	if (kit_sigbus_catch()) {
		/* Fewer cases than planned: the run fails. */
		ktap_diag("SIGBUS handler: %s", strerror(errno));
		return ktap_exit_status();
	}
	if (!mounted) {
		ktap_skip("store-ext4", why);
		ktap_skip("memcg-ext4", why);
		return ktap_exit_status();
	}
	test_store("store-ext4");
	test_memcg("memcg-ext4", memcg, why_memcg);
	return ktap_exit_status();
}
