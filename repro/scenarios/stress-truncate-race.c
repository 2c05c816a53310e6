// SPDX-License-Identifier: GPL-2.0
/*
 * stress-truncate-race: private write faults over holes against truncation,
 * hole punch, shared writes and userfaultfd, for a bounded time.
 *
 * Hazard H3 (rfc/hazards.rst): with the reference series a private write
 * fault over a shmem hole zeroes the COW page and maps it with no locked
 * page-cache page, so nothing but the i_size recheck under the PTE lock
 * (patch 0001) orders it against a racing ftruncate().  Without it, a
 * fault that looked the hole up before the cut can map its page after
 * shmem_setattr() zapped the range (twice), leaving a private page beyond
 * EOF that an access reaches instead of raising SIGBUS.  H4 and H5: hole
 * punch (the shmem_falloc wait) and fallocated folios that are not
 * uptodate race with the same faults; so do stores through a MAP_SHARED
 * mapping and UFFDIO_COPY into a MISSING-registered MAP_PRIVATE mapping
 * (H2; its own i_size recheck is in mfill_atomic_install_pte()).
 *
 * One memfd of KIT_STRESS_PAGES pages is mapped three times: MAP_PRIVATE
 * (the private writers), MAP_SHARED (the shared writer), MAP_PRIVATE
 * registered for userfaultfd MISSING (the uffd faulter, served by a thread
 * that places pages with UFFDIO_COPY).  Threads, all at once:
 *
 *   writer     stores a byte to each page of its slice of the private
 *              mapping, then MADV_DONTNEED's the slice, so every store that
 *              completes is a private write fault
 *   truncator  ftruncate()s the file down to a random size (often just the
 *              last pages; page-aligned or not), publishes the size and an
 *              odd generation, waits (bounded) for two prober rounds, makes
 *              the generation even and ftruncate()s the file back up
 *   prober     while the generation is odd, finds from /proc/self/pagemap
 *              the pages beyond that size that any of the three mappings
 *              maps, and a few random ones, and loads from them
 *   puncher    fallocate(PUNCH_HOLE | KEEP_SIZE) and fallocate(KEEP_SIZE)
 *              of random ranges
 *   shared     stores a byte to random pages of the MAP_SHARED mapping
 *   checker    pread()s the whole file and reads a random page of the
 *              shared mapping: a byte only the private mappings or
 *              UFFDIO_COPY ever hold is a leak; any byte no one writes is
 *              corrupt
 *   uffd       stores to each page of the uffd mapping, MADV_DONTNEED's it,
 *              and again; a server thread answers its MISSING events
 *
 * The contract checked: once ftruncate() has returned, an access beyond
 * the new EOF raises SIGBUS.  The prober's loads, and a load each storing
 * thread makes right after a store that completed while the file is cut
 * below its page (the store may have raced the cut), must all fault; one
 * that succeeds while the generation is unchanged is a beyond_eof_hit.
 * After the threads stop, a quiescent check cuts the file to half and
 * loads every page beyond EOF of each mapping.
 *
 * The run lasts at least KIT_STRESS_SECONDS and until the writers made
 * KIT_STRESS_MIN_FAULTS private faults, but never longer than
 * KIT_STRESS_MAX_SECONDS; under lockdep or KASAN, whose faults are several
 * times slower, KIT_STRESS_MIN_FAULTS_DEBUG and KIT_STRESS_MAX_SECONDS_DEBUG
 * (the harness gives such a guest three times the time per reproducer).
 * Defaults below, each overridable by the environment variable of its name.
 *
 * The pair case narrows that to one race, run again and again on two CPUs
 * at once: a private store over a hole on one CPU, an ftruncate() cutting
 * that page off on another, released together.  Its outcome is one of
 * three: the store raises SIGBUS (the cut came first), the store completes
 * and the page is gone after the cut (the zap found it), or the page is
 * still mapped after ftruncate() returned: a beyond-EOF hit.  The release
 * of the two sides is steered to the boundary between the first two
 * outcomes (the start of the truncator moves later after a SIGBUS, earlier
 * after a zap, with a random spread), which is where the window is.  With
 * fewer than two online CPUs the two sides never run at once and the case
 * is skipped, not judged.  Measured: on the race-no-recheck kernel (the
 * COW-only hole path without the i_size recheck) it reports hits within
 * seconds; see models.tsv.
 *
 * Facts: private_faults, enough_faults (private_faults reached the
 * threshold), beyond_eof_hits (and by thread kind), leaks, corrupt, the
 * SIGBUS counts and the iterations of each thread kind.  The case passes
 * if leaks and corrupt are 0, enough_faults is 1 and every thread ended;
 * beyond_eof_hits is for the kernel's model to judge (0 on stock and with
 * the series); console splats (lockdep, KASAN, DEBUG_VM) are the
 * harness's to catch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "kit.h"
#include "sigbus.h"

/*
 * Defaults, each overridable at build time (-D) and at run time by the
 * environment variable of its name.
 */
#ifndef KIT_STRESS_SECONDS
#define KIT_STRESS_SECONDS	3	/* least run time */
#endif
#ifndef KIT_STRESS_MAX_SECONDS
#define KIT_STRESS_MAX_SECONDS	50	/* most run time */
#endif
#ifndef KIT_STRESS_MAX_SECONDS_DEBUG
#define KIT_STRESS_MAX_SECONDS_DEBUG 150 /* the same, lockdep or KASAN */
#endif
#ifndef KIT_STRESS_MIN_FAULTS
#define KIT_STRESS_MIN_FAULTS	100000	/* private faults to reach */
#endif
#ifndef KIT_STRESS_MIN_FAULTS_DEBUG
#define KIT_STRESS_MIN_FAULTS_DEBUG 100000 /* the same, lockdep or KASAN */
#endif
#ifndef KIT_STRESS_WRITERS
#define KIT_STRESS_WRITERS	2	/* private writer threads */
#endif
#ifndef KIT_STRESS_PAGES
#define KIT_STRESS_PAGES	64	/* size of the file */
#endif

