// SPDX-License-Identifier: GPL-2.0
/*
 * runner - run reproducers one after another and print their KTAP nested
 * under one top-level KTAP document, in the guest and on the host alike.
 *
 *   runner [-t SECONDS] NAME=PATH...
 *
 * Each reproducer's output is indented by four spaces and followed by
 * "ok N NAME" when it exited 0.  A reproducer that exits non-zero, is
 * killed by a signal or outlives its timeout is "not ok", preceded by a
 * diagnostic saying which; a timed-out reproducer is killed, so the run
 * always ends.  Output is written with write(2) line by line: in the guest
 * it goes to a serial port and must survive a crash of the next test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define __printf(a, b) __attribute__((format(printf, a, b)))

static void out(const char *fmt, ...) __printf(1, 2);

static void out(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (write(STDOUT_FILENO, buf, n) < 0)
		exit(3);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What the child's own KTAP promised and delivered. */
struct child_ktap {
	int plan;
	int results;
};

static void account(struct child_ktap *k, const char *line)
{
	if (k->plan < 0 && sscanf(line, "1..%d", &k->plan) == 1)
		return;
	if (!strncmp(line, "ok ", 3) || !strncmp(line, "not ok ", 7))
		k->results++;
}

/* Copy the child's output, indented, until EOF or the deadline. */
static int relay(int fd, double deadline, struct child_ktap *k)
{
	char buf[4096], line[8192];
	size_t len = 0;
	ssize_t n;
	int bol = 1;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ms = (deadline - now()) * 1000;

		if (ms <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, ms) <= 0) {
			if (errno == EINTR)
				continue;
			return -ETIMEDOUT;
		}
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (bol) {
				memcpy(line + len, "    ", 4);
				len += 4;
				bol = 0;
			}
			line[len++] = buf[i];
			if (buf[i] == '\n' || len >= sizeof(line) - 8) {
				line[len] = '\0';
				account(k, line + 4);
				if (write(STDOUT_FILENO, line, len) < 0)
					exit(3);
				len = 0;
				bol = buf[i] == '\n';
			}
		}
	}
	if (len) {
		line[len++] = '\n';
		if (write(STDOUT_FILENO, line, len) < 0)
			exit(3);
	}
	return 0;
}

static int run_one(int num, const char *name, const char *path, int timeout)
{
	struct child_ktap k = { .plan = -1 };
	double t0 = now();
	int pfd[2], status, timed_out;
	pid_t pid;

	if (pipe(pfd)) {
		out("# %s: pipe: %s\nnot ok %d %s\n", name, strerror(errno),
		    num, name);
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		out("# %s: fork: %s\nnot ok %d %s\n", name, strerror(errno),
		    num, name);
		return 1;
	}
	if (!pid) {
		/* A group of its own, so a timeout kills its children too. */
		setpgid(0, 0);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execl(path, path, (char *)NULL);
		dprintf(STDOUT_FILENO, "# exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	timed_out = relay(pfd[0], t0 + timeout, &k) == -ETIMEDOUT;
	if (timed_out)
		kill(-pid, SIGKILL);
	close(pfd[0]);
	waitpid(pid, &status, 0);

	/*
	 * Close the child's document if it died before its plan was met, so
	 * the whole stays valid KTAP (kunit.py cannot parse a short subtest).
	 */
	for (int i = k.results + 1; i <= k.plan; i++)
		out("    # case %d of %d never reported\n    not ok %d case-%d\n",
		    i, k.plan, i, i);
	out("# %s: %.2f s\n", name, now() - t0);
	if (timed_out) {
		out("# %s: timed out after %d s, killed\n", name, timeout);
	} else if (WIFSIGNALED(status)) {
		out("# %s: killed by signal %d (%s)\n", name, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	} else if (WEXITSTATUS(status)) {
		out("# %s: exit status %d\n", name, WEXITSTATUS(status));
	} else {
		out("ok %d %s\n", num, name);
		return 0;
	}
	out("not ok %d %s\n", num, name);
	return 1;
}

int main(int argc, char **argv)
{
	int timeout = 60, opt, failed = 0;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't' || atoi(optarg) <= 0) {
			fprintf(stderr, "usage: %s [-t SECONDS] NAME=PATH...\n",
				argv[0]);
			return 2;
		}
		timeout = atoi(optarg);
	}
	out("KTAP version 1\n1..%d\n", argc - optind);
	for (int i = optind; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq) {
			fprintf(stderr, "%s: want NAME=PATH, got %s\n",
				argv[0], argv[i]);
			return 2;
		}
		*eq = '\0';
		failed += run_one(i - optind + 1, argv[i], eq + 1, timeout);
	}
	return failed ? 1 : 0;
}
