// SPDX-License-Identifier: GPL-2.0
/*
 * memcg-owners: which memory cgroup pays for a private store over a shmem
 * hole when the file belongs to another cgroup, and what the charge keeps
 * alive.
 *
 * Claim R11 of the RFC.  shmem allocates the page-cache folio of a private
 * write fault over a hole in the fault (shmem_fault(), SGP_CACHE) and
 * charges it to the faulting task's memory cgroup, not to the cgroup of
 * the task that made the file: on a stock kernel cgroup B, which only
 * stored privately, pays one page-cache page per store besides its COW
 * page, and that page-cache page outlives B's task as long as the file is
 * open.  With the series B pays only the COW page, which goes away with
 * B's task.
 *
 * The case ``memfd`` makes a parent cgroup holding two children, A and B.
 * A task in A creates a memfd and sets its size (1024 pages); a task in B
 * (moved there before it maps anything) opens the same file through
 * /proc/<A>/fd, maps it MAP_PRIVATE and stores one byte to each page.
 * Facts, the growth of memory.stat over B's stores in KiB: a_shmem_kb,
 * a_anon_kb, a_file_kb (0 on every kernel), b_shmem_kb, b_anon_kb,
 * b_file_kb; b_current_kb, the growth of B's memory.current; and, rounded
 * to an integer, b_shmem_pages_per_store (1 on stock, 0 with the series)
 * and b_anon_pages_per_store (1 on both).
 *
 * Then B's task exits and B is removed while A's task keeps the memfd open.
 * dying_at_rmdir is nr_dying_descendants of the parent's cgroup.stat right
 * after the rmdir(), dying_after_rmdir the same once it reached 0 or 10 s
 * passed (an offline memcg is freed from a workqueue and RCU callbacks,
 * which a loaded TCG guest has been seen to take over 3 s to run): 1
 * where the page-cache pages still charged to B keep it alive as a dying
 * cgroup, which a kernel charging folios to the memcg itself
 * (6.1, 6.12) shows on stock; 0 with the series, whose B holds no page
 * once its task is gone, and 0 on a kernel that reparents the folios of
 * a cgroup going offline to its parent (7.3: memcg_reparent_objcgs()
 * moves its LRU folios, whose charge is an obj_cgroup).  Then A closes
 * the memfd: dying_after_close, measured the same way, is 0 on every
 * kernel.  The case fails only when it cannot measure.  It skips when not
 * run as root, or without CAP_SYS_ADMIN or a cgroup v2 memory controller.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"
#include "memcg.h"

#define NR_STORES	1024
#define WAIT_MS		10000	/* each handshake with a task */
#define DYING_WAIT_MS	10000	/* for a dying cgroup to go */
#define POLL_MS		20

/* Messages of the handshakes, one byte each. */
#define MSG_READY	'r'	/* the task is in its cgroup */
#define MSG_GO		'g'	/* B: map and store */
#define MSG_DONE	'd'	/* B: stored to every page */
#define MSG_FAILED	'f'	/* B: a step failed */
#define MSG_CLOSE	'c'	/* A: close the memfd */
#define MSG_CLOSED	'C'	/* A: closed it */

/* A task of the case: a child process and the pipes to and from it. */
struct task {
	pid_t pid;
	int to;		/* write end: messages to the task */
	int from;	/* read end: messages from the task */
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Read an int from a pipe within @timeout_ms; 0, or -1. */
static int read_int(int fd, int timeout_ms, int *value)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	return read(fd, value, sizeof(*value)) == sizeof(*value) ? 0 : -1;
}

static bool send_msg(int fd, char msg)
{
	return write(fd, &msg, 1) == 1;
}

/* A's body: join @cg, make the file, hold it until told to close it. */
static void task_a(const char *cg, int to, int from)
{
	int fd;

	if (kit_memcg_write(cg, "cgroup.procs", "0"))
		_exit(2);
	fd = kit_memfd_create("memcg-owners", NR_STORES);
	if (fd < 0)
		_exit(3);
	/* Tell the parent the descriptor, for B to open through /proc. */
	if (write(to, &fd, sizeof(fd)) != sizeof(fd))
		_exit(4);
	if (kit_wait_byte(from, 6 * WAIT_MS) != MSG_CLOSE)
		_exit(5);
	close(fd);
	send_msg(to, MSG_CLOSED);
	/* Until the parent closes its end, or gives up. */
	kit_wait_byte(from, 2 * WAIT_MS);
	_exit(0);
}

/*
 * B's body: join @cg, then on MSG_GO map @path privately and store; exit
 * when the parent closes its end of the pipe.
 */