#define MAX_WRITERS		16
#define MAX_PAGES		4096
#define JOIN_SECONDS		10	/* bound of each join at the end */
#define PROBE_WAIT_NS		20000000L	/* truncator waits for the prober */
#define PROBE_ROUNDS		2	/* prober rounds per truncated size */
#define TRUNC_PAUSE_NS		500000L	/* full size between truncations */
#define TRUNC_NEAR_PAGES	4	/* half the truncations cut this few */
#define SIDE_PAUSE_NS		100000L	/* puncher, shared writer, checker */
#define SHARED_ZAP_PAGES	2	/* the shared writer zaps, to fault again */
#define MONITOR_NS		20000000L
#define IDLE_NS			10000000L	/* prober's wait for a new size */
#define RANDOM_PROBES		2	/* random accesses per probe round */
#define MAX_HIT_DIAGS		8
#define PUNCH_MAX_PAGES		8

#define PRIVATE_BYTE		0xa5	/* the private writers' stores */
#define UFFD_BYTE		0xc3	/* the pages UFFDIO_COPY places */
#define UFFD_STORE_BYTE		0x3c	/* the uffd faulter's stores */
#define SHARED_BYTE		0x5a	/* the shared writer's stores */

#ifndef BIT_ULL
#define BIT_ULL(nr)		(1ULL << (nr))
#endif

#define PM_PRESENT		BIT_ULL(63)

enum { MAP_PRIV, MAP_SHR, MAP_UFFD, NR_MAPS };

static const char *const map_names[NR_MAPS] = {
	"private", "shared", "uffd",
};

/* Counters of one thread; the totals are summed once all have ended. */
struct counters {
	unsigned long iterations;
	unsigned long faults;		/* writer: stores that completed */
	unsigned long sigbus;
	unsigned long hits;		/* beyond_eof_hits */
	unsigned long inconclusive;	/* the size changed meanwhile */
	unsigned long timeouts;		/* truncator: prober too slow */
	unsigned long fallocs;		/* puncher: allocations */
	unsigned long leaks;		/* checker */
	unsigned long corrupt;		/* checker */
	unsigned long long file_pages;	/* checker: sum of samples */
	unsigned long copies;		/* server */
	unsigned long copy_beyond_eof;	/* server: UFFDIO_COPY -EFAULT */
	unsigned long copy_eexist;	/* server */
	unsigned long errors;
};

struct stress;

struct worker {
	struct stress *s;
	const char *kind;
	void *(*fn)(void *arg);
	unsigned int index;
	unsigned long long rnd;
	pthread_t thread;
	bool started;
	bool joined;
	struct counters c;
	unsigned long published;	/* writer: faults, read by main */
};

struct stress {
	int fd;
	int pagemap;
	int uffd;
	size_t pages;
	size_t ps;
	unsigned int writers;
	unsigned char *map[NR_MAPS];
	unsigned char *uffd_src;
	int stop;
	int server_stop;
	unsigned int gen;		/* odd: truncated to small_size */
	unsigned long small_size;
	unsigned int probed;		/* the prober's gen << 8 | rounds */
	int hit_diags;
};

