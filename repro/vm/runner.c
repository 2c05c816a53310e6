// SPDX-License-Identifier: GPL-2.0
/*
 * runner - run reproducers and tests one after another and print one
 * KTAP document for all of them, in the guest and on the host alike.
 *
 *   runner [-t SECONDS] PLAN
 *
 * PLAN has one line per test: "MODE NAME PATH [ARG...]", whitespace
 * separated.  MODE "ktap": the program prints KTAP, which is nested
 * (indented four spaces) under the top-level result.  MODE "exit": the
 * program prints free text (the kernel's own selftests), which is relayed
 * as "# " diagnostics, and its exit status is the verdict: 0 ok, 4
 * (KSFT_SKIP) skip, anything else not ok.  A program that exits non-zero,
 * is killed by a signal or outlives its timeout is "not ok", preceded by a
 * diagnostic saying which; a timed-out program is killed with its process
 * group, so the run always ends; "MODE/SECONDS" gives one test a timeout
 * of its own.  Output is written with write(2) line by line: in the
 * guest it goes to a serial port and must survive a crash of the next
 * test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
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

#define KSFT_SKIP	4
#define MAX_ARGS	16

struct entry {
	bool ktap;
	int timeout;		/* seconds; 0: the runner's -t */
	char *name;
	char *argv[MAX_ARGS + 1];
};

/* PF_EXITING from include/linux/sched.h: the task is in do_exit(). */
#define PF_EXITING	0x00000004
#define STUCK_SECONDS	3

/*
 * True if @pid is inside do_exit().  A task the kernel oopsed on while it
 * held its mmap lock stays there forever, with our pipe still open and
 * deaf to SIGKILL: no amount of waiting brings its EOF.
 */
static bool exiting(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long flags;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* Field 9, counted after the ")" that ends the command name. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return flags & PF_EXITING;
}

/*
 * Copy the child's output until EOF or the deadline, each line prefixed
 * with @prefix; count KTAP results when the output is KTAP.  Returns 0 at
 * EOF, -ETIMEDOUT at the deadline, -EDEADLK if the child is stuck exiting.
 */
static int relay(int fd, double deadline, const char *prefix,
		 struct child_ktap *k, pid_t pid)
{
	double stuck_since = 0;
	size_t plen = strlen(prefix);
	char buf[4096], line[8192];
	size_t len = 0;
	ssize_t n;
	int bol = 1;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ms = (deadline - now()) * 1000;

		if (ms <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, ms < 1000 ? ms : 1000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!exiting(pid))
				stuck_since = 0;
			else if (!stuck_since)
				stuck_since = now();
			else if (now() - stuck_since > STUCK_SECONDS)
				return -EDEADLK;
			continue;
		}
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (bol) {
				memcpy(line + len, prefix, plen);
				len += plen;
				bol = 0;
			}
			line[len++] = buf[i];
			if (buf[i] == '\n' || len >= sizeof(line) - 8) {
				line[len] = '\0';
				if (k)
					account(k, line + plen);
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

static int run_one(int num, struct entry *e, int timeout)
{
	const char *name = e->name;
	struct child_ktap k = { .plan = -1 };
	double t0 = now();
	int pfd[2], status = 0, ret;
	bool timed_out, stuck, reaped = false;
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
		execv(e->argv[0], e->argv);
		dprintf(STDOUT_FILENO, "exec %s: %s\n", e->argv[0],
			strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	ret = relay(pfd[0], t0 + timeout, e->ktap ? "    " : "# ",
		    e->ktap ? &k : NULL, pid);
	timed_out = ret == -ETIMEDOUT;
	stuck = ret == -EDEADLK;
	if (ret)
		kill(-pid, SIGKILL);
	close(pfd[0]);
	/* Bounded: a task stuck in the kernel is reported, not waited for. */
	for (int i = 0; i < 50 && !reaped; i++) {
		reaped = waitpid(pid, &status, WNOHANG) == pid;
		if (!reaped)
			usleep(100000);
	}

	/*
	 * Close the child's document if it died before its plan was met, so
	 * the whole stays valid KTAP (kunit.py cannot parse a short subtest).
	 */
	for (int i = k.results + 1; i <= k.plan; i++)
		out("    # case %d of %d never reported\n    not ok %d case-%d\n",
		    i, k.plan, i, i);
	out("# %s: %.2f s\n", name, now() - t0);
	if (stuck || !reaped) {
		out("# %s: stuck in do_exit() and never reaped: did the kernel oops on it?\n",
		    name);
	} else if (timed_out) {
		out("# %s: timed out after %d s, killed\n", name, timeout);
	} else if (WIFSIGNALED(status)) {
		out("# %s: killed by signal %d (%s)\n", name, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	} else if (!e->ktap && WEXITSTATUS(status) == KSFT_SKIP) {
		out("ok %d %s # SKIP exit status %d (KSFT_SKIP)\n", num, name,
		    KSFT_SKIP);
		return 0;
	} else if (WEXITSTATUS(status)) {
		out("# %s: exit status %d\n", name, WEXITSTATUS(status));
	} else {
		out("ok %d %s\n", num, name);
		return 0;
	}
	out("not ok %d %s\n", num, name);
	return 1;
}

/* Parse one plan line in place; return 0, or -1 if it is malformed. */
static int parse_entry(char *line, struct entry *e)
{
	char *mode = strtok(line, " \t\n");
	int n = 0;

	char *limit;

	e->name = strtok(NULL, " \t\n");
	if (!mode || !e->name)
		return -1;
	/* MODE/SECONDS: a test that needs longer than the others. */
	limit = strchr(mode, '/');
	e->timeout = 0;
	if (limit) {
		*limit++ = '\0';
		e->timeout = atoi(limit);
		if (e->timeout <= 0)
			return -1;
	}
	if (strcmp(mode, "ktap") && strcmp(mode, "exit"))
		return -1;
	e->ktap = !strcmp(mode, "ktap");
	while (n < MAX_ARGS && (e->argv[n] = strtok(NULL, " \t\n")))
		n++;
	e->argv[n] = NULL;
	return n ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct entry entries[256];
	char *lines[256];
	int timeout = 60, opt, failed = 0, n = 0;
	size_t cap = 0;
	char *line = NULL;
	FILE *plan;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't' || atoi(optarg) <= 0)
			goto usage;
		timeout = atoi(optarg);
	}
	if (optind != argc - 1)
		goto usage;
	plan = fopen(argv[optind], "r");
	if (!plan) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[optind],
			strerror(errno));
		return 2;
	}
	while (getline(&line, &cap, plan) > 0) {
		if (line[strspn(line, " \t\n")] == '\0' || line[0] == '#')
			continue;
		if (n == (int)ARRAY_SIZE(entries)) {
			fprintf(stderr, "%s: more than %zu tests\n", argv[0],
				ARRAY_SIZE(entries));
			return 2;
		}
		lines[n] = strdup(line);
		if (!lines[n] || parse_entry(lines[n], &entries[n])) {
			fprintf(stderr, "%s: %s: bad line: %s", argv[0],
				argv[optind], line);
			return 2;
		}
		n++;
	}
	fclose(plan);
	free(line);

	out("KTAP version 1\n1..%d\n", n);
	for (int i = 0; i < n; i++)
		failed += run_one(i + 1, &entries[i],
				  entries[i].timeout ?: timeout);
	return failed ? 1 : 0;

usage:
	fprintf(stderr, "usage: %s [-t SECONDS] PLAN\n", argv[0]);
	return 2;
}
