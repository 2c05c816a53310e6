// SPDX-License-Identifier: GPL-2.0
/*
 * truncate-race-window: truncate the file while a private write fault over
 * a hole sits between its page-cache lookup and its PTE install.
 *
 * Hazard "truncation" of the RFC (H3): with the reference series a private
 * write fault over a shmem hole zeroes its COW page and maps it holding no
 * locked page-cache page, so nothing but i_size orders it against a racing
 * ftruncate().  The series rechecks i_size under the PTE lock when it maps
 * a hole (v2, 7.3: __finish_fault(vmf, hole) after VM_FAULT_HOLE; v1, 6.1:
 * finish_fault() when vmf->page is NULL): a fault that found the hole
 * before the truncation then gives up and is retried, and the retry raises
 * SIGBUS.  Without it the COW page is mapped after the truncation zapped
 * the range and stays mapped beyond EOF, where the contract is SIGBUS.
 *
 * The window is a few instructions wide.  The debug-only kernels of
 * kernel-patch/alternatives/v<ver>/race-window/ (never for merging) sleep
 * 300 ms right before the hole is mapped when the faulting task is named
 * "kit-race-probe": there the truncation lands in the window every time.
 * On every other kernel the store completes long before the truncation,
 * and the scenario only measures that nothing is mapped beyond EOF either.
 *
 * Each round maps a fresh memfd of NR_PAGES holes MAP_PRIVATE.  A thread
 * named "kit-race-probe" stores to the hole page PROBE_PAGE; the main
 * thread waits SETTLE_MS after the probe said it is about to store, so
 * that the probe is inside the window, truncates the file to CUT_PAGES
 * pages and notes when ftruncate() returned.  Once the probe's store has
 * returned, or raised SIGBUS, the main thread reads the page through the
 * private mapping: it must raise SIGBUS.
 *
 * Facts, over ROUNDS rounds: store_sigbus (the probe's store raised
 * SIGBUS in a round), mapped_beyond_eof (the read after the truncation
 * completed succeeded in a round: 1 is the bug), in_window (ftruncate()
 * returned before the store did, in every round), window_ms (the longest
 * time the store took; about 300 on the race-window kernels), and the
 * per-round counts.  The case passes if every round completed within its
 * timeouts; the models judge the facts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>

#include "kit.h"
#include "sigbus.h"

#define NR_PAGES	4
#define PROBE_PAGE	3	/* the hole the probe stores to */
#define CUT_PAGES	1	/* the size truncated to, below PROBE_PAGE */
#define ROUNDS		3

#define PROBE_NAME	"kit-race-probe"
#define PROBE_BYTE	0x5a

#define SETTLE_MS	100	/* the probe is in its fault by then */
#define STEP_TIMEOUT_MS	5000	/* bound of every wait for the probe */
#define ALARM_SECONDS	60	/* last resort: the process ends */

/* What the probe sends through its pipe. */
#define MSG_READY	'r'	/* named; the store comes next */
#define MSG_DONE	'd'	/* the store returned or raised SIGBUS */
#define MSG_FAILED	'f'	/* prctl() failed: no store */

/**
 * struct probe - one round's probe thread and what it saw
 * @addr: the byte it stores PROBE_BYTE to
 * @wr: write end of the pipe to the main thread
 * @t_start: CLOCK_MONOTONIC when the store began, in ns
 * @t_end: CLOCK_MONOTONIC when it returned or raised SIGBUS, in ns
 * @sigbus: the store raised SIGBUS
 */
struct probe {
	unsigned char *addr;
	int wr;
	long long t_start;
	long long t_end;
	bool sigbus;
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Tell the main thread @msg; it notices a lost message by its timeout. */
static void send_msg(int fd, char msg)
{
	ssize_t n = write(fd, &msg, 1);

	(void)n;
}

static void *probe_thread(void *arg)
{
	struct probe *pr = arg;

	if (prctl(PR_SET_NAME, PROBE_NAME, 0, 0, 0)) {
		send_msg(pr->wr, MSG_FAILED);
		return NULL;
	}
	send_msg(pr->wr, MSG_READY);
	pr->t_start = now_ns();
	pr->sigbus = kit_try_store(pr->addr, PROBE_BYTE) < 0;
	pr->t_end = now_ns();
	send_msg(pr->wr, MSG_DONE);
	return NULL;
}

/**
 * struct round - what one round measured
 * @store_sigbus: the probe's store raised SIGBUS
 * @mapped_beyond_eof: the read after the truncation did not
 * @in_window: ftruncate() returned before the probe's store did
 * @window_ns: how long the probe's store took
 * @stuck: the probe did not finish in time; its thread and mapping are
 *	left behind, so no further round may run
 */
struct round {
	bool store_sigbus;
	bool mapped_beyond_eof;
	bool in_window;
	long long window_ns;
	bool stuck;
};

/* Run round @n; 0 if it completed within its timeouts, else -1. */
static int run_round(int n, struct round *res)
{
	size_t ps = kit_page_size();
	struct probe pr = { 0 };
	long long t_trunc;
	unsigned char val = 0;
	unsigned char *p;
	pthread_t tid;
	int pfd[2], fd, msg, err;

	memset(res, 0, sizeof(*res));
	fd = kit_memfd_create("truncate-race-window", NR_PAGES);
	if (fd < 0) {
		ktap_diag("round %d: memfd: %s", n, strerror(errno));
		return -1;
	}
	p = kit_map(fd, NR_PAGES, MAP_PRIVATE);
	if (!p) {
		ktap_diag("round %d: mmap: %s", n, strerror(errno));
		close(fd);
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC)) {
		ktap_diag("round %d: pipe: %s", n, strerror(errno));
		goto out_unmap;
	}
	pr.addr = p + PROBE_PAGE * ps;
	pr.wr = pfd[1];
	err = pthread_create(&tid, NULL, probe_thread, &pr);
	if (err) {
		ktap_diag("round %d: pthread_create: %s", n, strerror(err));
		goto out_pipe;
	}

