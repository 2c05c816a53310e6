// SPDX-License-Identifier: GPL-2.0
/*
 * fault-bench: what a private write fault over a hole costs, in time and in
 * pages, per backend, next to the faults a reviewer compares it with, and
 * how much private memory fits a memory cgroup.
 *
 * Not a test of a claim but the numbers behind the proposal's cost and
 * benefit (issue "Performance").  Stock Linux serves a private write fault
 * over a shmem hole by allocating and zeroing a page-cache page, then
 * copying it to the COW page; with the series only the COW page is
 * allocated and zeroed.
 *
 * Time.  Each case times REPS repetitions of @faults first touches (a fresh
 * area, or a fresh mapping of a populated file, each time) with
 * CLOCK_MONOTONIC and reports the median, the minimum and the maximum of
 * the repetitions' time per fault: ns_per_fault, ns_min, ns_max.  Under QEMU
 * with -icount shift=0 and one vCPU the guest's clock advances one
 * nanosecond per guest instruction executed, so these are instruction
 * counts per fault, deterministic whatever the host does; elsewhere (KVM,
 * bare metal, plain TCG) they are times.  ratio_to_anon divides the median
 * by the anonymous fault's median of the same run, the floor (one zeroed
 * page per fault); the hugetlbfs cases are divided by the MAP_SHARED
 * hugetlbfs fault instead (ratio_to_hugetlb_shared), since a huge page
 * against a 4 KiB anonymous fault means nothing.  pages_per_fault is what
 * the stores of the first repetition added to the file (st_blocks) and to
 * the mapping's private pages (smaps), per fault.
 *
 * The cases:
 *   anon                  MAP_PRIVATE anonymous memory: the floor.
 *   memfd                 MAP_PRIVATE memfd of holes: the fault the series
 *                         changes (stock: two pages, a zeroing and a copy).
 *   memfd-shared          MAP_SHARED memfd of holes: one page-cache page,
 *                         what stock pays before its copy.
 *   memfd-cached          MAP_PRIVATE memfd whose every page was written
 *                         with pwrite() first: the COW copies a cached page,
 *                         the common case the series must leave alone.
 *   memfd-cached-huge     the same over PMD-sized cached folios (the file
 *                         is populated with shmem_enabled=always, restored
 *                         at once; skipped unless ShmemHugePages grew by the
 *                         whole file).
 *   memfd-read-then-write a load then a store to each page of a
 *                         MAP_PRIVATE memfd of holes, timed as one unit per
 *                         page: ns_per_fault is the cost of both faults.
 *   tmpfs-huge            MAP_PRIVATE huge=always tmpfs of holes.
 *   hugetlbfs-shared      MAP_SHARED hugetlbfs of holes: one huge page.
 *   hugetlbfs             MAP_PRIVATE hugetlbfs of holes.
 *
 * Capacity: the largest private working set over a sparse memfd (and over
 * anonymous memory, for reference) that completes without an OOM kill in
 * a memory cgroup of CAP_LIMIT_MB, found by bisection over 0..100% of
 * memory.max in pages: capacity_fraction, rounded down to 2 decimals, and
 * capacity_trials.
 *
 * Profile: when /proc/profile exists (CONFIG_PROFILING, booted with
 * profile=N) and KIT_PROFILE_SECONDS is set, the memfd and anon cases also
 * run untimed faults for that many seconds of CLOCK_MONOTONIC between a
 * reset and a read of the profile, and print its non-zero
 * buckets, most samples first, as "# profile <case>: <bucket> <count>";
 * bucket b covers the text at _stext + (b << profile_shift).
 *
 * faults_per_mib counts the minor faults (getrusage) of a case's first
 * repetition per MiB touched: 256 for 4 KiB faults.  anon-mthp64 and
 * memfd-mthp64 run with anonymous 64 KiB mTHP on and PMD-sized THP off
 * (hugepages-64kB/enabled, hugepages-2048kB/enabled, restored after): an
 * anonymous mapping then takes 16 faults per MiB, a
 * private store over a shmem hole still 256, since its COW page is order 0.
 *
 * Every case reports facts and is "ok" when it measured them; what the
 * numbers should be is the harness's business.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"
#include "memcg.h"

#define NR_FAULTS	2048	/* base pages per repetition: 8 MiB */
#define NR_HUGE		8	/* huge pages per repetition on hugetlbfs */
#define REPS		7
#define CAP_LIMIT_MB	64
#define CAP_TRIALS	8	/* bisection steps: 1/256 of memory.max */
#define CAP_DEADLINE_S	20
/*
 * KIT_PROFILE_SECONDS of CLOCK_MONOTONIC per profiled case (0, the default:
 * no profile phase).  The kernel samples once a tick in kernel mode: at
 * HZ=250 under icount, 4 s are 4 * 10^9 instructions and some 1000 samples.
 */
