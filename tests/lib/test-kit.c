// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of repro/lib/kit.c: the smaps and meminfo parsers on fixture
 * text, the st_blocks arithmetic, the exact KTAP text, and the timed access
 * helper's promise never to hang or die on a fault; of repro/lib/backend.c:
 * the run of cases over backends, on rows made up to take every path.
 *
 * Prints one line per failed check and ends with "N passed, N failed";
 * exits non-zero if any check failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

static int passed, failed;

#define CHECK(cond)	check(cond, #cond, __LINE__)

static void check(bool ok, const char *what, int line)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL test-kit.c:%d: %s\n", line, what);
	fflush(stdout);
}

/* ------------------------------------------------------------- fixtures */

static const char smaps_fixture[] =
	"00400000-00452000 r-xp 00000000 08:02 173521                             /usr/bin/true\n"
	"Size:                328 kB\n"
	"Rss:                 300 kB\n"
	"Anonymous:             0 kB\n"
	"AnonHugePages:         0 kB\n"
	"VmFlags: rd ex mr mw me dw\n"
	"7f0000000000-7f0000100000 rw-p 00000000 00:01 1042                       /memfd:private-write-hole (deleted)\n"
	"Size:               1024 kB\n"
	"KernelPageSize:        4 kB\n"
	"Rss:                1024 kB\n"
	"AnonHugePages:         0 kB\n"
	"Anonymous:          1020 kB\n"
	"THPeligible:    0\n"
	"VmFlags: rd wr mr mw me ac sd\n"
	"7f0000100000-7f0000101000 rw-p 00000000 00:00 0 \n"
	"Size:                  4 kB\n"
	"Rss:                   4 kB\n"
	"VmFlags: rd wr mr mw me ac sd\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
	"Size:                132 kB\n"
	"Rss:                  12 kB\n"
	"Anonymous:            12 kB\n"
	"VmFlags: rd wr mr mw me gd ac\n";

static const char meminfo_fixture[] =
	"MemTotal:        2014232 kB\n"
	"MemFree:         1754100 kB\n"
	"ShmemHugePages:     2048 kB\n"
	"ShmemPmdMapped:        0 kB\n"
	"Shmem:              1268 kB\n"
	"HugePages_Total:       0\n"
	"Hugepagesize:       2048 kB\n"
	"Broken:          none kB\n";

static long long smaps(unsigned long addr, const char *field)
{
	FILE *f = fmemopen((void *)smaps_fixture, strlen(smaps_fixture), "r");
	long long ret;
	int err;

	if (!f)
		return -2;
	ret = kit_smaps_field_kb(f, addr, field);
	err = errno;
	fclose(f);
	errno = err;
	return ret;
}

static long long meminfo(const char *field)
{
	FILE *f = fmemopen((void *)meminfo_fixture, strlen(meminfo_fixture),
			   "r");
	long long ret;
	int err;

	if (!f)
		return -2;
	ret = kit_meminfo_field_kb(f, field);
	err = errno;
	fclose(f);
	errno = err;
	return ret;
}

/* ---------------------------------------------------------------- tests */

static void test_blocks(void)
{
	CHECK(kit_blocks_to_pages(0, 4096) == 0);
	CHECK(kit_blocks_to_pages(8, 4096) == 1);
	CHECK(kit_blocks_to_pages(2048, 4096) == 256);
	CHECK(kit_blocks_to_pages(7, 4096) == 0);
	CHECK(kit_blocks_to_pages(4096, 2097152) == 1);
	CHECK(kit_blocks_to_pages(2048, 65536) == 16);
}

static void test_smaps(void)
{
	CHECK(smaps(0x7f0000000000UL, "Anonymous:") == 1020);
	CHECK(smaps(0x7f00000fffffUL, "Anonymous:") == 1020);
	CHECK(smaps(0x7f0000080000UL, "Anonymous") == 1020);
	CHECK(smaps(0x7f0000080000UL, "Rss:") == 1024);
	CHECK(smaps(0x7f0000080000UL, "KernelPageSize:") == 4);
	CHECK(smaps(0x7f0000080000UL, "THPeligible:") == 0);
	CHECK(smaps(0x400000UL, "Rss:") == 300);
	CHECK(smaps(0x7ffd00020fffUL, "Anonymous:") == 12);
	/* The end is exclusive: the next VMA lacks the field. */
	CHECK(smaps(0x7f0000100000UL, "Rss:") == 4);
	CHECK(smaps(0x7f0000100000UL, "Anonymous:") == -1 && errno == ENOENT);
	/* A prefix of a field name is not the field. */
	CHECK(smaps(0x7f0000080000UL, "Anon:") == -1 && errno == ENOENT);
	CHECK(smaps(0x7f0000080000UL, "Anon") == -1 && errno == ENOENT);
	/* Not in any VMA. */
	CHECK(smaps(0x1000UL, "Rss:") == -1 && errno == ENOENT);
	CHECK(smaps(0xffffffffffffUL, "Rss:") == -1 && errno == ENOENT);
	CHECK(smaps(0x7f0000080000UL, "VmFlags:") == -1 && errno == EINVAL);
}

