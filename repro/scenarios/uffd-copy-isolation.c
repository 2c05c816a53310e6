// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-copy-isolation: where UFFDIO_COPY into a shmem mapping lands.
 *
 * Claims C6, C7 and C8 of the linux-mm thread "Avoiding allocation of
 * unused shmem page" (Oct 2022).  C6: a page placed by userfaultfd to
 * resolve a MISSING fault of a MAP_PRIVATE mapping must only reach that
 * mapping's page table, never the page cache.  C7: shmem inserts the page
 * into the page cache on UFFDIO_COPY (shmem_mfill_atomic_pte()).  C8: a
 * private placement visible through other mappings of the file violates
 * MAP_PRIVATE.  Since commit 5b51072e97d5 (2018) mfill_atomic_pte() sends a
 * mapping without VM_SHARED to the anonymous path, so C7 holds only for
 * shared mappings.
 *
 * Measured: a read of page 0 of a registered mapping raises MISSING and is
 * resolved with UFFDIO_COPY of a page of 0xa5; then whether the placing
 * mapping, a MAP_SHARED mapping of the file, another process mapping the
 * file MAP_SHARED on its own open of it, and pread() read the copy, and how
 * many pages the file gained.  The private case fails if the copy reaches
 * the file (C6/C8 broken), which no kernel should allow; the shared case
 * fails if the placing mapping does not read its own copy.
 *
 * The zeropage cases resolve the same fault with UFFDIO_ZEROPAGE instead:
 * zeros cannot be told from a hole, so they measure how many pages the file
 * gained and whether the placing mapping, once pwrite() has filled the
 * file's page, still reads its zeros (the placement lives in its page
 * table only: C6) or follows the file (the placement is the page-cache
 * page: C7).  They fail if the placing mapping does not read zeros.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"

#define NR_PAGES	4
#define COPY_BYTE	0xa5
#define FILE_BYTE	0x5a	/* what pwrite() puts in the file afterwards */

/*
 * Does another process read @byte all over page @index of the file, through
 * a MAP_SHARED mapping of its own open of it (/proc/self/fd)?  Return 1, 0,
 * or -1 with errno set.  The child gets %KIT_TIMEOUT_MS to answer.
 */
