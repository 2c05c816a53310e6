// SPDX-License-Identifier: GPL-2.0
/*
 * memcg-charge: whether a workload of private stores over shmem holes fits
 * a memory cgroup sized for its data.
 *
 * Claim C1 as users meet it (hazard "memcg charging" of the RFC; the
 * cloud-hypervisor reports of CONTEXT.md): the zero-filled page-cache page
 * of each private write fault is charged to the faulting task's memory
 * cgroup besides the COW page, so a guest-memory-sized limit is exceeded
 * twice over and, with no swap to reclaim shmem to, the task is OOM-killed.
 * With the double allocation gone only the COW page is charged (the
 * reference patch's "memcg: only the COW page is charged").
 *
 * Each case creates a child cgroup v2 (memory.max = 1.5 times the data,
 * memory.swap.max = 0 where present) and forks a process into it that
 * maps DATA_MB of holes MAP_PRIVATE and stores one byte per page, telling
 * the parent its progress.  The parent samples memory.current and
 * memory.stat meanwhile (the anon, shmem and file figures are those of the
 * largest sample, or at completion), then reads memory.peak where present
 * and memory.events.  Facts: completed, pages_done, oom_kill, peak_kb,
 * anon_kb, shmem_kb, file_kb.  ``anon`` is the control: the same stores
 * to anonymous memory fit on every kernel; if they do not, the limit is
 * wrong and the case fails.  The cgroup is removed on every path.  Skips
 * without CAP_SYS_ADMIN or a cgroup v2 memory controller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"
#include "memcg.h"

#define DATA_MB		64
#define LIMIT_MB	(DATA_MB * 3 / 2)
#define REPORT_EVERY	256		/* pages between progress reports */
#define DEADLINE_MS	8000		/* the whole case */
#define SAMPLE_MS	5

struct memcg_case {
	const char *name;
	const struct kit_backend *backend;
	bool control;	/* must complete on every kernel */
};

static const struct memcg_case cases[] = {
	{ "memfd", &kit_backend_memfd, false },
	{ "anon", &kit_backend_anon, true },
};

/* The child: join @cg, store to every page, report; never returns. */
static void child(const struct kit_backend *b, const char *cg, size_t pages,
		  int wr, int rd)
{
	size_t ps = kit_page_size(), i;
	struct pollfd pfd = { .fd = rd, .events = POLLIN };
	struct kit_area a;
	unsigned int done;
	char *p;

	if (kit_memcg_write(cg, "cgroup.procs", "0"))
		_exit(2);
	if (kit_area_create(&a, b, "memcg-charge", pages))
		_exit(3);
	p = kit_area_map(&a, MAP_PRIVATE);
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

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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

static void test_case(const struct memcg_case *c)
{
	size_t pages = ((size_t)DATA_MB << 20) / kit_page_size();
	int to_child[2] = { -1, -1 }, from_child[2] = { -1, -1 };
	struct sample best = { -1, -1, -1, -1 }, s;
	unsigned int done = 0, got;
	bool completed = false, ok = true;
	double deadline;
	char cg[400];
	int status = 0;
	pid_t pid = -1;

	if (kit_memcg_create(cg, sizeof(cg), c->name,
			     (long long)LIMIT_MB << 20)) {
		ktap_diag("%s: memory cgroup: %s", c->name, strerror(errno));
		ktap_result(false, c->name);
		return;
	}
	if (pipe2(to_child, O_CLOEXEC) || pipe2(from_child, O_CLOEXEC)) {
		ktap_diag("%s: pipe: %s", c->name, strerror(errno));
		goto fail;
	}
	fflush(NULL);
	pid = fork();
	if (!pid) {
		close(to_child[1]);
		close(from_child[0]);
		child(c->backend, cg, pages, from_child[1], to_child[0]);
	}
	close(to_child[0]);
	close(from_child[1]);
	to_child[0] = -1;
	from_child[1] = -1;
	if (pid < 0) {
		ktap_diag("%s: fork: %s", c->name, strerror(errno));
		goto fail;
	}

	deadline = now_ms() + DEADLINE_MS;
	while (!completed && now_ms() < deadline) {
		struct pollfd pfd = { .fd = from_child[0], .events = POLLIN };
		int n = poll(&pfd, 1, SAMPLE_MS);

		take_sample(cg, &s);
		if (s.current > best.current)
			best = s;
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
	if (completed) {
		take_sample(cg, &best);
	} else if (now_ms() >= deadline) {
		ktap_diag("%s: the child did not finish in %d ms", c->name,
			  DEADLINE_MS);
		ok = false;
	}
	close(to_child[1]);	/* lets the child exit */
	to_child[1] = -1;
	if (!completed)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status))
		ktap_diag("%s: child killed by signal %d after %u of %zu stores",
			  c->name, WTERMSIG(status), done, pages);
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		ktap_diag("%s: child exit status %d", c->name,
			  WEXITSTATUS(status));
	pid = -1;

	ktap_fact("pages", "%zu", pages);
	ktap_fact("limit_kb", "%d", LIMIT_MB * 1024);
	ktap_fact("completed", "%d", completed);
	ktap_fact("pages_done", "%u", done);
	ktap_fact("oom_kill", "%lld", kit_memcg_key(cg, "memory.events", "oom_kill"));
	if (kit_memcg_has(cg, "memory.peak"))
		ktap_fact("peak_kb", "%lld", kit_memcg_value(cg, "memory.peak") >> 10);
	if (best.current >= 0)
		ktap_fact("current_max_kb", "%lld", best.current >> 10);
	if (best.anon >= 0)
		ktap_fact("anon_kb", "%lld", best.anon >> 10);
	if (best.shmem >= 0)
		ktap_fact("shmem_kb", "%lld", best.shmem >> 10);
	if (best.file >= 0)
		ktap_fact("file_kb", "%lld", best.file >> 10);
	if (c->control && !completed) {
		ktap_diag("%s: the control did not fit in %d MiB: %s",
			  c->name, LIMIT_MB, "the limit is wrong here");
		ok = false;
	}
	close(from_child[0]);
	kit_memcg_destroy(cg);
	ktap_result(ok, c->name);
	return;
fail:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	close(to_child[0]);
	close(to_child[1]);
	close(from_child[0]);
	close(from_child[1]);
	kit_memcg_destroy(cg);
	ktap_result(false, c->name);
}

int main(void)
{
	char why[640] = "";
	bool usable;
	size_t i;

	usable = !kit_memcg_init(why, sizeof(why));
	ktap_start(ARRAY_SIZE(cases),
		   "memcg-charge: %d MiB of private stores over holes %s%d%s",
		   DATA_MB, "in a ", LIMIT_MB, " MiB memory cgroup (C1)");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (!usable)
			ktap_skip(cases[i].name, why);
		else
			test_case(&cases[i]);
	}
	return ktap_exit_status();
}
