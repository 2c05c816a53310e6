// SPDX-License-Identifier: GPL-2.0
/*
 * fork-after-fault: fork once private pages exist over holes; parent and
 * child each write; COW must isolate both, and the file is untouched.
 *
 * Hazard "fork after the fault" of the RFC, claims C2 and C8: the reference
 * series maps the COW page of a private write over a hole without any
 * page-cache page behind it (v2: VM_FAULT_HOLE, mapped by do_cow_fault();
 * v1: VM_FAULT_DONE_COW from shmem_fault()), so the page is anonymous from
 * the start and fork() must treat it like any other anonymous page: shared
 * read-only after fork, copied on the next write of either side.
 *
 * Each case maps a file of N holes MAP_PRIVATE and stores OLD to every page
 * (pc_per_write, anon_per_write: the double allocation shows here on a
 * kernel that has it), then forks.  The child checks it reads OLD, stores
 * CHILD to every page and tells the parent; the parent checks it still
 * reads OLD, stores PARENT and tells the child; the child checks it still
 * reads CHILD and exits.  Then the file must still read zeros and must not
 * have grown (pc_added_after_fork).  Each step is bounded; a child that
 * does not finish in time is killed.  A case fails if any check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"
#include "pagemap.h"

#define NR_PAGES	256
#define NR_THP_PAGES	512
#define NR_HUGE_PAGES	4

#define OLD		0x11
#define CHILD		0x22
#define PARENT		0x33

#define STEP_TIMEOUT_MS	5000

/* Bits of the child's exit status. */
#define CHILD_SAW_OLD_BAD	0x1
#define CHILD_NO_GO		0x2
#define CHILD_ISOLATION_BAD	0x4
#define CHILD_PIPE_BAD		0x8

static size_t nr_pages(const struct kit_backend *b)
{
	return kit_backend_pages(b, NR_PAGES, NR_THP_PAGES, NR_HUGE_PAGES);
}

/* Does every byte of the mapping equal @byte? */
static bool all_equal(const struct kit_area *a, const char *p, int byte)
{
	return kit_area_mismatches(a, p, byte, byte) == 0;
}

static int send_byte(int fd)
{
	return write(fd, "x", 1) == 1 ? 0 : -1;
}

/* The child's side; never returns. */
static void child(const struct kit_area *a, char *p, int rd, int wr)
{
	int status = 0;

	if (!all_equal(a, p, OLD))
		status |= CHILD_SAW_OLD_BAD;
	memset(p, CHILD, a->pages * a->page_size);
	if (send_byte(wr))
		status |= CHILD_PIPE_BAD;
	if (kit_wait_byte(rd, STEP_TIMEOUT_MS) < 0)
		status |= CHILD_NO_GO;
	if (!all_equal(a, p, CHILD))
		status |= CHILD_ISOLATION_BAD;
	_exit(status);
}