static unsigned long profile_seconds;
#define PROFILE_LINES	200
#define PROFILE_CHUNK	16384	/* counters read at once */

#define PROC_PROFILE	"/proc/profile"
#define THP_DIR		"/sys/kernel/mm/transparent_hugepage/"
#define SHMEM_ENABLED	THP_DIR "shmem_enabled"
#define PMD_SIZE_KNOB	THP_DIR "hpage_pmd_size"
#define ANON_MTHP64	THP_DIR "hugepages-64kB/enabled"
#define ANON_PMD	THP_DIR "hugepages-2048kB/enabled"

enum bench_kind {
	BENCH_HOLE,		/* one store per page of a fresh area of holes */
	BENCH_CACHED,		/* one store per page of a populated file */
	BENCH_READ_WRITE,	/* a load, then a store, per page of holes */
};

/* What a case's median is divided by. */
enum bench_ref {
	REF_ANON,
	REF_HUGETLB_SHARED,
	NR_REFS,
};

static const char *const ref_fact[NR_REFS] = {
	[REF_ANON] = "ratio_to_anon",
	[REF_HUGETLB_SHARED] = "ratio_to_hugetlb_shared",
};

static const char *const ref_name[NR_REFS] = {
	[REF_ANON] = "anon",
	[REF_HUGETLB_SHARED] = "hugetlbfs-shared",
};

/* The medians divided by, once their case has run. */
static double ref_ns[NR_REFS];

struct bench_case {
	const char *name;
	const struct kit_backend *backend;
	int map;		/* MAP_PRIVATE, or MAP_SHARED */
	enum bench_kind kind;
	enum bench_ref ref;
	bool is_ref;		/* the case @ref names: sets ref_ns[@ref] */
	bool huge_cache;	/* populate with shmem_enabled=always */
	bool anon_mthp;		/* anonymous 64 KiB mTHP on while it runs */
	bool profile;		/* profile its faults too */
};

