// SPDX-License-Identifier: GPL-2.0
/*
 * qemu-private-backend: what QEMU's private guest-RAM backends cost.
 *
 * Claim C1 as QEMU meets it (the "Real-world impact" of the RFC): with
 * memory-backend-memfd,share=off or memory-backend-file on a tmpfs file,
 * share=off (VM templating, snapshot restore), guest RAM is a MAP_PRIVATE
 * mapping over a sparse shmem file, and prealloc=on writes every page:
 * each write fault over a hole allocates a page-cache page besides the
 * COW page, so S bytes of guest RAM cost 2 S.  share=on is the reference:
 * S of page cache and no anonymous memory.
 *
 * Each case starts Debian's qemu-system-x86_64 with -machine none, one
 * backend of SIZE_MB and prealloc=on, waits for its QMP greeting (QEMU
 * preallocates while it creates the backend, before its monitor runs),
 * measures /proc/meminfo AnonPages and Shmem against a reading taken
 * before QEMU started and QEMU's smaps_rollup, then stops it with the QMP
 * "quit" command.  Only if QEMU does not answer within the deadline is it
 * sent SIGTERM, then SIGKILL.  Facts: anon_mb, shmem_mb, multiplier
 * ((anon + shmem) / SIZE_MB), doubled (multiplier above 1.5), rss_mb.
 * Skips when QEMU is not installed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

#define QEMU		"/usr/bin/qemu-system-x86_64"
#define SIZE_MB		128
#define DEADLINE_MS	60000	/* QEMU's start under TCG, in a TCG guest */

struct qemu_case {
	const char *name;
	const char *object;	/* -object, %s: the size, %d: an fd */
	const struct kit_backend *backend;	/* file made here, or NULL */
};

static const struct qemu_case cases[] = {
	{ "memfd-private",
	  "memory-backend-memfd,id=ram,size=%s,share=off,prealloc=on", NULL },
	{ "memfd-shared",
	  "memory-backend-memfd,id=ram,size=%s,share=on,prealloc=on", NULL },
	{ "tmpfs-private",
	  "memory-backend-file,id=ram,size=%s,share=off,prealloc=on,mem-path=/proc/self/fd/%d",
	  &kit_backend_tmpfs },
	{ "tmpfs-huge-private",
	  "memory-backend-file,id=ram,size=%s,share=off,prealloc=on,mem-path=/proc/self/fd/%d",
	  &kit_backend_tmpfs_huge },
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Read from @fd until @what appears or the deadline; 0 if it appeared. */
static int wait_for(int fd, const char *what, double deadline)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ms = deadline - now_ms();

		if (ms <= 0 || poll(&pfd, 1, ms) <= 0)
			return -1;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += n;
		buf[len] = '\0';
		if (strstr(buf, what))
			return 0;
		if (len > sizeof(buf) / 2) {
			memmove(buf, buf + len / 2, len - len / 2);
			len -= len / 2;
		}
	}
}