static void test_meminfo(void)
{
	CHECK(meminfo("Shmem:") == 1268);
	CHECK(meminfo("Shmem") == 1268);
	CHECK(meminfo("ShmemHugePages:") == 2048);
	CHECK(meminfo("MemTotal:") == 2014232);
	CHECK(meminfo("HugePages_Total:") == 0);
	CHECK(meminfo("Shm") == -1 && errno == ENOENT);
	CHECK(meminfo("Missing:") == -1 && errno == ENOENT);
	CHECK(meminfo("Broken:") == -1 && errno == EINVAL);
}

/* The same parsers on the running kernel's files. */
static void test_proc(void)
{
	size_t ps = kit_page_size();
	char *p;
	int fd;

	CHECK(kit_meminfo_kb("MemTotal:") > 0);
	CHECK(kit_meminfo_kb("Shmem:") >= 0);

	fd = kit_memfd_create("test-kit", 4);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(kit_file_pages(fd) == 0);
	p = kit_map(fd, 4, MAP_SHARED);
	CHECK(p);
	if (p) {
		CHECK(kit_vma_field_kb(p, "Rss:") == 0);
		memset(p + ps, 1, 2 * ps);
		CHECK(kit_file_pages(fd) == 2);
		CHECK(kit_vma_field_kb(p + 3 * ps, "Rss:") ==
		      (long long)(2 * ps / 1024));
		CHECK(kit_pread_page_equals(fd, 0, 0) == 1);
		CHECK(kit_pread_page_equals(fd, 1, 1) == 1);
		CHECK(kit_pread_page_equals(fd, 1, 0) == 0);
		CHECK(kit_pread_page_equals(fd, 4, 0) == -1);
		munmap(p, 4 * ps);
	}
	close(fd);
}

/* Run @fn with the KTAP output captured; return the text (to be freed). */
static char *capture(int (*fn)(void), int *status)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	ktap_set_output(f);
	*status = fn();
	ktap_set_output(NULL);
	fclose(f);
	return buf;
}

static int ktap_mixed(void)
{
	ktap_header(3);
	ktap_diag("kernel: %s", "6.1.192");
	ktap_fact("pages", "%d", 256);
	ktap_fact("pc_per_write", "%.2f", 255.0 / 256);
	ktap_result(true, "memfd");
	ktap_result(false, "private-memfd");
	ktap_skip("shared-memfd", "userfaultfd: Operation not permitted");
	return ktap_exit_status();
}

static int ktap_passing(void)
{
	ktap_header(2);
	ktap_result(true, "a");
	ktap_skip("b", "no");
	return ktap_exit_status();
}

static int ktap_short(void)
{
	ktap_header(2);
	ktap_result(true, "a");
	return ktap_exit_status();
}

static void test_ktap(void)
{
	static const char mixed[] =
		"KTAP version 1\n"
		"1..3\n"
		"# kernel: 6.1.192\n"
		"# fact: pages=256\n"
		"# fact: pc_per_write=1.00\n"
		"ok 1 memfd\n"
		"not ok 2 private-memfd\n"
		"ok 3 shared-memfd # SKIP userfaultfd: Operation not permitted\n"
		"# totals: pass:1 fail:1 skip:1\n";
	static const char passing[] =
		"KTAP version 1\n"
		"1..2\n"
		"ok 1 a\n"
		"ok 2 b # SKIP no\n"
		"# totals: pass:1 fail:0 skip:1\n";
	static const char short_run[] =
		"KTAP version 1\n"
		"1..2\n"
		"ok 1 a\n"
		"# totals: pass:1 fail:0 skip:0\n"
		"# planned 2 cases, reported 1\n";
	int status = -1;
	char *out;

	out = capture(ktap_mixed, &status);
	CHECK(out && !strcmp(out, mixed));
	CHECK(status == 1);
	free(out);

	out = capture(ktap_passing, &status);
	CHECK(out && !strcmp(out, passing));
	CHECK(status == 0);
	free(out);

	out = capture(ktap_short, &status);
	CHECK(out && !strcmp(out, short_run));
	CHECK(status == 1);
	free(out);
}

/* ------------------------------------------------------ runs of cases */

static int setup_ok(const struct kit_backend *b, size_t pages, char *why,
		    size_t len)
{
	(void)b;
	(void)why;
	(void)len;
	return pages == 6 ? 0 : -1;
}