static void task_b(const char *cg, const char *path, int to, int from)
{
	size_t ps = kit_page_size(), i;
	char *p;
	int fd;

	if (kit_memcg_write(cg, "cgroup.procs", "0"))
		_exit(2);
	send_msg(to, MSG_READY);
	if (kit_wait_byte(from, WAIT_MS) != MSG_GO)
		_exit(3);
	fd = open(path, O_RDWR | O_CLOEXEC);
	p = fd < 0 ? NULL : kit_map(fd, NR_STORES, MAP_PRIVATE);
	if (!p) {
		send_msg(to, MSG_FAILED);
		_exit(4);
	}
	close(fd);
	for (i = 0; i < NR_STORES; i++)
		p[i * ps] = 1;
	send_msg(to, MSG_DONE);
	kit_wait_byte(from, WAIT_MS);
	_exit(0);
}

/* Fork task A (@is_a) or B; 0, or -1 with errno set. */
static int task_start(struct task *t, const char *cg, const char *path,
		      bool is_a)
{
	int to_task[2], from_task[2];

	t->pid = -1;
	t->to = -1;
	t->from = -1;
	if (pipe2(to_task, O_CLOEXEC))
		return -1;
	if (pipe2(from_task, O_CLOEXEC)) {
		close(to_task[0]);
		close(to_task[1]);
		return -1;
	}
	fflush(NULL);
	t->pid = fork();
	if (!t->pid) {
		close(to_task[1]);
		close(from_task[0]);
		if (is_a)
			task_a(cg, from_task[1], to_task[0]);
		task_b(cg, path, from_task[1], to_task[0]);
	}
	close(to_task[0]);
	close(from_task[1]);
	t->to = to_task[1];
	t->from = from_task[0];
	return t->pid < 0 ? -1 : 0;
}

/*
 * Let the task go (close its pipe, which ends its last wait), and reap it
 * within WAIT_MS; kill it if it is still there then.
 */
static void task_stop(struct task *t)
{
	int i, status;

	if (t->to >= 0)
		close(t->to);
	t->to = -1;
	for (i = 0; t->pid > 0 && i < WAIT_MS / POLL_MS; i++) {
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = -1;
			break;
		}
		sleep_ms(POLL_MS);
	}
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &status, 0);
		t->pid = -1;
	}
	if (t->from >= 0)
		close(t->from);
	t->from = -1;
}

/* nr_dying_descendants of @cg, or -1. */
static long long dying(const char *cg)
{
	return kit_memcg_key(cg, "cgroup.stat", "nr_dying_descendants");
}

/*
 * nr_dying_descendants of @cg once 0, or after DYING_WAIT_MS; how long it
 * took goes to the log, so a slow guest can be told from a held cgroup.
 */
static long long dying_settled(const char *cg, const char *what)
{
	long long n = dying(cg);
	int i;

	for (i = 0; n > 0 && i < DYING_WAIT_MS / POLL_MS; i++) {
		sleep_ms(POLL_MS);
		n = dying(cg);
	}
	ktap_diag("%s: %lld dying after %d ms", what, n, i * POLL_MS);
	return n;
}

struct stat_kb {
	long long shmem, anon, file, current;
};

static bool read_stat(const char *cg, struct stat_kb *s)
{
	s->shmem = kit_memcg_key(cg, "memory.stat", "shmem");
	s->anon = kit_memcg_key(cg, "memory.stat", "anon");
	s->file = kit_memcg_key(cg, "memory.stat", "file");
	s->current = kit_memcg_value(cg, "memory.current");
	return s->shmem >= 0 && s->anon >= 0 && s->file >= 0 &&
	       s->current >= 0;
}

static void report_delta(const char *who, const struct stat_kb *before,
			 const struct stat_kb *after)
{
	char key[32];

	snprintf(key, sizeof(key), "%s_shmem_kb", who);
	ktap_fact(key, "%lld", (after->shmem - before->shmem) >> 10);
	snprintf(key, sizeof(key), "%s_anon_kb", who);
	ktap_fact(key, "%lld", (after->anon - before->anon) >> 10);
	snprintf(key, sizeof(key), "%s_file_kb", who);
	ktap_fact(key, "%lld", (after->file - before->file) >> 10);
	snprintf(key, sizeof(key), "%s_current_kb", who);
	ktap_fact(key, "%lld", (after->current - before->current) >> 10);
}

/* The growth of a memory.stat counter in pages per store, rounded. */
static long long per_store(long long before, long long after)
{
	double x = (double)(after - before) / kit_page_size() / NR_STORES;

	return x < 0 ? -(long long)(0.5 - x) : (long long)(x + 0.5);
}