/* Reap @pid within the step timeout, killing it if it overstays. */
static int reap(pid_t pid, int *status)
{
	struct timespec ms = { 0, 1000000 };
	int i;

	for (i = 0; i < STEP_TIMEOUT_MS; i++) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		nanosleep(&ms, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	errno = ETIMEDOUT;
	return -1;
}

static void test_case(const struct kit_backend *b, const char *name,
		      const void *arg)
{
	long long pc0, pc1, pc2, anon1;
	size_t pages = nr_pages(b);
	int to_child[2], to_parent[2];
	bool parent_isolated = false, ok = true;
	struct kit_area a;
	int status = 0;
	pid_t pid;
	char *p;

	(void)arg;
	if (kit_area_create(&a, b, "fork-after-fault", pages)) {
		ktap_diag("%s: create: %s", name, strerror(errno));
		ktap_result(false, name);
		return;
	}
	p = kit_area_map(&a, MAP_PRIVATE);
	if (!p) {
		ktap_diag("%s: mmap: %s", name, strerror(errno));
		kit_area_destroy(&a);
		ktap_result(false, name);
		return;
	}
	pc0 = kit_area_file_pages(&a);
	if (kit_area_touch(&a, p, true, OLD))
		goto fail;
	memset(p, OLD, pages * a.page_size);
	pc1 = kit_area_file_pages(&a);
	anon1 = kit_area_private_pages(&a, p);
	if (pc0 < 0 || pc1 < 0 || anon1 < 0) {
		ktap_diag("%s: measurement failed: %s", name,
			  strerror(errno));
		goto fail;
	}
	ktap_fact("pages", "%zu", pages);
	ktap_fact("pc_per_write", "%.2f", (double)(pc1 - pc0) / pages);
	ktap_fact("anon_per_write", "%.2f", (double)anon1 / pages);

	if (pipe2(to_child, O_CLOEXEC))
		goto fail;
	if (pipe2(to_parent, O_CLOEXEC)) {
		close(to_child[0]);
		close(to_child[1]);
		goto fail;
	}
	fflush(NULL);
	pid = fork();
	if (!pid) {
		close(to_child[1]);
		close(to_parent[0]);
		child(&a, p, to_child[0], to_parent[1]);
	}
	close(to_child[0]);
	close(to_parent[1]);
	if (pid < 0) {
		ktap_diag("%s: fork: %s", name, strerror(errno));
		close(to_child[1]);
		close(to_parent[0]);
		goto fail;
	}
	if (kit_wait_byte(to_parent[0], STEP_TIMEOUT_MS) < 0) {
		ktap_diag("%s: the child did not report its stores in time",
			  name);
		ok = false;
	} else {
		parent_isolated = all_equal(&a, p, OLD);
	}
	memset(p, PARENT, pages * a.page_size);
	send_byte(to_child[1]);
	close(to_child[1]);
	close(to_parent[0]);
	if (reap(pid, &status)) {
		ktap_diag("%s: waiting for the child: %s", name,
			  strerror(errno));
		ok = false;
	}

	pc2 = kit_area_file_pages(&a);
	ktap_fact("parent_isolated", "%d", parent_isolated);
	if (WIFEXITED(status)) {
		int s = WEXITSTATUS(status);

		ktap_fact("child_saw_old", "%d", !(s & CHILD_SAW_OLD_BAD));
		ktap_fact("child_isolated", "%d", !(s & CHILD_ISOLATION_BAD));
		if (s)
			ktap_diag("%s: child exit status %#x", name, s);
		ok = ok && !s;
	} else {
		ktap_diag("%s: child ended by signal %d", name,
			  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		ok = false;
	}
	if (!all_equal(&a, p, PARENT)) {
		ktap_diag("%s: the parent's pages do not read its own stores",
			  name);
		ok = false;
	}
	kit_pagemap_facts("", p, pages, a.page_size);
	if (pc2 >= 0)
		ktap_fact("pc_added_after_fork", "%lld", pc2 - pc1);
	if (a.fd >= 0)
		ok &= kit_fact_file_intact(name, kit_area_file_all_equal(&a, 0));
	kit_area_unmap(&a, p);
	kit_area_destroy(&a);
	ktap_result(ok && parent_isolated && pc2 == pc1, name);
	return;
fail:
	kit_area_unmap(&a, p);
	kit_area_destroy(&a);
	ktap_result(false, name);
}

/* The file, and the private copies of the parent and of the child. */
static size_t setup_pages(const struct kit_backend *b)
{
	return 3 * nr_pages(b);
}

static const struct kit_case cases[] = {
	{ .test = test_case },
};

int main(void)
{
	static const struct kit_run run = {
		.title = "fork-after-fault: fork after private write faults over holes (C2, C8)",
		.setup_pages = setup_pages,
		.cases = cases,
		.nr_cases = ARRAY_SIZE(cases),
	};

	return kit_run_backends(&run);
}