static int other_process_sees(int fd, size_t index, int byte)
{
	struct pollfd pfd = { .events = POLLIN };
	size_t ps = kit_page_size();
	unsigned char answer = 2;
	int pipefd[2], n, err;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		err = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		errno = err;
		return -1;
	}
	if (!pid) {
		char path[64];
		void *m = MAP_FAILED;
		int own;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		own = open(path, O_RDONLY | O_CLOEXEC);
		if (own >= 0)
			m = mmap(NULL, ps, PROT_READ, MAP_SHARED, own,
				 index * ps);
		if (m != MAP_FAILED)
			answer = kit_page_equals(m, byte);
		if (write(pipefd[1], &answer, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	pfd.fd = pipefd[0];
	do {
		n = poll(&pfd, 1, KIT_TIMEOUT_MS);
	} while (n < 0 && errno == EINTR);
	if (n <= 0 || read(pipefd[0], &answer, 1) != 1) {
		answer = 2;
		kill(pid, SIGKILL);
	}
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	if (answer > 1) {
		errno = n == 0 ? ETIMEDOUT : EIO;
		return -1;
	}
	return answer;
}

/**
 * struct placement - what a case places, and through which mapping
 * @private: place through the MAP_PRIVATE mapping, else the MAP_SHARED one
 * @zeropage: place with UFFDIO_ZEROPAGE, else UFFDIO_COPY of %COPY_BYTE
 */
struct placement {
	bool private;
	bool zeropage;
};

/*
 * Map a file of holes twice, privately and shared, register one mapping for
 * MISSING and read page 0 through it, resolving as @arg, a struct
 * placement, says.  For a copy, pass if the placing mapping reads the copy
 * and, for a private placement, the copy stayed out of the file; for a zero
 * page, pass if the placing mapping reads zeros.
 */
static void test_place(const struct kit_backend *b, const char *name,
		       const void *arg)
{
	const struct placement *pl = arg;
	bool place_private = pl->private, zeropage = pl->zeropage;
	int placed, shared_sees, pread_sees, other_sees, follows;
	long long pc_before, pc_after;
	size_t ps = kit_page_size();
	char *priv = NULL, *shared = NULL;
	struct kit_access acc;
	char *src = NULL, *dst;
	int fd = -1, uffd;
	bool ok;

	uffd = kit_uffd_open_case(name, 0);
	if (uffd < 0)
		return;

	src = malloc(ps);
	fd = b->create("uffd-copy-isolation", NR_PAGES);
	if (fd >= 0) {
		priv = kit_map(fd, NR_PAGES, MAP_PRIVATE);
		shared = kit_map(fd, NR_PAGES, MAP_SHARED);
	}
	if (!src || !priv || !shared) {
		ktap_diag("%s: setup: %s", name, strerror(errno));
		goto fail;
	}
	memset(src, COPY_BYTE, ps);
	dst = place_private ? priv : shared;
	if (kit_uffd_api(uffd) ||
	    kit_uffd_register_missing(uffd, dst, NR_PAGES * ps)) {
		ktap_diag("%s: UFFDIO_API/REGISTER: %s", name, strerror(errno));
		goto fail;
	}

	pc_before = kit_file_pages(fd);
	kit_access_init(&acc, uffd, dst, false, 0);
	if (!zeropage) {
		acc.resolve = kit_resolve_copy;
		acc.arg = src;
	}
	ok = !kit_access_run(&acc);
	if (acc.uffd_closed)
		uffd = -1;
	ktap_diag("%s: read of page 0: %d MISSING events, completed %d, error %s, timed out %d",
		  name, acc.events, acc.completed,
		  acc.error ? strerror(acc.error) : "none", acc.timed_out);
	if (acc.stuck)
		goto fail;
	placed = kit_page_equals(dst, zeropage ? 0 : COPY_BYTE);

	/*
	 * Count the file's pages before reading through the shared mapping:
	 * a shared read fault on a hole allocates a page-cache page itself.
	 */
	pc_after = kit_file_pages(fd);
	if (pc_before < 0 || pc_after < 0) {
		ktap_diag("%s: measurement failed: %s", name, strerror(errno));
		goto fail;
	}

	if (zeropage) {
		/* Fill the file's page: does the placing mapping follow? */
		memset(src, FILE_BYTE, ps);
		if (pwrite(fd, src, ps, 0) != (ssize_t)ps) {
			ktap_diag("%s: pwrite: %s", name, strerror(errno));
			goto fail;
		}
		follows = kit_page_equals(dst, FILE_BYTE);
		ktap_fact("reads_zero", "%d", placed);
		ktap_fact("follows_file", "%d", follows);
		ktap_fact("pc_added", "%lld", pc_after - pc_before);
		ktap_result(ok && placed, name);
		goto out;
	}

	pread_sees = kit_pread_page_equals(fd, 0, COPY_BYTE);
	other_sees = other_process_sees(fd, 0, COPY_BYTE);
	shared_sees = kit_page_equals(shared, COPY_BYTE);
	if (pread_sees < 0 || other_sees < 0) {
		ktap_diag("%s: measurement failed: %s", name, strerror(errno));
		goto fail;
	}

	if (place_private) {
		ktap_fact("private_reads_copy", "%d", placed);
		ok &= placed && !shared_sees && !pread_sees && !other_sees;
	} else {
		ok &= shared_sees;
	}
	ktap_fact("shared_sees_copy", "%d", shared_sees);
	ktap_fact("pread_sees_copy", "%d", pread_sees);
	ktap_fact("other_process_sees_copy", "%d", other_sees);
	ktap_fact("pc_added", "%lld", pc_after - pc_before);
	ktap_result(ok, name);
	goto out;
fail:
	ktap_result(false, name);
out:
	if (priv)
		munmap(priv, NR_PAGES * ps);
	if (shared)
		munmap(shared, NR_PAGES * ps);
	if (fd >= 0)
		close(fd);
	if (uffd >= 0)
		close(uffd);
	free(src);
}

static const struct placement copy_private = { .private = true };
static const struct placement copy_shared = { .private = false };
static const struct placement zero_private = { .private = true, .zeropage = true };
static const struct placement zero_shared = { .zeropage = true };

static const struct kit_case cases[] = {
	{ "private", 0, test_place, &copy_private },
	{ "shared", 0, test_place, &copy_shared },
	{ "zeropage-private", 0, test_place, &zero_private },
	{ "zeropage-shared", 0, test_place, &zero_shared },
};

static const struct kit_backend *const backends[] = {
	&kit_backend_memfd,
};

int main(void)
{
	static const struct kit_run run = {
		.title = "uffd-copy-isolation: UFFDIO_COPY, ZEROPAGE, private or shared (C6-C8)",
		.backends = backends,
		.nr_backends = ARRAY_SIZE(backends),
		.cases = cases,
		.nr_cases = ARRAY_SIZE(cases),
	};

	return kit_run_backends(&run);
}