/* Make @parent (in the cgroup root) with children @a and @b. */
static int make_groups(char *parent, char *a, char *b, size_t len)
{
	if (kit_memcg_create(parent, len, "owners", 1LL << 40))
		return -1;
	snprintf(a, len, "%s/a", parent);
	snprintf(b, len, "%s/b", parent);
	if (kit_memcg_write(parent, "cgroup.subtree_control", "+memory") ||
	    mkdir(a, 0755)) {
		int err = errno;

		kit_memcg_destroy(parent);
		errno = err;
		return -1;
	}
	if (mkdir(b, 0755)) {
		int err = errno;

		kit_memcg_destroy(a);
		kit_memcg_destroy(parent);
		errno = err;
		return -1;
	}
	return 0;
}

static void test_owners(const char *name)
{
	struct task a = { -1, -1, -1 }, b = { -1, -1, -1 };
	long long at_rmdir, after_rmdir, after_close;
	char parent[400], cga[420], cgb[420], path[64];
	struct stat_kb a0, a1, b0, b1;
	bool ok = false, b_removed = false;
	int fd, c;

	if (make_groups(parent, cga, cgb, sizeof(cga))) {
		ktap_diag("%s: memory cgroups: %s", name, strerror(errno));
		ktap_result(false, name);
		return;
	}
	if (task_start(&a, cga, NULL, true)) {
		ktap_diag("%s: task A: %s", name, strerror(errno));
		goto out;
	}
	if (read_int(a.from, WAIT_MS, &fd)) {
		ktap_diag("%s: task A made no memfd in %s", name, cga);
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)a.pid, fd);
	if (task_start(&b, cgb, path, false)) {
		ktap_diag("%s: task B: %s", name, strerror(errno));
		goto out;
	}
	if (kit_wait_byte(b.from, WAIT_MS) != MSG_READY) {
		ktap_diag("%s: task B did not join %s", name, cgb);
		goto out;
	}
	if (!read_stat(cga, &a0) || !read_stat(cgb, &b0)) {
		ktap_diag("%s: memory.stat or memory.current unreadable", name);
		goto out;
	}
	send_msg(b.to, MSG_GO);
	c = kit_wait_byte(b.from, WAIT_MS);
	if (c != MSG_DONE) {
		ktap_diag("%s: task B %s", name, c == MSG_FAILED ?
			  "could not map the file" : "did not finish its stores");
		goto out;
	}
	if (!read_stat(cga, &a1) || !read_stat(cgb, &b1)) {
		ktap_diag("%s: memory.stat or memory.current unreadable", name);
		goto out;
	}
	ktap_fact("stores", "%d", NR_STORES);
	report_delta("a", &a0, &a1);
	report_delta("b", &b0, &b1);
	ktap_fact("b_shmem_pages_per_store", "%lld",
		  per_store(b0.shmem, b1.shmem));
	ktap_fact("b_anon_pages_per_store", "%lld",
		  per_store(b0.anon, b1.anon));

	/* B's task goes, then B, while A holds the file open. */
	task_stop(&b);
	kit_memcg_destroy(cgb);
	if (!access(cgb, F_OK)) {
		ktap_diag("%s: rmdir %s: %s", name, cgb, strerror(errno));
		goto out;
	}
	b_removed = true;
	at_rmdir = dying(parent);
	after_rmdir = dying_settled(parent, "rmdir");

	send_msg(a.to, MSG_CLOSE);
	if (kit_wait_byte(a.from, WAIT_MS) != MSG_CLOSED) {
		ktap_diag("%s: task A did not close the memfd", name);
		goto out;
	}
	after_close = dying_settled(parent, "close");
	if (at_rmdir < 0 || after_rmdir < 0 || after_close < 0) {
		ktap_diag("%s: %s/cgroup.stat has no nr_dying_descendants",
			  name, parent);
		goto out;
	}
	ktap_fact("dying_at_rmdir", "%lld", at_rmdir);
	ktap_fact("dying_after_rmdir", "%lld", after_rmdir);
	ktap_fact("dying_after_close", "%lld", after_close);
	ok = true;
out:
	task_stop(&b);
	task_stop(&a);
	if (!b_removed)
		kit_memcg_destroy(cgb);
	kit_memcg_destroy(cga);
	kit_memcg_destroy(parent);
	ktap_result(ok, name);
}

int main(void)
{
	char why[640] = "";
	bool usable;

	if (geteuid())
		snprintf(why, sizeof(why), "needs root to create memory cgroups");
	usable = !geteuid() && !kit_memcg_init(why, sizeof(why));
	ktap_start(1, "%s",
		   "memcg-owners: private stores by cgroup B over holes of a file of cgroup A (R11)");
	if (usable)
		test_owners("memfd");
	else
		ktap_skip("memfd", why);
	return ktap_exit_status();
}