static int setup_unmet(const struct kit_backend *b, size_t pages, char *why,
		       size_t len)
{
	(void)b;
	(void)pages;
	snprintf(why, len, "needs %s", "a mount");
	return 1;
}

static int setup_broken(const struct kit_backend *b, size_t pages,
			char *why, size_t len)
{
	(void)b;
	(void)pages;
	snprintf(why, len, "small folios");
	return -1;
}

static const struct kit_backend fake_file = {
	.name = "file", .flags = KIT_BACKEND_FILE, .setup = setup_ok,
};

static const struct kit_backend fake_anon = { .name = "anon" };

static const struct kit_backend fake_unmet = {
	.name = "unmet", .flags = KIT_BACKEND_FILE, .setup = setup_unmet,
};

static const struct kit_backend fake_broken = {
	.name = "broken", .flags = KIT_BACKEND_FILE | KIT_BACKEND_THP,
	.setup = setup_broken,
};

static const struct kit_backend *const fake_backends[] = {
	&fake_file, &fake_anon, &fake_unmet, &fake_broken,
};

static size_t fake_pages(const struct kit_backend *b)
{
	return kit_backend_pages(b, 2, 4, 1) * 3;
}

static void fake_test(const struct kit_backend *b, const char *name,
		      const void *arg)
{
	ktap_fact("arg", "%d", *(const int *)arg);
	ktap_result(b != &fake_anon, name);
}

static const int one = 1, two = 2;

static const struct kit_case fake_cases[] = {
	{ NULL, 0, fake_test, &one },
	{ "filed", KIT_BACKEND_FILE, fake_test, &two },
};

static const char *fake_name(const struct kit_case *c,
			     const struct kit_backend *b)
{
	return c->arg == &one && b == &fake_anon ? "legacy" : c->name;
}

static int run_fake(void)
{
	static const struct kit_run run = {
		.title = "fake: every path (C0)",
		.backends = fake_backends,
		.nr_backends = ARRAY_SIZE(fake_backends),
		.setup_pages = fake_pages,
		.cases = fake_cases,
		.nr_cases = ARRAY_SIZE(fake_cases),
		.case_name = fake_name,
	};

	return kit_run_backends(&run);
}

static int run_intact(void)
{
	ktap_header(3);
	CHECK(kit_fact_file_intact("a", 1));
	ktap_result(true, "a");
	CHECK(!kit_fact_file_intact("b", 0));
	ktap_result(false, "b");
	errno = EIO;
	CHECK(!kit_fact_file_intact("c", -1));
	ktap_result(false, "c");
	return ktap_exit_status();
}

static void test_run(void)
{
	static const char fake_tail[] =
		"# fact: arg=1\n"
		"ok 1 file\n"
		"# fact: arg=1\n"
		"not ok 2 legacy-anon\n"
		"ok 3 unmet # SKIP needs a mount\n"
		"# broken: small folios\n"
		"not ok 4 broken\n"
		"# fact: arg=2\n"
		"ok 5 filed-file\n"
		"ok 6 filed-unmet # SKIP needs a mount\n"
		"# filed-broken: small folios\n"
		"not ok 7 filed-broken\n"
		"# totals: pass:2 fail:3 skip:2\n";
	static const char intact[] =
		"KTAP version 1\n"
		"1..3\n"
		"# fact: file_intact=1\n"
		"ok 1 a\n"
		"# fact: file_intact=0\n"
		"not ok 2 b\n"
		"# c: reading the file: Input/output error\n"
		"not ok 3 c\n"
		"# totals: pass:1 fail:2 skip:0\n";
	char head[256];
	struct utsname u;
	int status = -1;
	size_t len;
	char *out;

	CHECK(kit_backend_pages(&fake_file, 2, 4, 1) == 2);
	CHECK(kit_backend_pages(&fake_broken, 2, 4, 1) == 4);
	CHECK(kit_backend_pages(&kit_backend_hugetlbfs, 2, 4, 1) == 1);

	/* The plan leaves out the case needing a file on the anon row. */
	CHECK(!uname(&u));
	snprintf(head, sizeof(head),
		 "KTAP version 1\n1..7\n# kernel: %s %s\n# fake: every path (C0)\n",
		 u.release, u.machine);
	len = strlen(head);
	out = capture(run_fake, &status);
	CHECK(out && !strncmp(out, head, len) &&
	      !strcmp(out + len, fake_tail));
	CHECK(status == 1);
	free(out);

	out = capture(run_intact, &status);
	CHECK(out && !strcmp(out, intact));
	CHECK(status == 1);
	free(out);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int resolve_nothing(int uffd, unsigned long addr, void *arg)
{
	(void)uffd;
	(void)addr;
	(void)arg;
	return 0;
}

static int resolve_fail(int uffd, unsigned long addr, void *arg)
{
	(void)uffd;
	(void)addr;
	(void)arg;
	errno = EPROTO;
	return -1;
}

/*
 * Register a fresh anonymous page for MISSING and read it with @resolve.
 * Return the uffd still open (or -1) for the caller to close.
 */
static int uffd_read(int (*resolve)(int, unsigned long, void *),
		     struct kit_access *acc, int timeout_ms)
{
	size_t ps = kit_page_size();
	char *p;
	int uffd;

	uffd = kit_uffd_open(NULL);
	if (uffd < 0)
		return -2;
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || kit_uffd_api(uffd) ||
	    kit_uffd_register_missing(uffd, p, ps)) {
		close(uffd);
		return -3;
	}
	kit_access_init(acc, uffd, p, false, 0);
	acc->resolve = resolve;
	acc->timeout_ms = timeout_ms;
	kit_access_run(acc);
	if (!acc->stuck)
		munmap(p, ps);
	return acc->uffd_closed ? -1 : uffd;
}