/* Wait for @pid until the deadline; true if it was reaped. */
static bool reap(pid_t pid, double deadline)
{
	struct timespec ms = { 0, 5000000 };

	while (now_ms() < deadline) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

/* Stop QEMU: QMP quit, then SIGTERM, then SIGKILL; say which it took. */
static void stop(pid_t pid, int to, const char *name)
{
	static const char quit[] = "{\"execute\":\"quit\"}\n";

	if (write(to, quit, strlen(quit)) == (ssize_t)strlen(quit) &&
	    reap(pid, now_ms() + 10000))
		return;
	ktap_diag("%s: QEMU ignored QMP quit: SIGTERM", name);
	kill(pid, SIGTERM);
	if (reap(pid, now_ms() + 5000))
		return;
	ktap_diag("%s: QEMU ignored SIGTERM: SIGKILL", name);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_case(const struct qemu_case *c)
{
	long long anon0, shmem0, anon1, shmem1, rss = -1;
	int to[2] = { -1, -1 }, from[2] = { -1, -1 };
	char object[256], size[16], rollup[64];
	static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
	struct kit_area a = { .fd = -1 };
	double mult, deadline;
	pid_t pid;
	FILE *f;

	snprintf(size, sizeof(size), "%dM", SIZE_MB);
	if (c->backend) {
		if (kit_area_create(&a, c->backend, "qemu-ram",
				    ((size_t)SIZE_MB << 20) / kit_page_size())) {
			ktap_diag("%s: file: %s", c->name, strerror(errno));
			ktap_result(false, c->name);
			return;
		}
		/* QEMU reopens it through /proc/self/fd: keep it across exec. */
		fcntl(a.fd, F_SETFD, 0);
	}
	snprintf(object, sizeof(object), c->object, size, a.fd);
	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC)) {
		ktap_diag("%s: pipe: %s", c->name, strerror(errno));
		goto fail;
	}
	anon0 = kit_meminfo_kb("AnonPages:");
	shmem0 = kit_meminfo_kb("Shmem:");
	fflush(NULL);
	pid = fork();
	if (!pid) {
		dup2(to[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		execl(QEMU, QEMU, "-machine", "none", "-display", "none",
		      "-nodefaults", "-qmp", "stdio", "-object", object,
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0) {
		ktap_diag("%s: fork: %s", c->name, strerror(errno));
		goto fail;
	}
	close(to[0]);
	close(from[1]);
	to[0] = -1;
	from[1] = -1;
	deadline = now_ms() + DEADLINE_MS;
	if (wait_for(from[0], "\"QMP\"", deadline) ||
	    write(to[1], caps, strlen(caps)) != (ssize_t)strlen(caps) ||
	    wait_for(from[0], "\"return\"", deadline)) {
		ktap_diag("%s: no QMP from QEMU within %d ms", c->name,
			  DEADLINE_MS);
		stop(pid, to[1], c->name);
		goto fail;
	}
	anon1 = kit_meminfo_kb("AnonPages:");
	shmem1 = kit_meminfo_kb("Shmem:");
	snprintf(rollup, sizeof(rollup), "/proc/%d/smaps_rollup", pid);
	f = fopen(rollup, "re");
	if (f) {
		rss = kit_meminfo_field_kb(f, "Rss:");
		fclose(f);
	}
	stop(pid, to[1], c->name);

	mult = (double)((anon1 - anon0) + (shmem1 - shmem0)) / (SIZE_MB << 10);
	ktap_diag("%s: -object %s", c->name, object);
	ktap_fact("size_mb", "%d", SIZE_MB);
	ktap_fact("anon_mb", "%lld", (anon1 - anon0) >> 10);
	ktap_fact("shmem_mb", "%lld", (shmem1 - shmem0) >> 10);
	ktap_fact("multiplier", "%.2f", mult);
	ktap_fact("doubled", "%d", mult > 1.5);
	if (rss >= 0)
		ktap_fact("rss_mb", "%lld", rss >> 10);
	close(to[1]);
	close(from[0]);
	if (c->backend)
		kit_area_destroy(&a);
	ktap_result(anon0 >= 0 && anon1 >= 0 && shmem0 >= 0 && shmem1 >= 0,
		    c->name);
	return;
fail:
	close(to[0]);
	close(to[1]);
	close(from[0]);
	close(from[1]);
	if (c->backend)
		kit_area_destroy(&a);
	ktap_result(false, c->name);
}

int main(void)
{
	char why[ARRAY_SIZE(cases)][256];
	int setup[ARRAY_SIZE(cases)];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		setup[i] = 0;
		if (cases[i].backend)
			setup[i] = kit_backend_setup(cases[i].backend,
						     ((size_t)SIZE_MB << 20) /
						     kit_page_size(),
						     why[i], sizeof(why[i]));
	}
	ktap_start(ARRAY_SIZE(cases),
		   "qemu-private-backend: %d MiB of guest RAM, prealloc=on (C1)",
		   SIZE_MB);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (access(QEMU, X_OK))
			ktap_skip(cases[i].name, QEMU " not installed");
		else if (setup[i] > 0)
			ktap_skip(cases[i].name, why[i]);
		else if (setup[i] < 0)
			ktap_result(false, cases[i].name);
		else
			test_case(&cases[i]);
	}
	return ktap_exit_status();
}