/* Each reference runs before the cases divided by it. */
static const struct bench_case cases[] = {
	{ .name = "anon", .backend = &kit_backend_anon, .map = MAP_PRIVATE,
	  .kind = BENCH_HOLE, .ref = REF_ANON, .is_ref = true,
	  .profile = true },
	{ .name = "memfd", .backend = &kit_backend_memfd, .map = MAP_PRIVATE,
	  .kind = BENCH_HOLE, .ref = REF_ANON, .profile = true },
	{ .name = "memfd-shared", .backend = &kit_backend_memfd,
	  .map = MAP_SHARED, .kind = BENCH_HOLE, .ref = REF_ANON },
	{ .name = "memfd-cached", .backend = &kit_backend_memfd,
	  .map = MAP_PRIVATE, .kind = BENCH_CACHED, .ref = REF_ANON },
	{ .name = "memfd-cached-huge", .backend = &kit_backend_memfd,
	  .map = MAP_PRIVATE, .kind = BENCH_CACHED, .ref = REF_ANON,
	  .huge_cache = true },
	{ .name = "memfd-read-then-write", .backend = &kit_backend_memfd,
	  .map = MAP_PRIVATE, .kind = BENCH_READ_WRITE, .ref = REF_ANON },
	{ .name = "tmpfs-huge", .backend = &kit_backend_tmpfs_huge,
	  .map = MAP_PRIVATE, .kind = BENCH_HOLE, .ref = REF_ANON },
	{ .name = "hugetlbfs-shared", .backend = &kit_backend_hugetlbfs,
	  .map = MAP_SHARED, .kind = BENCH_HOLE, .ref = REF_HUGETLB_SHARED,
	  .is_ref = true },
	{ .name = "hugetlbfs", .backend = &kit_backend_hugetlbfs,
	  .map = MAP_PRIVATE, .kind = BENCH_HOLE, .ref = REF_HUGETLB_SHARED },
	/*
	 * With anonymous 64 KiB mTHP: an anonymous mapping takes one fault
	 * per 64 KiB, a private store over a shmem hole still one per 4 KiB
	 * page (the COW page is order 0); faults_per_mib says how many.
	 */
	{ .name = "anon-mthp64", .backend = &kit_backend_anon,
	  .map = MAP_PRIVATE, .kind = BENCH_HOLE, .ref = REF_ANON,
	  .anon_mthp = true },
	{ .name = "memfd-mthp64", .backend = &kit_backend_memfd,
	  .map = MAP_PRIVATE, .kind = BENCH_HOLE, .ref = REF_ANON,
	  .anon_mthp = true },
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static size_t nr_pages(const struct kit_backend *b)
{
	return b->flags & KIT_BACKEND_HUGETLB ? NR_HUGE : NR_FAULTS;
}

/* First touches of the @n pages of @p, @ps apart, as @c does them. */
static void touch(const struct bench_case *c, char *p, size_t n, size_t ps)
{
	size_t i;

	/* READ_ONCE(), WRITE_ONCE(): one access each, none merged or dropped. */
	for (i = 0; i < n; i++) {
		if (c->kind == BENCH_READ_WRITE)
			(void)__atomic_load_n(&p[i * ps], __ATOMIC_RELAXED);
		__atomic_store_n(&p[i * ps], 1, __ATOMIC_RELAXED);
	}
}

/*
 * Private pages of a mapping of @a: none for a shared mapping, which has no
 * COW pages (smaps counts a hugetlb page that one MAP_SHARED mapping alone
 * maps as Private_Hugetlb, though the file holds it).
 */
static long long private_pages(const struct bench_case *c,
			       const struct kit_area *a, const void *p)
{
	return c->map == MAP_SHARED ? 0 : kit_area_private_pages(a, p);
}

/*
 * Map @a as @c does.  An anonymous mapping is kept to 4 KiB pages: the
 * kernel's THP would otherwise fault in 2 MiB at the first store of each
 * aligned range and make the stores after it free, while a private store
 * over a shmem hole always gets a 4 KiB COW page; the floor compared with
 * is one 4 KiB anonymous fault.
 */
static char *map_case(const struct bench_case *c, const struct kit_area *a)
{
	char *p = kit_area_map(a, c->map);

	if (p && c->backend == &kit_backend_anon && !c->anon_mthp &&
	    madvise(p, a->pages * a->page_size, MADV_NOHUGEPAGE)) {
		kit_area_unmap(a, p);
		return NULL;
	}
	return p;
}

/*
 * Map @a as @c does, touch every page, timed, and unmap.  With @pages,
 * also count the pages the touches allocated, per page.
 */
static int measure(const struct bench_case *c, const struct kit_area *a,
		   double *ns, double *pages, double *per_mib)
{
	long long pc0, pc1, an0, an1;
	struct rusage r0, r1;
	double t0, t1;
	char *p;

	p = map_case(c, a);
	if (!p)
		return -1;
	pc0 = kit_area_file_pages(a);
	an0 = private_pages(c, a, p);
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_ns();
	touch(c, p, a->pages, a->page_size);
	t1 = now_ns();
	getrusage(RUSAGE_SELF, &r1);
	if (per_mib)
		*per_mib = (double)(r1.ru_minflt - r0.ru_minflt) * (1 << 20) /
			   ((double)a->pages * a->page_size);
	pc1 = kit_area_file_pages(a);
	an1 = private_pages(c, a, p);
	*ns = (t1 - t0) / a->pages;
	if (pages)
		*pages = (double)((pc1 - pc0) + (an1 - an0)) / a->pages;
	kit_area_unmap(a, p);
	if (pc0 < 0 || pc1 < 0 || an0 < 0 || an1 < 0) {
		if (!errno)
			errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * One repetition: over a fresh area of holes, or over the populated file
 * @cache of a cached case.
 */
static int one_rep(const struct bench_case *c, const struct kit_area *cache,
		   double *ns, double *pages, double *per_mib)
{
	struct kit_area a;
	int ret;

	if (cache)
		return measure(c, cache, ns, pages, per_mib);
	if (kit_area_create(&a, c->backend, "fault-bench",
			    nr_pages(c->backend)))
		return -1;
	ret = measure(c, &a, ns, pages, per_mib);
	kit_area_destroy(&a);
	return ret;
}

static size_t pmd_size(void)
{
	char value[32];

	if (kit_knob_read(PMD_SIZE_KNOB, value, sizeof(value)))
		return 0;
	return strtoul(value, NULL, 10);
}

/* Write every page of @a through the file, so that the page cache holds it. */
static int fill(const struct kit_area *a)
{
	size_t i;

	for (i = 0; i < a->pages; i++)
		if (kit_area_file_fill(a, i, 0x5a))
			return -1;
	return 0;
}

/*
 * The file of a cached case: every page written with pwrite(), with
 * shmem_enabled=always for @c->huge_cache (the global control is the one
 * that applies to a memfd's write(); the per-size ones govern anonymous
 * shmem only), restored as soon as the file is written.
 *
 * Return: 0; 1 if the case cannot run here, with the reason in @why; -1
 * on error, with the reason in @why.
 */
static int populate(const struct bench_case *c, struct kit_area *a,
		    char *why, size_t len)
{
	size_t n = nr_pages(c->backend), pmd = pmd_size();
	long long huge0, huge1, file_kb;
	int ret = 0;

	if (c->huge_cache) {
		if (!pmd) {
			snprintf(why, len, "no transparent huge pages (no %s)",
				 PMD_SIZE_KNOB);
			return 1;
		}
		if (n * kit_page_size() % pmd) {
			snprintf(why, len, "%zu pages are not whole %zu KiB folios",
				 n, pmd >> 10);
			return 1;
		}
		if (access(SHMEM_ENABLED, W_OK)) {
			snprintf(why, len, "cannot write %s: %s", SHMEM_ENABLED,
				 strerror(errno));
			return 1;
		}
	}
	if (kit_area_create(a, c->backend, "fault-bench-cached", n)) {
		snprintf(why, len, "create: %s", strerror(errno));
		return -1;
	}
	huge0 = kit_meminfo_kb("ShmemHugePages:");
	if (c->huge_cache && kit_knob_set(SHMEM_ENABLED, "always")) {
		snprintf(why, len, "setting %s to always: %s", SHMEM_ENABLED,
			 strerror(errno));
		kit_area_destroy(a);
		return -1;
	}
	if (fill(a)) {
		snprintf(why, len, "pwrite: %s", strerror(errno));
		ret = -1;
	}
	if (c->huge_cache)
		kit_knob_restore(SHMEM_ENABLED);
	huge1 = kit_meminfo_kb("ShmemHugePages:");
	file_kb = (long long)(n * kit_page_size()) >> 10;
	if (!ret && c->huge_cache && (huge0 < 0 || huge1 - huge0 < file_kb)) {
		snprintf(why, len,
			 "populated with shmem_enabled=always, ShmemHugePages grew by %lld KiB, not %lld: the file is not in PMD-sized folios",
			 huge1 - huge0, file_kb);
		ret = 1;
	}
	if (!ret && !c->huge_cache && huge1 - huge0 > 0)
		ktap_diag("%s: ShmemHugePages +%lld KiB while writing the file: huge folios?",
			  c->name, huge1 - huge0);
	if (!ret && c->huge_cache)
		ktap_diag("%s: %lld KiB file, ShmemHugePages +%lld KiB",
			  c->name, file_kb, huge1 - huge0);
	if (ret)
		kit_area_destroy(a);
	return ret;
}

struct profile_bucket {
	unsigned long bucket;
	unsigned int count;
};

static int cmp_bucket(const void *a, const void *b)
{
	const struct profile_bucket *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return (x->bucket > y->bucket) - (x->bucket < y->bucket);
}

/*
 * Read all of /proc/profile from @fd: the sample step (1 << prof_shift)
 * in the first unsigned int, then one counter per bucket of kernel text.
 * Collects the non-zero buckets in @*out (to be freed), their number in
 * @*nr, and the sum of all counters in @*samples.
 */
static int profile_read(int fd, unsigned int *step,
			struct profile_bucket **out, size_t *nr,
			unsigned long long *samples)
{
	unsigned int *buf;
	struct profile_bucket *b = NULL, *nb;
	size_t i, nr_b = 0, alloc = 0, first;
	unsigned long index = 0;
	off_t off = 0;
	ssize_t n;
	int ret = -1;

	*samples = 0;
	buf = malloc(PROFILE_CHUNK * sizeof(*buf));
	if (!buf)
		return -1;
	for (;;) {
		n = pread(fd, buf, PROFILE_CHUNK * sizeof(*buf), off);
		if (n < 0)
			goto out;
		if (!n)
			break;
		if (n % sizeof(*buf)) {
			errno = EIO;
			goto out;
		}
		first = 0;
		if (!off) {
			*step = buf[0];
			first = 1;
		}
		off += n;
		for (i = first; i < n / sizeof(*buf); i++, index++) {
			if (!buf[i])
				continue;
			*samples += buf[i];
			if (nr_b == alloc) {
				alloc = alloc ? 2 * alloc : 256;
				nb = realloc(b, alloc * sizeof(*b));
				if (!nb)
					goto out;
				b = nb;
			}
			b[nr_b].bucket = index;
			b[nr_b].count = buf[i];
			nr_b++;
		}
	}
	if (!off) {
		errno = ENODATA;
		goto out;
	}
	ret = 0;
out:
	free(buf);
	if (ret) {
		free(b);
		b = NULL;
		nr_b = 0;
	}
	*out = b;
	*nr = nr_b;
	return ret;
}

/*
 * Untimed: reset /proc/profile, fault PROFILE_FAULTS pages as @c does, in
 * areas of NR_FAULTS pages (create, map, touch, unmap, destroy), read the
 * profile and print its non-zero buckets, most samples first.
 */
static void profile_case(const struct bench_case *c)
{
	size_t n = nr_pages(c->backend), nr, i, done = 0;
	unsigned long long samples;
	struct profile_bucket *b;
	unsigned int step = 0;
	double deadline;
	struct kit_area a;
	int fd, shift;
	char *p;

	if (!profile_seconds)
		return;

	fd = open(PROC_PROFILE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ktap_diag("%s: no profile: %s: %s%s", c->name, PROC_PROFILE,
			  strerror(errno), errno == ENOENT ?
			  " (a CONFIG_PROFILING kernel booted with profile=N has it)" :
			  "");
		return;
	}
	/* Any write resets the counters; one of sizeof(int) sets a multiplier. */
	if (write(fd, "0", 1) != 1) {
		ktap_diag("%s: no profile: resetting %s: %s", c->name,
			  PROC_PROFILE, strerror(errno));
		close(fd);
		return;
	}
	deadline = now_ns() + profile_seconds * 1e9;
	while (now_ns() < deadline) {
		if (kit_area_create(&a, c->backend, "fault-bench-profile", n))
			break;
		p = map_case(c, &a);
		if (!p) {
			kit_area_destroy(&a);
			break;
		}
		touch(c, p, n, a.page_size);
		kit_area_unmap(&a, p);
		kit_area_destroy(&a);
		done += n;
	}
	if (now_ns() < deadline)
		ktap_diag("%s: profile phase stopped after %zu faults: %s",
			  c->name, done, strerror(errno));
	if (profile_read(fd, &step, &b, &nr, &samples)) {
		ktap_diag("%s: no profile: reading %s: %s", c->name,
			  PROC_PROFILE, strerror(errno));
		close(fd);
		return;
	}
	close(fd);
	shift = step ? __builtin_ctz(step) : -1;
	if (shift < 0 || step != 1U << shift) {
		ktap_diag("%s: no profile: %s begins with %u, not a power of two",
			  c->name, PROC_PROFILE, step);
		free(b);
		return;
	}
	qsort(b, nr, sizeof(*b), cmp_bucket);
	ktap_diag("%s: profile of %zu faults: %llu samples, %zu buckets of %u bytes",
		  c->name, done, samples, nr, step);
	for (i = 0; i < nr && i < PROFILE_LINES; i++)
		ktap_diag("profile %s: %lu %u", c->name, b[i].bucket,
			  b[i].count);
	free(b);
	ktap_fact("profile_shift", "%d", shift);
	ktap_fact("profile_samples", "%llu", samples);
	ktap_fact("profile_faults", "%zu", done);
}

static void ktap_broken(const char *name, const char *why)
{
	ktap_diag("%s: %s", name, why);
	ktap_result(false, name);
}

static void bench(const struct bench_case *c)
{
	double ns[REPS], pages = 0, per_mib = 0, median;
	struct kit_area cache, *cached = NULL;
	size_t n = nr_pages(c->backend);
	char why[256];
	int r, ret;

	/* 64 KiB folios only: PMD-sized THP would take aligned 2 MiB first. */
	if (c->anon_mthp && (kit_knob_set(ANON_MTHP64, "always") ||
			     kit_knob_set(ANON_PMD, "never"))) {
		snprintf(why, sizeof(why), "%s: %s: no 64 KiB anonymous mTHP",
			 ANON_MTHP64, strerror(errno));
		ktap_skip(c->name, why);
		return;
	}

	if (c->kind == BENCH_CACHED) {
		ret = populate(c, &cache, why, sizeof(why));
		if (ret > 0) {
			ktap_skip(c->name, why);
			return;
		}
		if (ret < 0) {
			ktap_broken(c->name, why);
			return;
		}
		cached = &cache;
	}
	for (r = 0; r < REPS; r++) {
		if (one_rep(c, cached, &ns[r], r ? NULL : &pages,
			    r ? NULL : &per_mib)) {
			snprintf(why, sizeof(why), "repetition %d: %s", r,
				 strerror(errno));
			if (cached)
				kit_area_destroy(cached);
			ktap_broken(c->name, why);
			return;
		}
	}
	if (cached)
		kit_area_destroy(cached);
	if (c->anon_mthp) {
		kit_knob_restore(ANON_MTHP64);
		kit_knob_restore(ANON_PMD);
	}
	qsort(ns, REPS, sizeof(ns[0]), cmp_double);
	median = ns[REPS / 2];
	if (c->is_ref)
		ref_ns[c->ref] = median;
	ktap_diag("%s: %zu %s x %d, ns per fault min %.0f median %.0f max %.0f",
		  c->name, n, c->kind == BENCH_READ_WRITE ?
		  "pages (a load and a store each)" : "faults",
		  REPS, ns[0], median, ns[REPS - 1]);
	ktap_fact("ns_per_fault", "%.0f", median);
	ktap_fact("ns_min", "%.0f", ns[0]);
	ktap_fact("ns_max", "%.0f", ns[REPS - 1]);
	if (ref_ns[c->ref] > 0)
		ktap_fact(ref_fact[c->ref], "%.2f", median / ref_ns[c->ref]);
	else
		ktap_diag("%s: %s omitted: %s was not measured", c->name,
			  ref_fact[c->ref], ref_name[c->ref]);
	ktap_fact("pages_per_fault", "%.2f", pages);
	ktap_fact("faults_per_mib", "%.1f", per_mib);
	ktap_fact("faults", "%zu", n);
	if (c->profile)
		profile_case(c);
	ktap_result(true, c->name);
}

/* The child of a capacity trial: join @cg and store to @pages pages. */
static void cap_child(const char *cg, const struct kit_backend *b,
		      size_t pages)
{
	size_t i, ps = kit_page_size();
	struct kit_area a;
	char *p;

	if (kit_memcg_write(cg, "cgroup.procs", "0") ||
	    kit_area_create(&a, b, "fault-bench-cap", pages))
		_exit(2);
	p = kit_area_map(&a, MAP_PRIVATE | MAP_NORESERVE);
	if (!p)
		_exit(3);
	for (i = 0; i < pages; i++)
		p[i * ps] = 1;
	_exit(0);
}

/* 1 if the working set fits, 0 if it was OOM-killed, -1 on error. */
static int cap_trial(const struct kit_backend *b, size_t pages, int step)
{
	char cg[400], tag[32];
	int status, fits = -1;
	long long oom;
	pid_t pid;

	snprintf(tag, sizeof(tag), "cap-%s-%d", b->name, step);
	if (kit_memcg_create(cg, sizeof(cg), tag,
			     (long long)CAP_LIMIT_MB << 20))
		return -1;
	fflush(NULL);
	pid = fork();
	if (!pid) {
		alarm(CAP_DEADLINE_S);
		cap_child(cg, b, pages);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid) {
		oom = kit_memcg_key(cg, "memory.events", "oom_kill");
		if (WIFEXITED(status) && !WEXITSTATUS(status))
			fits = 1;
		else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
			 oom > 0)
			fits = 0;
		else
			ktap_diag("capacity-%s: trial %d: status %#x, oom_kill %lld",
				  b->name, step, status, oom);
	}
	kit_memcg_destroy(cg);
	return fits;
}

/*
 * Bisection over working sets of 0..memory.max pages: @lo always fits (0
 * trivially), @hi never does (memory.max + 1 pages cannot, with no swap).
 */
static void cap_case(const struct kit_backend *b, const char *why)
{
	size_t limit = ((size_t)CAP_LIMIT_MB << 20) / kit_page_size();
	size_t lo = 0, hi = limit + 1, mid;
	char name[64];
	int trials = 0, fits;

	snprintf(name, sizeof(name), "capacity-%s", b->name);
	if (why) {
		ktap_skip(name, why);
		return;
	}
	while (trials < CAP_TRIALS && hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		fits = cap_trial(b, mid, ++trials);
		if (fits < 0) {
			ktap_result(false, name);
			return;
		}
		if (fits)
			lo = mid;
		else
			hi = mid;
	}
	ktap_diag("%s: memory.max %d MiB (%zu pages), %d trials: %zu pages fit, %zu%s",
		  name, CAP_LIMIT_MB, limit, trials, lo, hi,
		  hi > limit ? " not tried" : " were OOM-killed");
	/* Rounded down: the fraction printed is one that completed. */
	ktap_fact("capacity_fraction", "%.2f",
		  (double)(lo * 100 / limit) / 100);
	ktap_fact("capacity_trials", "%d", trials);
	ktap_result(true, name);
}

int main(void)
{
	char why[ARRAY_SIZE(cases)][256], memcg_why[256] = "", knob[64];
	const char *env = getenv("KIT_PROFILE_SECONDS");
	int setup[ARRAY_SIZE(cases)];
	bool memcg_ok;
	struct utsname u;
	size_t i;

	if (env)
		profile_seconds = strtoul(env, NULL, 10);

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		setup[i] = kit_backend_setup(cases[i].backend,
					     2 * nr_pages(cases[i].backend),
					     why[i], sizeof(why[i]));
	memcg_ok = !kit_memcg_init(memcg_why, sizeof(memcg_why));

	ktap_header(ARRAY_SIZE(cases) + 2);
	if (!uname(&u))
		ktap_diag("kernel: %s %s", u.release, u.machine);
	ktap_diag("fault-bench: ns are CLOCK_MONOTONIC; %s",
		  "under QEMU -icount shift=0 one ns is one guest instruction, under plain TCG emulated time");
	if (!kit_knob_read(SHMEM_ENABLED, knob, sizeof(knob)))
		ktap_diag("%s: %s", SHMEM_ENABLED, knob);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (setup[i] > 0)
			ktap_skip(cases[i].name, why[i]);
		else if (setup[i] < 0)
			ktap_broken(cases[i].name, why[i]);
		else
			bench(&cases[i]);
	}
	cap_case(&kit_backend_memfd, memcg_ok ? NULL : memcg_why);
	cap_case(&kit_backend_anon, memcg_ok ? NULL : memcg_why);
	return ktap_exit_status();
}
