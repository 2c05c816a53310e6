// SPDX-License-Identifier: GPL-2.0
/*
 * Does a write fault through a MAP_PRIVATE mapping of a memfd (shmem), over a
 * hole, allocate a zeroed page-cache page as well as the COW page?
 * Build: gcc -O2 -Wall shmem-private-hole.c; run as any user.  One line out:
 * pc_per_store: memfd st_blocks growth in pages per private store to a hole
 *   (1.00: page-cache page + COW page; 0.00: only the COW page);
 * missing: a userfaultfd MISSING registration on such a mapping gets a write
 *   event for a hole (delivered/not-delivered), or uffd=unavailable(errno=N);
 * file_zero: the memfd still reads zeros (pread) after all the stores;
 * verdict: allocates (pc_per_store >= 0.5) or cow-only.
 * Exit: 0 measured, 1 private stores leaked into the file, 2 setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define NPAGES 64

static long ps;
static char stack[65536] __attribute__((aligned(16)));

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static int writer(void *p)
{
	__atomic_store_n((char *)p, 1, __ATOMIC_RELAXED);	/* the fault */
	return 0;
}

static const char *uffd_fact(char *p, char *buf, size_t sz)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_zeropage zp = { .mode = 0 };
	struct pollfd pfd = { .events = POLLIN };
	struct uffd_msg m;
	int uffd, e, ok;
	pid_t pid;

	uffd = syscall(__NR_userfaultfd,
		       O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (uffd < 0 && errno == EINVAL)	/* kernel before 5.11 */
		uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	reg.range.start = (unsigned long)p;
	reg.range.len = ps;
	zp.range = reg.range;
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) ||
	    ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		/* EPERM: vm.unprivileged_userfaultfd; 38 on x86: no uffd */
		e = errno;
		snprintf(buf, sz, "uffd=unavailable(errno=%d)", e);
		return buf;
	}
	/* the child shares our mm (uffd sees its fault) and our fd table */
	pid = clone(writer, stack + sizeof(stack),
		    CLONE_VM | CLONE_FILES | SIGCHLD, p);
	if (pid < 0)
		die("clone");
	pfd.fd = uffd;
	ok = poll(&pfd, 1, 2000) > 0 &&
	     read(uffd, &m, sizeof(m)) == sizeof(m) &&
	     m.event == UFFD_EVENT_PAGEFAULT &&
	     (m.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) &&
	     (m.arg.pagefault.address & ~(__u64)(ps - 1)) == zp.range.start;
	ioctl(uffd, UFFDIO_ZEROPAGE, &zp);	/* resolve, wake the child */
	close(uffd);		/* last reference: wakes it in any case */
	if (waitpid(pid, NULL, 0) != pid)
		die("waitpid");
	return ok ? "missing=delivered" : "missing=not-delivered";
}

int main(void)
{
	char buf[64], *p, *q;
	const char *miss;
	struct utsname u;
	int fd, zero = 1;
	struct stat st;
	double pc;
	long i, len;

	ps = sysconf(_SC_PAGESIZE);
	len = (NPAGES + 1) * ps;	/* the last page is for the uffd test */
	fd = memfd_create("shmem-private-hole", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, len))
		die("memfd_create/ftruncate");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	q = malloc(len);
	if (p == MAP_FAILED || !q || uname(&u))
		die("mmap/malloc/uname");
	for (i = 0; i < NPAGES; i++)
		p[i * ps] = 1;
	if (fstat(fd, &st))
		die("fstat");
	pc = (double)st.st_blocks * 512 / ps / NPAGES;
	miss = uffd_fact(p + NPAGES * ps, buf, sizeof(buf));
	if (pread(fd, q, len, 0) != len)
		die("pread");
	for (i = 0; i < len; i++)
		zero &= !q[i];
	printf("shmem-private-hole: %s: pc_per_store=%.2f file_zero=%s %s",
	       u.release, pc, zero ? "yes" : "no", miss);
	printf(" verdict=%s\n", pc >= 0.5 ? "allocates" : "cow-only");
	return zero ? 0 : 1;
}
