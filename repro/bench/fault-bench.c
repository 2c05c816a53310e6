// SPDX-License-Identifier: GPL-2.0
/*
 * fault-bench: what a private write fault over a hole costs, in time and in
 * pages, per backend, and how much private memory fits a memory cgroup.
 *
 * Not a test of a claim but the numbers behind the proposal's cost and
 * benefit (issue "Performance"): the median time of one first-touch store
 * over REPS repetitions of NR_FAULTS faults, and its ratio to the anonymous
 * fault measured in the same boot (the floor: one zeroed page per fault),
 * which is the figure that survives TCG and noisy machines; absolute times
 * under TCG are emulated.  Pages allocated per fault come from st_blocks
 * and smaps.  Capacity is the largest private working set over a sparse
 * memfd, as a fraction of memory.max, that completes without an OOM kill.
 *
 * Every case reports facts and is "ok" when it measured them; what the
 * numbers should be is the harness's business.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
#define CAP_STEPS	10	/* working sets of 55%, 60%, ... 100% */
#define CAP_DEADLINE_S	20

struct bench_case {
	const char *name;
	const struct kit_backend *backend;
	int map;	/* MAP_PRIVATE, or MAP_SHARED for the reference */
};

/* anon first: every other case is divided by it. */
static const struct bench_case cases[] = {
	{ "anon", &kit_backend_anon, MAP_PRIVATE },
	{ "memfd", &kit_backend_memfd, MAP_PRIVATE },
	{ "tmpfs-huge", &kit_backend_tmpfs_huge, MAP_PRIVATE },
	{ "hugetlbfs", &kit_backend_hugetlbfs, MAP_PRIVATE },
	{ "memfd-shared", &kit_backend_memfd, MAP_SHARED },
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

/*
 * One repetition: a fresh area of holes, one store per page, timed.  The
 * first repetition also counts the pages the stores allocated.
 */
static int one_rep(const struct bench_case *c, double *ns, double *pages)
{
	size_t n = nr_pages(c->backend), i, ps;
	long long pc0, pc1, an0, an1;
	struct kit_area a;
	double t0, t1;
	char *p;

	if (kit_area_create(&a, c->backend, "fault-bench", n))
		return -1;
	p = kit_area_map(&a, c->map);
	if (!p) {
		kit_area_destroy(&a);
		return -1;
	}
	ps = a.page_size;
	pc0 = kit_area_file_pages(&a);
	an0 = kit_area_private_pages(&a, p);
	t0 = now_ns();
	/* WRITE_ONCE(): one store per page, none merged or dropped. */
	for (i = 0; i < n; i++)
		__atomic_store_n(&p[i * ps], 1, __ATOMIC_RELAXED);
	t1 = now_ns();
	pc1 = kit_area_file_pages(&a);
	an1 = kit_area_private_pages(&a, p);
	*ns = (t1 - t0) / n;
	if (pages)
		*pages = (double)((pc1 - pc0) + (an1 - an0)) / n;
	kit_area_unmap(&a, p);
	kit_area_destroy(&a);
	return pc0 < 0 || pc1 < 0 || an0 < 0 || an1 < 0 ? -1 : 0;
}

static double anon_ns;

static void ktap_broken(const char *name, const char *why)
{
	ktap_diag("%s: %s", name, why);
	ktap_result(false, name);
}

static void bench(const struct bench_case *c)
{
	double ns[REPS], pages = 0, median;
	int r;

	for (r = 0; r < REPS; r++) {
		if (one_rep(c, &ns[r], r ? NULL : &pages)) {
			ktap_diag("%s: repetition %d: %s", c->name, r,
				  strerror(errno));
			ktap_result(false, c->name);
			return;
		}
	}
	qsort(ns, REPS, sizeof(ns[0]), cmp_double);
	median = ns[REPS / 2];
	if (c->backend == &kit_backend_anon)
		anon_ns = median;
	ktap_diag("%s: %zu faults x %d, ns per fault min %.0f median %.0f max %.0f",
		  c->name, nr_pages(c->backend), REPS, ns[0], median,
		  ns[REPS - 1]);
	ktap_fact("ns_per_fault", "%.0f", median);
	if (anon_ns > 0)
		ktap_fact("ratio_to_anon", "%.2f", median / anon_ns);
	ktap_fact("pages_per_fault", "%.2f", pages);
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

static void cap_case(const struct kit_backend *b, const char *why)
{
	size_t limit_pages = ((size_t)CAP_LIMIT_MB << 20) / kit_page_size();
	char name[64];
	int step, best = 0, fits;

	snprintf(name, sizeof(name), "capacity-%s", b->name);
	if (why) {
		ktap_skip(name, why);
		return;
	}
	/* Largest first would OOM most often: climb until the first kill. */
	for (step = 1; step <= CAP_STEPS; step++) {
		size_t pct = 50 + 5 * step;

		fits = cap_trial(b, limit_pages * pct / 100, step);
		if (fits < 0) {
			ktap_result(false, name);
			return;
		}
		if (!fits)
			break;
		best = pct;
	}
	ktap_diag("%s: memory.max %d MiB, working sets from 55%% in 5%% steps",
		  name, CAP_LIMIT_MB);
	ktap_fact("capacity_fraction", "%.2f", best / 100.0);
	ktap_result(true, name);
}

int main(void)
{
	char why[ARRAY_SIZE(cases)][256], memcg_why[256] = "";
	int setup[ARRAY_SIZE(cases)];
	bool memcg_ok;
	struct utsname u;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		setup[i] = kit_backend_setup(cases[i].backend,
					     2 * nr_pages(cases[i].backend),
					     why[i], sizeof(why[i]));
	memcg_ok = !kit_memcg_init(memcg_why, sizeof(memcg_why));

	ktap_header(ARRAY_SIZE(cases) + 2);
	if (!uname(&u))
		ktap_diag("kernel: %s %s", u.release, u.machine);
	ktap_diag("fault-bench: CLOCK_MONOTONIC; %s",
		  "under TCG absolute times are emulated, only ratios carry over");
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