static void test_access(void)
{
	size_t ps = kit_page_size();
	struct kit_access acc;
	long long t0;
	char *p;
	int uffd;

	p = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	if (p == MAP_FAILED)
		return;

	kit_access_init(&acc, -1, p, false, 0x33);
	CHECK(kit_access_run(&acc) == 0);
	CHECK(acc.completed && acc.value == 0 && acc.events == 0);

	/* A fault in the access is reported, not fatal. */
	kit_access_init(&acc, -1, p, true, 1);
	CHECK(kit_access_run(&acc) == -1);
	CHECK(!acc.completed && acc.signal == SIGSEGV && !acc.timed_out);
	munmap(p, ps);

	uffd = uffd_read(NULL, &acc, 0);
	if (uffd == -2) {
		printf("# userfaultfd: %s: its checks skipped\n",
		       strerror(errno));
		return;
	}
	CHECK(uffd >= 0);
	CHECK(acc.completed && acc.events == 1 && acc.value == 0);
	CHECK(acc.wp_events == 0 && acc.minor_events == 0);
	if (uffd >= 0)
		close(uffd);

	/* An event left unresolved: the timeout and close() end it. */
	t0 = now_ms();
	uffd = uffd_read(resolve_nothing, &acc, 200);
	CHECK(uffd == -1 && acc.uffd_closed && acc.timed_out);
	CHECK(!acc.completed && !acc.stuck && acc.events == 1);
	CHECK(now_ms() - t0 < 2000);

	uffd = uffd_read(resolve_fail, &acc, 200);
	CHECK(uffd == -1 && acc.uffd_closed && !acc.completed);
	CHECK(acc.error == EPROTO && !acc.stuck && acc.events == 1);
}

static int resolve_unprotect(int uffd, unsigned long addr, void *arg)
{
	size_t ps = kit_page_size();

	(void)arg;
	return kit_uffd_writeprotect(uffd, (void *)(addr & ~(ps - 1)), ps,
				     false);
}

/* Events are counted by kind: a WP fault is not a MISSING one. */
static void test_access_wp(void)
{
	size_t ps = kit_page_size();
	struct kit_access acc = { .uffd_closed = false };
	char *p;
	int uffd;

	uffd = kit_uffd_open(NULL);
	if (uffd < 0) {
		printf("# userfaultfd: %s: WP checks skipped\n",
		       strerror(errno));
		return;
	}
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	if (p == MAP_FAILED) {
		close(uffd);
		return;
	}
	p[0] = 1;
	if (kit_uffd_api_features(uffd, 0) ||
	    kit_uffd_register(uffd, p, ps, UFFDIO_REGISTER_MODE_WP) ||
	    kit_uffd_writeprotect(uffd, p, ps, true)) {
		printf("# uffd WP on anonymous memory: %s: checks skipped\n",
		       strerror(errno));
	} else {
		kit_access_init(&acc, uffd, p, true, 2);
		acc.resolve = resolve_unprotect;
		CHECK(kit_access_run(&acc) == 0);
		CHECK(acc.events == 1 && acc.wp_events == 1);
		CHECK(acc.minor_events == 0);
		CHECK(acc.fault_flags & UFFD_PAGEFAULT_FLAG_WP);
		CHECK(p[0] == 2);
	}
	if (!acc.uffd_closed)
		close(uffd);
	munmap(p, ps);
}

int main(void)
{
	test_blocks();
	test_smaps();
	test_meminfo();
	test_proc();
	test_ktap();
	test_run();
	test_access();
	test_access_wp();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