static bool stopping(const int *flag)
{
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

static unsigned long long rnd_next(unsigned long long *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static size_t rnd_below(unsigned long long *x, size_t n)
{
	return n ? rnd_next(x) % n : 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pause_ns(long ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ns };

	nanosleep(&ts, NULL);
}

/* Sleep while *@word is @val, at most @ns. */
static void futex_wait(unsigned int *word, unsigned int val, long ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000L,
			       .tv_nsec = ns % 1000000000L };

	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake(unsigned int *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static unsigned long env_ulong(const char *name, unsigned long def,
			       unsigned long min, unsigned long max)
{
	const char *v = getenv(name);
	unsigned long n;
	char *end;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtoul(v, &end, 0);
	if (errno || *end || n < min || n > max) {
		ktap_diag("%s=%s ignored: not in %lu..%lu", name, v, min, max);
		return def;
	}
	return n;
}

/* ------------------------------------------------------------- threads */

static void report_hit(struct stress *s, int map, size_t page,
		       unsigned long size, unsigned char byte)
{
	if (__atomic_fetch_add(&s->hit_diags, 1, __ATOMIC_RELAXED) >=
	    MAX_HIT_DIAGS)
		return;
	ktap_diag("beyond EOF: %s mapping, page %zu read 0x%02x, i_size %lu",
		  map_names[map], page, byte, size);
}

/*
 * Access page @page of mapping @map, which lies beyond EOF of generation
 * @gen: it must raise SIGBUS.
 */
static void probe_page(struct worker *w, int map, size_t page,
		       unsigned int gen, unsigned long size)
{
	struct stress *s = w->s;
	unsigned char byte;

	if (kit_try_load(s->map[map] + page * s->ps, &byte)) {
		w->c.sigbus++;
		return;
	}
	if (__atomic_load_n(&s->gen, __ATOMIC_SEQ_CST) != gen) {
		w->c.inconclusive++;
		return;
	}
	w->c.hits++;
	report_hit(s, map, page, size, byte);
}

/*
 * Right after a store to page @page of mapping @map completed: if the file
 * is now cut (ftruncate() returned) below the page, the page must be gone
 * and a load must raise SIGBUS.  This catches a fault that raced the cut
 * and mapped its page after truncation zapped the range.
 */
static void check_after_store(struct worker *w, int map, size_t page)
{
	struct stress *s = w->s;
	unsigned long size;
	unsigned int gen;

	gen = __atomic_load_n(&s->gen, __ATOMIC_SEQ_CST);
	if (!(gen & 1))
		return;
	size = __atomic_load_n(&s->small_size, __ATOMIC_RELAXED);
	if (__atomic_load_n(&s->gen, __ATOMIC_SEQ_CST) != gen ||
	    page * s->ps < size)
		return;
	probe_page(w, map, page, gen, size);
}

static void *writer(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	size_t first = w->index * s->pages / s->writers;
	size_t end = (w->index + 1) * s->pages / s->writers;
	unsigned char *base = s->map[MAP_PRIV];
	size_t i;

	while (!stopping(&s->stop)) {
		for (i = first; i < end; i++) {
			if (kit_try_store(base + i * s->ps, PRIVATE_BYTE)) {
				w->c.sigbus++;
				continue;
			}
			w->c.faults++;
			check_after_store(w, MAP_PRIV, i);
		}
		if (madvise(base + first * s->ps, (end - first) * s->ps,
			    MADV_DONTNEED))
			w->c.errors++;
		w->c.iterations++;
		__atomic_store_n(&w->published, w->c.faults, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *truncator(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	off_t full = s->pages * s->ps;
	unsigned int gen, probed;
	double until, left;
	off_t size;

	while (!stopping(&s->stop)) {
		/*
		 * Half the cuts are short, so that the whole truncation fits
		 * in a fault's window more often; sizes within a page too.
		 */
		if (rnd_next(&w->rnd) & 2)
			size = s->pages - 1 -
			       rnd_below(&w->rnd, s->pages > TRUNC_NEAR_PAGES ?
					 TRUNC_NEAR_PAGES : s->pages);
		else
			size = rnd_below(&w->rnd, s->pages);
		size *= s->ps;
		if (rnd_next(&w->rnd) & 1)
			size += 1 + rnd_below(&w->rnd, s->ps - 1);
		if (ftruncate(s->fd, size)) {
			w->c.errors++;
			continue;
		}
		/* The size first, then the odd generation that vouches for it. */
		__atomic_store_n(&s->small_size, size, __ATOMIC_RELAXED);
		gen = __atomic_add_fetch(&s->gen, 1, __ATOMIC_SEQ_CST);
		futex_wake(&s->gen);

		/*
		 * Keep the size until the prober went over it twice: a racing
		 * fault may map its page while the first round runs.
		 */
		until = now() + PROBE_WAIT_NS / 1e9;
		for (;;) {
			probed = __atomic_load_n(&s->probed, __ATOMIC_ACQUIRE);
			if (probed >> 8 == (gen & 0xffffff) &&
			    (probed & 0xff) >= PROBE_ROUNDS)
				break;
			if (stopping(&s->stop))
				break;
			left = until - now();
			if (left <= 0) {
				w->c.timeouts++;
				break;
			}
			futex_wait(&s->probed, probed, left * 1e9);
		}

		/* Even before the file grows: the prober's size is void. */
		__atomic_add_fetch(&s->gen, 1, __ATOMIC_SEQ_CST);
		if (ftruncate(s->fd, full))
			w->c.errors++;
		w->c.iterations++;
		pause_ns(TRUNC_PAUSE_NS);
	}
	return NULL;
}

/* Pages from @first of mapping @map that a PTE maps: the candidates. */
static int probe_present(struct worker *w, int map, size_t first,
			 unsigned int gen, unsigned long size,
			 unsigned long long *pm)
{
	struct stress *s = w->s;
	size_t n = s->pages - first, i;
	off_t off = ((unsigned long)s->map[map] / s->ps + first) * sizeof(*pm);
	ssize_t got;

	got = pread(s->pagemap, pm, n * sizeof(*pm), off);
	if (got != (ssize_t)(n * sizeof(*pm)))
		return -1;
	for (i = 0; i < n; i++)
		if (pm[i] & PM_PRESENT)
			probe_page(w, map, first + i, gen, size);
	return 0;
}

static void *prober(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned int gen, last = 0, rounds = 0;
	unsigned long long *pm;
	unsigned long size;
	size_t first, k;
	int map;

	pm = calloc(s->pages, sizeof(*pm));
	if (!pm) {
		w->c.errors++;
		return NULL;
	}
	while (!stopping(&s->stop)) {
		gen = __atomic_load_n(&s->gen, __ATOMIC_SEQ_CST);
		if (gen != last) {
			last = gen;
			rounds = 0;
		}
		if (!(gen & 1) || rounds >= PROBE_ROUNDS) {
			futex_wait(&s->gen, gen, IDLE_NS);
			continue;
		}
		size = __atomic_load_n(&s->small_size, __ATOMIC_RELAXED);
		if (__atomic_load_n(&s->gen, __ATOMIC_SEQ_CST) != gen)
			continue;
		first = (size + s->ps - 1) / s->ps;
		for (map = 0; map < NR_MAPS && first < s->pages; map++) {
			if (!s->map[map])
				continue;
			if (s->pagemap >= 0 &&
			    probe_present(w, map, first, gen, size, pm))
				w->c.errors++;
			for (k = 0; k < RANDOM_PROBES; k++)
				probe_page(w, map, first +
					   rnd_below(&w->rnd, s->pages - first),
					   gen, size);
		}
		w->c.iterations++;
		rounds++;
		__atomic_store_n(&s->probed, (gen & 0xffffff) << 8 | rounds,
				 __ATOMIC_RELEASE);
		futex_wake(&s->probed);
	}
	free(pm);
	return NULL;
}

static void *puncher(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	size_t start, len;
	int mode;

	while (!stopping(&s->stop)) {
		start = rnd_below(&w->rnd, s->pages);
		len = 1 + rnd_below(&w->rnd, PUNCH_MAX_PAGES);
		mode = FALLOC_FL_KEEP_SIZE;
		if (rnd_next(&w->rnd) & 3)
			mode |= FALLOC_FL_PUNCH_HOLE;
		else
			w->c.fallocs++;
		if (fallocate(s->fd, mode, start * s->ps, len * s->ps))
			w->c.errors++;
		w->c.iterations++;
		pause_ns(SIDE_PAUSE_NS);
	}
	return NULL;
}

static void *shared_writer(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned char *base = s->map[MAP_SHR];
	size_t i;

	while (!stopping(&s->stop)) {
		i = rnd_below(&w->rnd, s->pages);
		if (kit_try_store(base + i * s->ps, SHARED_BYTE))
			w->c.sigbus++;
		else
			check_after_store(w, MAP_SHR, i);
		w->c.iterations++;
		/* Fault again now and then, and leave the CPU to the others. */
		i = rnd_below(&w->rnd, s->pages - SHARED_ZAP_PAGES + 1);
		if (!(w->c.iterations % 64) &&
		    madvise(base + i * s->ps, SHARED_ZAP_PAGES * s->ps,
			    MADV_DONTNEED))
			w->c.errors++;
		if (!(w->c.iterations % 8))
			pause_ns(SIDE_PAUSE_NS);
	}
	return NULL;
}

/* What a byte read from the file is: 0 fine, 1 leak, 2 corrupt. */
static int classify(unsigned char byte)
{
	switch (byte) {
	case 0:
	case SHARED_BYTE:
		return 0;
	case PRIVATE_BYTE:
	case UFFD_BYTE:
	case UFFD_STORE_BYTE:
		return 1;
	default:
		return 2;
	}
}

/* Count a page's bytes the file must never hold; zero words are skipped. */
static void check_page(struct worker *w, const unsigned char *p, size_t len)
{
	bool leak = false, corrupt = false;
	unsigned long long word;
	size_t i, j;

	for (i = 0; i < len; i += sizeof(word)) {
		if (i + sizeof(word) <= len) {
			memcpy(&word, p + i, sizeof(word));
			if (!word)
				continue;
		}
		for (j = i; j < len && j < i + sizeof(word); j++) {
			switch (classify(p[j])) {
			case 1:
				leak = true;
				break;
			case 2:
				corrupt = true;
				break;
			}
		}
	}
	w->c.leaks += leak;
	w->c.corrupt += corrupt;
}

static void *checker(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned char *buf, *page;
	struct stat st;
	ssize_t n;
	size_t i;

	buf = malloc(s->pages * s->ps);
	if (!buf) {
		w->c.errors++;
		return NULL;
	}
	while (!stopping(&s->stop)) {
		n = pread(s->fd, buf, s->pages * s->ps, 0);
		if (n < 0) {
			w->c.errors++;
			n = 0;
		}
		for (i = 0; i < (size_t)n; i += s->ps)
			check_page(w, buf + i,
				   (size_t)n - i < s->ps ? (size_t)n - i : s->ps);

		/* One page through the shared mapping (beyond EOF: SIGBUS). */
		page = s->map[MAP_SHR] + rnd_below(&w->rnd, s->pages) * s->ps;
		if (kit_try_copy(buf, page, s->ps))
			w->c.sigbus++;
		else
			check_page(w, buf, s->ps);

		if (!fstat(s->fd, &st))
			w->c.file_pages += kit_blocks_to_pages(st.st_blocks,
							       s->ps);
		w->c.iterations++;
		pause_ns(SIDE_PAUSE_NS);
	}
	free(buf);
	return NULL;
}

static void *uffd_faulter(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned char *base = s->map[MAP_UFFD];
	double t0, took;
	size_t i;

	while (!stopping(&s->stop)) {
		t0 = now();
		for (i = 0; i < s->pages && !stopping(&s->stop); i++) {
			if (kit_try_store(base + i * s->ps + 1, UFFD_STORE_BYTE)) {
				w->c.sigbus++;
				continue;
			}
			w->c.faults++;
			check_after_store(w, MAP_UFFD, i);
		}
		if (madvise(base, s->pages * s->ps, MADV_DONTNEED))
			w->c.errors++;
		w->c.iterations++;
		/* Half the time at most: the private writers come first. */
		took = now() - t0;
		pause_ns(took < 0.1 ? took * 1e9 : 100000000L);
	}
	return NULL;
}

static void uffd_wake(int uffd, unsigned long addr, size_t len)
{
	struct uffdio_range range = { .start = addr, .len = len };

	ioctl(uffd, UFFDIO_WAKE, &range);
}

/* Answer every MISSING event with UFFDIO_COPY, or wake the fault. */
static void *uffd_server(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	struct pollfd pfd = { .fd = s->uffd, .events = POLLIN };
	struct uffd_msg msg[16];
	unsigned long addr;
	ssize_t n;
	int i;

	while (!stopping(&s->server_stop)) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(s->uffd, msg, sizeof(msg));
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				w->c.errors++;
			continue;
		}
		for (i = 0; i < n / (ssize_t)sizeof(msg[0]); i++) {
			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			w->c.iterations++;
			addr = msg[i].arg.pagefault.address & ~(s->ps - 1);
			if (!kit_uffd_copy(s->uffd, addr, s->uffd_src)) {
				w->c.copies++;
				continue;
			}
			if (errno == EFAULT)
				w->c.copy_beyond_eof++;
			else if (errno == EEXIST)
				w->c.copy_eexist++;
			else if (errno != EAGAIN)
				w->c.errors++;
			/* The fault retries: SIGBUS beyond EOF, or the page. */
			uffd_wake(s->uffd, addr, s->ps);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ the pair */

#ifndef KIT_PAIR_SECONDS
#define KIT_PAIR_SECONDS	8	/* the pair race's run time */
#endif
#define PAIR_MAX_HITS		16	/* enough to say it happens */
#define PAIR_STEP_MAX		1048576L	/* turns: the steering's bound */
#define PAIR_WAIT_S		2.0	/* bound of each handshake */
#define PAIR_ONE_CPU \
	"fewer than two CPUs: the store and the cut would only interleave by preemption"
#define PAIR_HIT "beyond EOF: iteration %lu read 0x%02x after ftruncate() returned"

struct pair {
	int fd;
	unsigned char *map;
	size_t ps;
	unsigned int go;	/* iteration the truncator may start */
	unsigned int done;	/* iteration the truncator has cut */
	long delay;		/* truncator's delay in turns, < 0: the store's */
	int stop;
	int cpu;		/* where the truncator ran */
	unsigned long errors;
};

/* Burn @turns loop turns; the empty asm keeps the compiler from eliding it. */
static void spin(long turns)
{
	long i;

	for (i = 0; i < turns; i++)
		__asm__ __volatile__("" ::: "memory");
}

/* Spin until *@word reaches @val; false after PAIR_WAIT_S or on stop. */
static bool spin_until(const unsigned int *word, unsigned int val,
		       const int *stop)
{
	unsigned long turns = 0;
	double t0 = 0;

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != val) {
		if (stopping(stop))
			return false;
		if (++turns % 4096)
			continue;
		if (!t0)
			t0 = now();
		else if (now() - t0 > PAIR_WAIT_S)
			return false;
	}
	return true;
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static void *pair_truncator(void *arg)
{
	struct pair *p = arg;
	unsigned int i;
	long delay;

	for (i = 1; !stopping(&p->stop); i++) {
		if (!spin_until(&p->go, i, &p->stop))
			break;
		delay = __atomic_load_n(&p->delay, __ATOMIC_RELAXED);
		spin(delay > 0 ? delay : 0);
		if (ftruncate(p->fd, p->ps))
			p->errors++;
		__atomic_store_n(&p->done, i, __ATOMIC_RELEASE);
	}
	p->cpu = sched_getcpu();
	return NULL;
}

/* The two online CPUs the sides run on, or -1 with fewer than two. */
static int two_cpus(int cpu[2])
{
	cpu_set_t set;
	int c, n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpu[n++] = c;
	return n == 2 ? 0 : -1;
}

static void pair_race(unsigned long seconds, unsigned long max_hits)
{
	struct pair p = { .fd = -1, .ps = kit_page_size() };
	unsigned long iter = 0, sigbus = 0, zapped = 0, hits = 0;
	unsigned long long rnd = 0x2545f4914f6cdd1dULL;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned char *target, byte;
	pthread_t thread;
	double t0, elapsed;
	int cpu[2], err, faulter_cpu;
	long center = 0, step = 1, spread, delay, jitter;
	bool stored, last = false;

	ktap_fact("cpus_online", "%ld", online);
	if (online < 2 || two_cpus(cpu)) {
		ktap_skip("pair", PAIR_ONE_CPU);
		return;
	}
	p.fd = kit_memfd_create("stress-pair", 2);
	p.map = kit_map(p.fd, 2, MAP_PRIVATE);
	if (p.fd < 0 || !p.map) {
		ktap_diag("memfd or mmap: %s", strerror(errno));
		ktap_result(false, "pair");
		return;
	}
	target = p.map + p.ps;
	if (pin(cpu[0]))
		ktap_diag("sched_setaffinity(%d): %s", cpu[0], strerror(errno));
	err = pthread_create(&thread, NULL, pair_truncator, &p);
	if (err) {
		ktap_diag("pthread_create: %s", strerror(err));
		ktap_result(false, "pair");
		return;
	}
	/* The thread inherited cpu[0]: move it. */
	{
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu[1], &set);
		pthread_setaffinity_np(thread, sizeof(set), &set);
	}

	t0 = now();
	while (hits < max_hits && now() - t0 < seconds) {
		iter++;
		/*
		 * A spread of an eighth of the offset: the window is a part of
		 * the fault (zeroing the page, mapping it), whose length the
		 * offset has found.
		 */
		spread = (center < 0 ? -center : center) / 8 + 8;
		jitter = (long)rnd_below(&rnd, 2 * spread + 1) - spread;
		delay = center + jitter;
		__atomic_store_n(&p.delay, delay, __ATOMIC_RELAXED);
		__atomic_store_n(&p.go, (unsigned int)iter, __ATOMIC_RELEASE);
		spin(delay < 0 ? -delay : 0);
		stored = !kit_try_store(target, PRIVATE_BYTE);
		/*
		 * Steer to the boundary whatever a fault costs on this
		 * machine: after a SIGBUS the cut starts later, after a store
		 * earlier; the step doubles while the outcome repeats and
		 * halves when it turns, a bisection that keeps following.
		 */
		if (stored == last)
			step = step < PAIR_STEP_MAX ? 2 * step : step;
		else
			step = step > 1 ? step / 2 : 1;
		last = stored;
		center += stored ? -step : step;
		if (!spin_until(&p.done, (unsigned int)iter, &p.stop)) {
			ktap_diag("the truncator did not cut within %.0f s",
				  PAIR_WAIT_S);
			p.errors++;
			break;
		}
		/* ftruncate() has returned: the page must be gone. */
		if (!stored) {
			sigbus++;
		} else if (kit_try_load(target, &byte)) {
			zapped++;
		} else {
			hits++;
			if (hits <= 3)
				ktap_diag(PAIR_HIT, iter, byte);
		}
		if (ftruncate(p.fd, 2 * p.ps) ||
		    madvise(target, p.ps, MADV_DONTNEED))
			p.errors++;
	}
	elapsed = now() - t0;
	faulter_cpu = sched_getcpu();
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);

	ktap_fact("pair_cpus", "%d,%d", faulter_cpu, p.cpu);
	ktap_fact("pair_iterations", "%lu", iter);
	ktap_fact("pair_seconds", "%.1f", elapsed);
	ktap_fact("pair_per_second", "%.0f", iter / elapsed);
	ktap_fact("pair_release_offset", "%ld", center);
	ktap_fact("pair_store_sigbus", "%lu", sigbus);
	ktap_fact("pair_zapped", "%lu", zapped);
	ktap_fact("pair_beyond_eof_hits", "%lu", hits);
	ktap_fact("raced_beyond_eof", "%d", hits > 0);
	ktap_fact("pair_errors", "%lu", p.errors);
	munmap(p.map, 2 * p.ps);
	close(p.fd);
	/*
	 * Measured is ok: a hit is a fact, which the model of the kernel
	 * judges (none on stock and with the series, some without the
	 * recheck, where finding them is the point).
	 */
	ktap_result(!p.errors, "pair");
}

/* ---------------------------------------------------------------- main */

#define SYSLOG_ACTION_READ_ALL		3
#define SYSLOG_ACTION_SIZE_BUFFER	10

/*
 * Under lockdep (/proc/lockdep) or KASAN (its boot message) a fault costs
 * several times more under TCG, and on a loaded host more again (the
 * distro debug kernel beside a kernel build: 1,300 faults/s, 64,710 in
 * 50 s): such a kernel gets KIT_STRESS_MIN_FAULTS_DEBUG and
 * KIT_STRESS_MAX_SECONDS_DEBUG.
 */
static bool debug_kernel(void)
{
	static const char kasan[] = "KernelAddressSanitizer initialized";
	bool found = false;
	char *log;
	int len;

	if (!access("/proc/lockdep", F_OK))
		return true;
	len = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
	if (len <= 0)
		return false;
	log = malloc(len);
	if (!log)
		return false;
	len = klogctl(SYSLOG_ACTION_READ_ALL, log, len);
	if (len > 0)
		found = memmem(log, len, kasan, sizeof(kasan) - 1);
	free(log);
	return found;
}

enum {
	W_TRUNCATOR, W_PROBER, W_PUNCHER, W_SHARED, W_CHECKER, W_UFFD,
	W_SERVER, W_WRITER,
};

static const struct {
	const char *kind;
	void *(*fn)(void *arg);
} kinds[] = {
	[W_TRUNCATOR] = { "truncator", truncator },
	[W_PROBER] = { "prober", prober },
	[W_PUNCHER] = { "puncher", puncher },
	[W_SHARED] = { "shared", shared_writer },
	[W_CHECKER] = { "checker", checker },
	[W_UFFD] = { "uffd", uffd_faulter },
	[W_SERVER] = { "server", uffd_server },
	[W_WRITER] = { "writer", writer },
};

static unsigned long private_faults(const struct worker *w, size_t n)
{
	unsigned long sum = 0;
	size_t i;

	for (i = W_WRITER; i < n; i++)
		sum += __atomic_load_n(&w[i].published, __ATOMIC_RELAXED);
	return sum;
}

/* Join @w by @deadline (CLOCK_REALTIME); false if it did not end. */
static bool join(struct worker *w, const struct timespec *deadline)
{
	if (!w->started || w->joined)
		return true;
	w->joined = !pthread_timedjoin_np(w->thread, NULL, deadline);
	if (!w->joined)
		ktap_diag("%s thread %u did not end within %d s",
			  w->kind, w->index, JOIN_SECONDS);
	return w->joined;
}

/*
 * With every thread stopped: truncate to half and access every page beyond
 * EOF of each mapping; each access must raise SIGBUS.
 */
static unsigned long final_check(struct stress *s, unsigned long *sigbus)
{
	size_t half = s->pages / 2, i;
	unsigned long hits = 0;
	unsigned char byte;
	int map;

	if (ftruncate(s->fd, half * s->ps))
		return 0;
	for (map = 0; map < NR_MAPS; map++) {
		if (!s->map[map])
			continue;
		for (i = half; i < s->pages; i++) {
			if (kit_try_load(s->map[map] + i * s->ps, &byte)) {
				(*sigbus)++;
				continue;
			}
			hits++;
			ktap_diag("beyond EOF after the run: %s mapping, page %zu read 0x%02x",
				  map_names[map], i, byte);
		}
	}
	return hits;
}

static int setup_uffd(struct stress *s)
{
	bool user_only;

	s->uffd = kit_uffd_open(&user_only);
	if (s->uffd < 0)
		return -1;
	if (kit_uffd_api(s->uffd) ||
	    kit_uffd_register_missing(s->uffd, s->map[MAP_UFFD],
				      s->pages * s->ps)) {
		close(s->uffd);
		s->uffd = -1;
		return -1;
	}
	return 0;
}

static void sum(struct counters *t, const struct counters *c)
{
	t->iterations += c->iterations;
	t->faults += c->faults;
	t->sigbus += c->sigbus;
	t->hits += c->hits;
	t->inconclusive += c->inconclusive;
	t->timeouts += c->timeouts;
	t->fallocs += c->fallocs;
	t->leaks += c->leaks;
	t->corrupt += c->corrupt;
	t->file_pages += c->file_pages;
	t->copies += c->copies;
	t->copy_beyond_eof += c->copy_beyond_eof;
	t->copy_eexist += c->copy_eexist;
	t->errors += c->errors;
}

struct config {
	bool debug;
	unsigned long seconds;
	unsigned long max_seconds;
	unsigned long min_faults;
	unsigned long writers;
	unsigned long pages;
};

static void facts(const struct stress *s, const struct config *cfg,
		  const struct worker *w, size_t nr, double seconds,
		  long minflt, unsigned long final_hits,
		  unsigned long final_sigbus, int stuck)
{
	struct counters k[W_WRITER + 1] = { 0 }, all = { 0 };
	unsigned long faults, leaks, corrupt, hits;
	size_t i;

	for (i = 0; i < nr; i++)
		sum(&k[i < W_WRITER ? i : W_WRITER], &w[i].c);
	for (i = 0; i <= W_WRITER; i++)
		sum(&all, &k[i]);

	faults = k[W_WRITER].faults;
	hits = all.hits + final_hits;
	leaks = k[W_CHECKER].leaks;
	corrupt = k[W_CHECKER].corrupt;

	ktap_fact("pages", "%zu", s->pages);
	ktap_fact("writers", "%u", s->writers);
	ktap_fact("seconds", "%.1f", seconds);
	ktap_fact("private_faults", "%lu", faults);
	ktap_fact("min_faults", "%lu", cfg->min_faults);
	ktap_fact("debug_kernel", "%d", cfg->debug);
	ktap_fact("enough_faults", "%d", faults >= cfg->min_faults);
	ktap_fact("minflt", "%ld", minflt);
	ktap_fact("writer_sweeps", "%lu", k[W_WRITER].iterations);
	ktap_fact("truncations", "%lu", k[W_TRUNCATOR].iterations);
	ktap_fact("probe_rounds", "%lu", k[W_PROBER].iterations);
	ktap_fact("probe_timeouts", "%lu", k[W_TRUNCATOR].timeouts);
	ktap_fact("probes_inconclusive", "%lu", all.inconclusive);
	ktap_fact("beyond_eof_hits", "%lu", hits);
	ktap_fact("prober_beyond_eof_hits", "%lu", k[W_PROBER].hits);
	ktap_fact("writer_beyond_eof_hits", "%lu", k[W_WRITER].hits);
	ktap_fact("shared_beyond_eof_hits", "%lu", k[W_SHARED].hits);
	ktap_fact("uffd_beyond_eof_hits", "%lu", k[W_UFFD].hits);
	ktap_fact("final_beyond_eof_hits", "%lu", final_hits);
	ktap_fact("punches", "%lu",
		  k[W_PUNCHER].iterations - k[W_PUNCHER].fallocs);
	ktap_fact("fallocs", "%lu", k[W_PUNCHER].fallocs);
	ktap_fact("shared_writes", "%lu", k[W_SHARED].iterations);
	ktap_fact("leak_checks", "%lu", k[W_CHECKER].iterations);
	ktap_fact("leaks", "%lu", leaks);
	ktap_fact("corrupt", "%lu", corrupt);
	if (k[W_CHECKER].iterations)
		ktap_fact("file_pages_avg", "%.1f",
			  (double)k[W_CHECKER].file_pages /
			  k[W_CHECKER].iterations);
	ktap_fact("uffd", "%d", s->uffd >= 0);
	ktap_fact("uffd_stores", "%lu", k[W_UFFD].faults);
	ktap_fact("uffd_sweeps", "%lu", k[W_UFFD].iterations);
	ktap_fact("uffd_events", "%lu", k[W_SERVER].iterations);
	ktap_fact("uffd_copies", "%lu", k[W_SERVER].copies);
	ktap_fact("uffd_copy_beyond_eof", "%lu", k[W_SERVER].copy_beyond_eof);
	ktap_fact("uffd_copy_eexist", "%lu", k[W_SERVER].copy_eexist);
	ktap_fact("sigbus", "%lu", all.sigbus + final_sigbus);
	ktap_fact("sigbus_private", "%lu", k[W_WRITER].sigbus);
	ktap_fact("sigbus_shared", "%lu", k[W_SHARED].sigbus);
	ktap_fact("sigbus_uffd", "%lu", k[W_UFFD].sigbus);
	ktap_fact("sigbus_probe", "%lu", k[W_PROBER].sigbus);
	ktap_fact("errors", "%lu", all.errors);
	ktap_fact("stuck", "%d", stuck);
	if (all.errors)
		ktap_diag("%lu system calls failed unexpectedly", all.errors);
	if (faults < cfg->min_faults)
		ktap_diag("only %lu private faults in %.1f s, fewer than %lu",
			  faults, seconds, cfg->min_faults);
	if (leaks || corrupt)
		ktap_diag("the file showed private data in %lu page reads, unknown data in %lu",
			  leaks, corrupt);

	/*
	 * Beyond-EOF hits are judged by the kernel's model, like the pair's
	 * (none on stock and with the series); a leak, corrupt data or a
	 * thread that never ended is wrong on any kernel.
	 */
	ktap_result(!leaks && !corrupt && !stuck &&
		    faults >= cfg->min_faults, "memfd");
}

static int start(struct worker *w, struct stress *s, int kind,
		 unsigned int index)
{
	int err;

	w->s = s;
	w->kind = kinds[kind].kind;
	w->fn = kinds[kind].fn;
	w->index = index;
	w->rnd = 0x9e3779b97f4a7c15ULL * (kind * MAX_WRITERS + index + 1);
	err = pthread_create(&w->thread, NULL, w->fn, w);
	if (err) {
		ktap_diag("starting a %s thread: %s", w->kind, strerror(err));
		return -1;
	}
	w->started = true;
	return 0;
}

static void run(const struct config *cfg)
{
	struct worker w[W_WRITER + MAX_WRITERS] = { 0 };
	struct stress s = { .fd = -1, .pagemap = -1, .uffd = -1 };
	unsigned long final_hits = 0, final_sigbus = 0;
	struct timespec deadline;
	struct rusage ru0, ru1;
	int map, stuck = 0, failed = 0;
	double t0, elapsed;
	size_t nr, i;
	int k;

	s.pages = cfg->pages;
	s.ps = kit_page_size();
	s.writers = cfg->writers;
	s.fd = kit_memfd_create("stress-truncate-race", s.pages);
	if (s.fd < 0) {
		ktap_diag("memfd_create: %s", strerror(errno));
		ktap_result(false, "memfd");
		return;
	}
	s.map[MAP_PRIV] = kit_map(s.fd, s.pages, MAP_PRIVATE);
	s.map[MAP_SHR] = kit_map(s.fd, s.pages, MAP_SHARED);
	s.map[MAP_UFFD] = kit_map(s.fd, s.pages, MAP_PRIVATE);
	s.uffd_src = kit_map(-1, 1, MAP_PRIVATE | MAP_ANONYMOUS);
	if (!s.map[MAP_PRIV] || !s.map[MAP_SHR] || !s.map[MAP_UFFD] ||
	    !s.uffd_src) {
		ktap_diag("mmap: %s", strerror(errno));
		ktap_result(false, "memfd");
		return;
	}
	memset(s.uffd_src, UFFD_BYTE, s.ps);
	if (setup_uffd(&s)) {
		ktap_diag("no userfaultfd (%s): the uffd mapping is left out",
			  strerror(errno));
		munmap(s.map[MAP_UFFD], s.pages * s.ps);
		s.map[MAP_UFFD] = NULL;
	}
	s.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (s.pagemap < 0)
		ktap_diag("/proc/self/pagemap: %s: only random probes",
			  strerror(errno));

	getrusage(RUSAGE_SELF, &ru0);
	t0 = now();
	nr = W_WRITER + s.writers;
	for (i = 0; i < nr && !failed; i++) {
		k = i < W_WRITER ? (int)i : W_WRITER;
		if ((k == W_UFFD || k == W_SERVER) && s.uffd < 0)
			continue;
		failed = start(&w[i], &s, k, k == W_WRITER ? i - W_WRITER : 0);
	}

	while (!failed) {
		pause_ns(MONITOR_NS);
		elapsed = now() - t0;
		if (elapsed >= cfg->max_seconds)
			break;
		if (elapsed >= cfg->seconds &&
		    private_faults(w, nr) >= cfg->min_faults)
			break;
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += JOIN_SECONDS;
	for (i = 0; i < nr; i++)
		if (i != W_SERVER && !join(&w[i], &deadline))
			stuck++;
	__atomic_store_n(&s.server_stop, 1, __ATOMIC_RELEASE);
	if (!join(&w[W_SERVER], &deadline))
		stuck++;
	elapsed = now() - t0;
	getrusage(RUSAGE_SELF, &ru1);

	if (!stuck)
		final_hits = final_check(&s, &final_sigbus);
	facts(&s, cfg, w, nr, elapsed, ru1.ru_minflt - ru0.ru_minflt,
	      final_hits, final_sigbus, stuck + failed);
	if (stuck)
		return;	/* exit() ends the threads left behind */

	for (map = 0; map < NR_MAPS; map++)
		if (s.map[map])
			munmap(s.map[map], s.pages * s.ps);
	munmap(s.uffd_src, s.ps);
	if (s.uffd >= 0)
		close(s.uffd);
	if (s.pagemap >= 0)
		close(s.pagemap);
	close(s.fd);
}

int main(void)
{
	struct config cfg;
	struct utsname u;

	ktap_header(2);
	if (!uname(&u))
		ktap_diag("kernel: %s %s", u.release, u.machine);
	ktap_diag("stress-truncate-race: private faults over holes vs truncate, punch, uffd");

	cfg.debug = debug_kernel();
	cfg.seconds = env_ulong("KIT_STRESS_SECONDS", KIT_STRESS_SECONDS,
				0, 3600);
	cfg.max_seconds = cfg.debug ?
		env_ulong("KIT_STRESS_MAX_SECONDS_DEBUG",
			  KIT_STRESS_MAX_SECONDS_DEBUG, 1, 3600) :
		env_ulong("KIT_STRESS_MAX_SECONDS", KIT_STRESS_MAX_SECONDS,
			  1, 3600);
	if (cfg.max_seconds < cfg.seconds)
		cfg.max_seconds = cfg.seconds;
	cfg.min_faults = env_ulong("KIT_STRESS_MIN_FAULTS",
				   cfg.debug ? KIT_STRESS_MIN_FAULTS_DEBUG :
				   KIT_STRESS_MIN_FAULTS, 0, ~0UL);
	cfg.writers = env_ulong("KIT_STRESS_WRITERS", KIT_STRESS_WRITERS,
				1, MAX_WRITERS);
	cfg.pages = env_ulong("KIT_STRESS_PAGES", KIT_STRESS_PAGES,
			      2, MAX_PAGES);
	if (cfg.pages < cfg.writers)
		cfg.pages = cfg.writers;
	ktap_diag("run %lu..%lu s, until %lu private faults%s; %lu writers, %lu pages",
		  cfg.seconds, cfg.max_seconds, cfg.min_faults,
		  cfg.debug ? " (lockdep or KASAN)" : "", cfg.writers,
		  cfg.pages);

	/* Last resort: whatever happens, the process ends. */
	alarm(cfg.max_seconds + 2 * JOIN_SECONDS + 30);
	if (kit_sigbus_catch()) {
		ktap_diag("sigaction: %s", strerror(errno));
		ktap_result(false, "memfd");
		return ktap_exit_status();
	}
	run(&cfg);
	pair_race(env_ulong("KIT_PAIR_SECONDS", KIT_PAIR_SECONDS, 1, 3600),
		  env_ulong("KIT_PAIR_MAX_HITS", PAIR_MAX_HITS, 1, ~0UL));
	return ktap_exit_status();
}