	msg = kit_wait_byte(pfd[0], STEP_TIMEOUT_MS);
	if (msg != MSG_READY) {
		ktap_diag("round %d: the probe %s", n,
			  msg == MSG_FAILED ? "could not name itself" :
			  "did not start in time");
		goto out_stuck;
	}
	sleep_ms(SETTLE_MS);
	if (ftruncate(fd, CUT_PAGES * ps)) {
		ktap_diag("round %d: ftruncate: %s", n, strerror(errno));
		goto out_stuck;
	}
	t_trunc = now_ns();
	if (kit_wait_byte(pfd[0], STEP_TIMEOUT_MS) != MSG_DONE) {
		ktap_diag("round %d: the probe's store did not return in %d ms",
			  n, STEP_TIMEOUT_MS);
		goto out_stuck;
	}
	pthread_join(tid, NULL);

	res->store_sigbus = pr.sigbus;
	res->window_ns = pr.t_end - pr.t_start;
	res->in_window = t_trunc < pr.t_end;
	res->mapped_beyond_eof = !kit_try_load(pr.addr, &val);
	ktap_diag("round %d: store %s after %.1f ms, %s ftruncate() returned",
		  n, pr.sigbus ? "raised SIGBUS" : "returned",
		  res->window_ns / 1e6, res->in_window ? "after" : "before");
	ktap_diag("round %d: read beyond EOF: %s", n,
		  res->mapped_beyond_eof ? "mapped" : "SIGBUS");
	if (res->mapped_beyond_eof)
		ktap_diag("round %d: it reads %#x (the probe stored %#x)",
			  n, val, PROBE_BYTE);
	close(pfd[0]);
	close(pfd[1]);
	munmap(p, NR_PAGES * ps);
	close(fd);
	return 0;

out_stuck:
	/*
	 * The probe may still be inside its fault: leave it, its pipe and
	 * its mapping alone; the process ends soon.
	 */
	pthread_detach(tid);
	res->stuck = true;
	return -1;
out_pipe:
	close(pfd[0]);
	close(pfd[1]);
out_unmap:
	munmap(p, NR_PAGES * ps);
	close(fd);
	return -1;
}

static void test_memfd(void)
{
	int sigbus = 0, mapped = 0, in_window = 0, done = 0, n;
	long long window_ns = 0;
	struct round res;
	bool ok = true;

	for (n = 0; n < ROUNDS; n++) {
		if (run_round(n, &res)) {
			ok = false;
			if (res.stuck)
				break;
			continue;
		}
		done++;
		sigbus += res.store_sigbus;
		mapped += res.mapped_beyond_eof;
		in_window += res.in_window;
		if (res.window_ns > window_ns)
			window_ns = res.window_ns;
	}
	ktap_fact("rounds", "%d", done);
	if (done) {
		ktap_fact("store_sigbus", "%d", sigbus > 0);
		ktap_fact("mapped_beyond_eof", "%d", mapped > 0);
		ktap_fact("in_window", "%d", in_window == done);
		ktap_fact("window_ms", "%.1f", window_ns / 1e6);
		ktap_fact("store_sigbus_rounds", "%d", sigbus);
		ktap_fact("mapped_beyond_eof_rounds", "%d", mapped);
		ktap_fact("in_window_rounds", "%d", in_window);
	}
	ktap_result(ok && done == ROUNDS, "memfd");
}

int main(void)
{
	struct utsname u;

	ktap_header(1);
	if (!uname(&u))
		ktap_diag("kernel: %s %s", u.release, u.machine);
	ktap_diag("truncate-race-window: %s",
		  "ftruncate() inside a private write fault over a hole (H3)");

	alarm(ALARM_SECONDS);
	if (kit_sigbus_catch()) {
		ktap_diag("sigaction: %s", strerror(errno));
		ktap_result(false, "memfd");
		return ktap_exit_status();
	}
	test_memfd();
	return ktap_exit_status();
}
