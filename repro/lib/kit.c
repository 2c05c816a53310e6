// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers of the shmem MAP_PRIVATE hole reproducers.
 *
 * KTAP output, memory accounting facts read from fstat(), /proc/self/smaps
 * and /proc/meminfo, memfd mappings, userfaultfd, and a byte access that
 * runs in a thread so that a fault blocked in userfaultfd can be served, or
 * given up on, by the caller without ever hanging.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/capability.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "kit.h"

/* ----------------------------------------------------------------- KTAP */

static FILE *ktap_out;
static int ktap_plan;
static int ktap_cases;
static int ktap_failed;
static int ktap_skipped;

static FILE *ktap_file(void)
{
	return ktap_out ? ktap_out : stdout;
}

/*
 * A crash of the guest kernel may cut the serial console at any moment:
 * each line is written whole and flushed at once.
 */
static __printf(2, 0) void ktap_vline(const char *prefix, const char *fmt,
				      va_list ap)
{
	char *text;

	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	fprintf(ktap_file(), "%s%s\n", prefix, text ? text : "(no memory)");
	fflush(ktap_file());
	free(text);
}

static __printf(2, 3) void ktap_line(const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ktap_vline(prefix, fmt, ap);
	va_end(ap);
}

/**
 * ktap_set_output() - send the KTAP output to another stream
 * @f: the stream, or NULL for stdout
 *
 * Lets the unit tests capture the output in memory.
 */
void ktap_set_output(FILE *f)
{
	ktap_out = f;
}

/**
 * ktap_header() - start a KTAP run
 * @plan: number of cases the run will report
 *
 * Prints ``KTAP version 1`` and the plan line, and resets the case counters
 * kept for ktap_result(), ktap_skip() and ktap_exit_status().
 */
void ktap_header(int plan)
{
	ktap_plan = plan;
	ktap_cases = 0;
	ktap_failed = 0;
	ktap_skipped = 0;
	ktap_line("", "KTAP version 1");
	ktap_line("", "1..%d", plan);
}

/**
 * ktap_start() - start a scenario's KTAP run
 * @plan: number of cases the run will report
 * @fmt: printf format of the scenario's title: its name, what it does and
 *	the claims it tests
 *
 * ktap_header(), then the running kernel and the title as diagnostics, so
 * that a log read on its own says what produced it.
 */
void ktap_start(int plan, const char *fmt, ...)
{
	struct utsname u;
	va_list ap;

	ktap_header(plan);
	if (!uname(&u))
		ktap_diag("kernel: %s %s", u.release, u.machine);
	va_start(ap, fmt);
	ktap_vline("# ", fmt, ap);
	va_end(ap);
}

/**
 * ktap_diag() - print a diagnostic line
 * @fmt: printf format of the line, without the leading ``#`` and newline
 *
 * The line must not contain a newline: the harness reads one line per
 * diagnostic.
 */
void ktap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ktap_vline("# ", fmt, ap);
	va_end(ap);
}

/**
 * ktap_fact() - print a measured fact of the next case
 * @key: name of the fact, without spaces or ``=``
 * @fmt: printf format of the value: ``%d``/``%lld`` for an integer,
 *	``%.2f`` for a decimal
 *
 * Prints ``# fact: key=value``. The harness attaches the facts printed
 * since the previous result line to the next result line.
 */
void ktap_fact(const char *key, const char *fmt, ...)
{
	char prefix[80];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "# fact: %s=", key);
	va_start(ap, fmt);
	ktap_vline(prefix, fmt, ap);
	va_end(ap);
}

/**
 * ktap_result() - report the result of the next case
 * @ok: whether the case passed
 * @name: name of the case
 */
void ktap_result(bool ok, const char *name)
{
	ktap_cases++;
	if (!ok)
		ktap_failed++;
	ktap_line("", "%s %d %s", ok ? "ok" : "not ok", ktap_cases, name);
}

/**
 * ktap_skip() - report the next case as skipped
 * @name: name of the case
 * @reason: why it could not run, on one line
 *
 * Prints ``ok N name # SKIP reason``; a skip is not a failure.
 */
void ktap_skip(const char *name, const char *reason)
{
	ktap_cases++;
	ktap_skipped++;
	ktap_line("", "ok %d %s # SKIP %s", ktap_cases, name, reason);
}

/**
 * ktap_exit_status() - end a KTAP run
 *
 * Prints a totals diagnostic. A run that reported fewer or more cases than
 * its plan counts as failed, so that a scenario cut short is never read as
 * a success.
 *
 * Return: 0 if every planned case was reported and none failed, else 1;
 * meant to be returned from main().
 */
int ktap_exit_status(void)
{
	ktap_diag("totals: pass:%d fail:%d skip:%d",
		  ktap_cases - ktap_failed - ktap_skipped, ktap_failed,
		  ktap_skipped);
	if (ktap_cases != ktap_plan) {
		ktap_diag("planned %d cases, reported %d",
			  ktap_plan, ktap_cases);
		return 1;
	}
	return ktap_failed ? 1 : 0;
}

/**
 * kit_fact_file_intact() - report whether a file still reads what it held
 * @name: the case
 * @intact: 1 if the file reads as it should, 0 if not, -1 with errno set
 *	if it could not be read
 *
 * Prints the fact ``file_intact``, or a diagnostic if the file could not be
 * read.  Every scenario that writes through a private mapping checks that
 * the writes never reached the file (C8), a rule every kernel must keep, so
 * the case fails unless the file is intact.
 *
 * Return: true if @intact is 1.
 */
bool kit_fact_file_intact(const char *name, int intact)
{
	if (intact < 0) {
		ktap_diag("%s: reading the file: %s", name, strerror(errno));
		return false;
	}
	ktap_fact("file_intact", "%d", intact);
	return intact == 1;
}

/* ---------------------------------------------------------- memory facts */

/**
 * kit_wait_byte() - read one byte from a pipe, waiting a bounded time
 * @fd: the read end
 * @timeout_ms: how long to wait for it
 *
 * For the handshakes between a scenario and the thread or child it drives:
 * the byte is the message, and the pipe orders what the sender wrote
 * before it.
 *
 * Return: the byte (0-255), or -1 on timeout, EOF or error.
 */
int kit_wait_byte(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	unsigned char c;
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	return read(fd, &c, 1) == 1 ? c : -1;
}

/**
 * kit_page_size() - base page size of the running kernel
 *
 * Return: the page size in bytes.
 */
size_t kit_page_size(void)
{
	static size_t page_size;

	if (!page_size)
		page_size = sysconf(_SC_PAGESIZE);
	return page_size;
}

/**
 * kit_blocks_to_pages() - convert fstat() st_blocks to pages
 * @blocks: st_blocks, in 512-byte units whatever the file system's block
 * @page_size: page size in bytes
 *
 * For shmem, st_blocks counts the page-cache pages of the file (and its
 * swapped-out pages), so this is the number of pages the file holds.
 *
 * Return: the number of whole pages in @blocks.
 */
long long kit_blocks_to_pages(long long blocks, size_t page_size)
{
	return blocks * 512 / (long long)page_size;
}

/**
 * kit_file_pages() - pages a file holds, from fstat()
 * @fd: the file
 *
 * Return: the number of pages, or -1 with errno set.
 */
long long kit_file_pages(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -1;
	return kit_blocks_to_pages(st.st_blocks, kit_page_size());
}

/*
 * Does @line start with the field name @field?  @field may carry its
 * trailing colon or not; either way "Shmem" must not match
 * "ShmemHugePages:".  Return the text after the colon, or NULL.
 */
static const char *field_value(const char *line, const char *field)
{
	size_t len = strlen(field);

	if (!len || strncmp(line, field, len))
		return NULL;
	if (field[len - 1] == ':')
		return line + len;
	if (line[len] != ':')
		return NULL;
	return line + len + 1;
}

static long long parse_kb(const char *value)
{
	long long kb;
	char *end;

	errno = 0;
	kb = strtoll(value, &end, 10);
	if (errno || end == value) {
		errno = EINVAL;
		return -1;
	}
	return kb;
}

/*
 * The value of the first line of @f that gives @field; with @vma, of the
 * lines of the smaps block of the VMA containing *@vma only.  Return -1 with
 * errno set as kit_smaps_field_kb() documents.
 */
static long long scan_field_kb(FILE *f, const char *field,
			       const unsigned long *vma)
{
	bool in_vma = !vma;
	long long ret = -1;
	size_t cap = 0;
	char *line = NULL;
	int err = ENOENT;

	while (getline(&line, &cap, f) > 0) {
		unsigned long start, end;
		const char *value;
		char perms[8];

		/* A VMA header: "start-end perms offset dev inode path". */
		if (vma && sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 &&
		    strlen(perms) == 4) {
			if (in_vma)
				break;
			in_vma = start <= *vma && *vma < end;
			continue;
		}
		if (!in_vma)
			continue;
		value = field_value(line, field);
		if (!value)
			continue;
		ret = parse_kb(value);
		err = errno;
		break;
	}
	free(line);
	if (ret < 0)
		errno = err;
	return ret;
}

/**
 * kit_smaps_field_kb() - a field of one VMA in smaps text
 * @f: stream of /proc/<pid>/smaps text
 * @addr: an address inside the VMA
 * @field: field name, with or without its colon, e.g. ``Anonymous:``
 *
 * Only the block of the VMA containing @addr is searched: a field missing
 * there is not taken from the next VMA.
 *
 * Return: the field's value (kB for size fields), or -1 with errno set to
 * ENOENT if no VMA contains @addr or it lacks @field, EINVAL if the value
 * is not a number.
 */
long long kit_smaps_field_kb(FILE *f, unsigned long addr, const char *field)
{
	return scan_field_kb(f, field, &addr);
}

/* Close @f, read from by a parser that returned @ret, keeping its errno. */
static long long fclose_keep_errno(FILE *f, long long ret)
{
	int err = errno;

	fclose(f);
	errno = err;
	return ret;
}

/**
 * kit_vma_field_kb() - a field of the calling process's VMA at an address
 * @addr: an address inside the VMA
 * @field: smaps field name, e.g. ``Anonymous:`` or ``Rss:``
 *
 * Return: as kit_smaps_field_kb(), read from /proc/self/smaps; -1 with
 * errno set if the file cannot be opened.
 */
long long kit_vma_field_kb(const void *addr, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	return fclose_keep_errno(f, kit_smaps_field_kb(f, (unsigned long)addr,
							field));
}

/**
 * kit_meminfo_field_kb() - a field of meminfo text
 * @f: stream of /proc/meminfo text
 * @field: field name, with or without its colon, e.g. ``Shmem:``
 *
 * Return: the field's value in kB, or -1 with errno set to ENOENT if the
 * field is missing, EINVAL if its value is not a number.
 */
long long kit_meminfo_field_kb(FILE *f, const char *field)
{
	return scan_field_kb(f, field, NULL);
}

/**
 * kit_meminfo_kb() - a field of /proc/meminfo
 * @field: field name, e.g. ``Shmem:``
 *
 * Return: as kit_meminfo_field_kb(); -1 with errno set if /proc/meminfo
 * cannot be opened.
 */
long long kit_meminfo_kb(const char *field)
{
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	return fclose_keep_errno(f, kit_meminfo_field_kb(f, field));
}

/* ----------------------------------------------------------------- memfd */

/**
 * kit_memfd_create() - create a shmem file of holes
 * @name: name shown in /proc/self/maps, for diagnostics
 * @pages: size of the file in pages
 *
 * The file is only truncated to size: every page is a hole until something
 * allocates it.
 *
 * Return: the file descriptor, or -1 with errno set.
 */
int kit_memfd_create(const char *name, size_t pages)
{
	int fd, err;

	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, pages * kit_page_size())) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/**
 * kit_map() - map the start of a file readable and writable
 * @fd: the file
 * @pages: length of the mapping in pages
 * @flags: mmap() flags, MAP_PRIVATE or MAP_SHARED plus any others
 *
 * Return: the start of the mapping, or NULL with errno set.
 */
void *kit_map(int fd, size_t pages, int flags)
{
	void *p;

	p = mmap(NULL, pages * kit_page_size(), PROT_READ | PROT_WRITE,
		 flags, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/**
 * kit_map_aligned() - map the start of a file at an aligned address
 * @fd: the file
 * @len: length of the mapping in bytes
 * @align: the alignment, a power of two (a PMD size, say)
 * @prot: mmap() protection
 * @flags: mmap() flags, MAP_PRIVATE or MAP_SHARED plus any others
 *
 * A folio larger than a page is mapped by a PMD only where the virtual
 * address and the file offset agree in alignment, and the kernel aligns a
 * shmem mapping for PMD-sized folios only when the mount or the global
 * control asks for them, never for a per-size control: reserve @len +
 * @align bytes, keep the aligned @len, map the file there.
 *
 * Return: the start of the mapping, or NULL with errno set.
 */
void *kit_map_aligned(int fd, size_t len, size_t align, int prot, int flags)
{
	char *r, *p;

	r = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	p = (char *)(((unsigned long)r + align - 1) & ~(align - 1));
	if (p > r)
		munmap(r, p - r);
	munmap(p + len, r + align - p);
	p = mmap(p, len, prot, flags | MAP_FIXED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/**
 * kit_page_equals() - is every byte of a page a given value?
 * @page: start of the page; it must be readable
 * @byte: the value
 *
 * Return: true if all kit_page_size() bytes equal @byte.
 */
bool kit_page_equals(const void *page, int byte)
{
	const unsigned char *p = page;
	size_t i;

	for (i = 0; i < kit_page_size(); i++)
		if (p[i] != (unsigned char)byte)
			return false;
	return true;
}

/**
 * kit_pread_page_equals() - does a page of a file read as a given value?
 * @fd: the file
 * @index: page index in the file
 * @byte: the value
 *
 * Reads through the file, not a mapping: for shmem a hole reads as zeros
 * without allocating a page.
 *
 * Return: 1 if every byte of the page equals @byte, 0 if not, -1 with errno
 * set if the page cannot be read whole.
 */
int kit_pread_page_equals(int fd, size_t index, int byte)
{
	size_t ps = kit_page_size();
	unsigned char *buf;
	ssize_t n;
	int ret;

	buf = malloc(ps);
	if (!buf)
		return -1;
	n = pread(fd, buf, ps, index * ps);
	if (n == (ssize_t)ps) {
		ret = kit_page_equals(buf, byte);
	} else {
		if (n >= 0)
			errno = EIO;
		ret = -1;
	}
	free(buf);
	return ret;
}

/* ---------------------------------------------------------- userfaultfd */

/**
 * kit_has_cap() - is a capability in the effective set?
 * @cap: the capability, e.g. CAP_SYS_PTRACE
 *
 * Return: true if the calling thread has @cap effective.
 */
bool kit_has_cap(int cap)
{
	cap_flag_value_t value = CAP_CLEAR;
	cap_t caps;

	caps = cap_get_proc();
	if (!caps)
		return false;
	if (cap_get_flag(caps, cap, CAP_EFFECTIVE, &value))
		value = CAP_CLEAR;
	cap_free(caps);
	return value == CAP_SET;
}

/**
 * kit_uffd_open() - open a userfaultfd
 * @user_mode_only: set to whether UFFD_USER_MODE_ONLY was asked for;
 *	may be NULL
 *
 * Without CAP_SYS_PTRACE the kernel refuses a userfaultfd that could trap
 * kernel-mode faults unless vm.unprivileged_userfaultfd is 1, so ask for
 * one that handles user-mode faults only, which is all the scenarios need.
 * The descriptor is non-blocking: kit_access_run() polls it.
 *
 * Return: the descriptor, or -1 with errno set (ENOSYS when the kernel
 * lacks CONFIG_USERFAULTFD); a caller should skip with strerror(errno).
 */
int kit_uffd_open(bool *user_mode_only)
{
	int flags = O_CLOEXEC | O_NONBLOCK;
	bool user = !kit_has_cap(CAP_SYS_PTRACE);

	if (user)
		flags |= UFFD_USER_MODE_ONLY;
	if (user_mode_only)
		*user_mode_only = user;
	return syscall(__NR_userfaultfd, flags);
}

/**
 * kit_uffd_api() - handshake with UFFDIO_API, asking for no features
 * @uffd: the userfaultfd
 *
 * Features stay 0 so that the scenarios see the behaviour every kernel
 * since 4.3 has: page-aligned fault addresses, no extra events.
 *
 * Return: 0, or -1 with errno set.
 */
int kit_uffd_api(int uffd)
{
	return kit_uffd_api_features(uffd, 0);
}

/**
 * kit_uffd_register_missing() - register a range for MISSING faults
 * @uffd: the userfaultfd, after kit_uffd_api()
 * @addr: page-aligned start of the range
 * @len: length in bytes, a multiple of the page size
 *
 * Return: 0, or -1 with errno set.
 */
int kit_uffd_register_missing(int uffd, void *addr, size_t len)
{
	return kit_uffd_register(uffd, addr, len,
				 UFFDIO_REGISTER_MODE_MISSING);
}

/*
 * UFFDIO_COPY, UFFDIO_ZEROPAGE and UFFDIO_CONTINUE report in @placed how
 * many bytes they placed, or a negative errno; a short placement leaves the
 * fault unresolved, so it is an error too.
 */
static int uffd_place(int uffd, unsigned long request, void *arg,
		      const __s64 *placed, size_t len)
{
	if (ioctl(uffd, request, arg))
		return -1;
	if (*placed != (__s64)len) {
		errno = *placed < 0 ? -*placed : EIO;
		return -1;
	}
	return 0;
}

/**
 * kit_uffd_copy() - place a copy of a page with UFFDIO_COPY
 * @uffd: the userfaultfd
 * @dst: an address in the page to fill; it is rounded down to the page
 * @src: the page-sized source buffer
 *
 * Wakes the faults waiting on the page.
 *
 * Return: 0, or -1 with errno set.
 */
int kit_uffd_copy(int uffd, unsigned long dst, const void *src)
{
	return kit_uffd_copy_len(uffd, dst, src, kit_page_size(), 0);
}

/**
 * kit_uffd_zeropage() - place a zero page with UFFDIO_ZEROPAGE
 * @uffd: the userfaultfd
 * @dst: an address in the page to fill; it is rounded down to the page
 *
 * Wakes the faults waiting on the page.
 *
 * Return: 0, or -1 with errno set.
 */
int kit_uffd_zeropage(int uffd, unsigned long dst)
{
	struct uffdio_zeropage zero = {
		.range = {
			.start = dst & ~(kit_page_size() - 1),
			.len = kit_page_size(),
		},
		.mode = 0,
	};

	return uffd_place(uffd, UFFDIO_ZEROPAGE, &zero, &zero.zeropage,
			  kit_page_size());
}

/**
 * kit_uffd_features() - the features the running kernel's userfaultfd offers
 * @features: set to the ``UFFD_FEATURE_*`` bits UFFDIO_API reports
 *
 * UFFDIO_API succeeds only once per userfaultfd, and asking for a feature
 * the kernel lacks fails it: probe on a userfaultfd of its own, closed
 * again, before asking for features with kit_uffd_api_features().
 *
 * Return: 0, or -1 with errno set.
 */
int kit_uffd_features(unsigned long long *features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int uffd, err;

	uffd = kit_uffd_open(NULL);
	if (uffd < 0)
		return -1;
	if (ioctl(uffd, UFFDIO_API, &api)) {
		err = errno;
		close(uffd);
		errno = err;
		return -1;
	}
	close(uffd);
	*features = api.features;
	return 0;
}

/**
 * kit_uffd_api_features() - handshake with UFFDIO_API, asking for features
 * @uffd: the userfaultfd
 * @features: ``UFFD_FEATURE_*`` bits to enable, from kit_uffd_features()
 *
 * Return: 0, or -1 with errno set (EINVAL if a feature is not offered).
 */
int kit_uffd_api_features(int uffd, unsigned long long features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };

	return ioctl(uffd, UFFDIO_API, &api) ? -1 : 0;
}

/**
 * kit_uffd_register() - register a range in any mode
 * @uffd: the userfaultfd, after UFFDIO_API
 * @addr: start of the range, aligned to the mapping's page size
 * @len: length in bytes, a multiple of the mapping's page size
 * @mode: ``UFFDIO_REGISTER_MODE_*`` bits (MISSING, WP, MINOR)
 *
 * Return: 0, or -1 with errno set.
 */
int kit_uffd_register(int uffd, void *addr, size_t len,
		      unsigned long long mode)
{
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = mode,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg) ? -1 : 0;
}

/**
 * kit_uffd_copy_len() - place a copy of @len bytes with UFFDIO_COPY
 * @uffd: the userfaultfd
 * @dst: an address in the range to fill; it is rounded down to @len,
 *	which must be a power of two (a base or a huge page)
 * @src: the source buffer of @len bytes
 * @len: bytes to place: the mapping's page size
 * @mode: ``UFFDIO_COPY_MODE_*`` bits, e.g. UFFDIO_COPY_MODE_WP
 *
 * kit_uffd_copy() for hugetlbfs mappings, whose faults are resolved a huge
 * page at a time, and for placements that keep a range write-protected.
 *
 * Return: 0, or -1 with errno set.
 */
int kit_uffd_copy_len(int uffd, unsigned long dst, const void *src,
		      size_t len, unsigned long long mode)
{
	struct uffdio_copy copy = {
		.dst = dst & ~(len - 1),
		.src = (unsigned long)src,
		.len = len,
		.mode = mode,
	};

	return uffd_place(uffd, UFFDIO_COPY, &copy, &copy.copy, len);
}

/**
 * kit_uffd_writeprotect() - write-protect a range, or resolve a WP fault
 * @uffd: the userfaultfd; the range must be registered in WP mode
 * @addr: page-aligned start of the range
 * @len: length in bytes, a multiple of the page size
 * @protect: true to protect, false to unprotect (and wake the faults
 *	waiting on the range)
 *
 * Return: 0, or -1 with errno set.
 */
int kit_uffd_writeprotect(int uffd, void *addr, size_t len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) ? -1 : 0;
}

/**
 * kit_uffd_continue() - resolve a MINOR fault with UFFDIO_CONTINUE
 * @uffd: the userfaultfd
 * @dst: an address in the range to map; it is rounded down to @len
 * @len: bytes to map, a power of two: the mapping's page size
 *
 * Maps the page the page cache already holds; wakes the faults waiting on
 * the range.
 *
 * Return: 0, or -1 with errno set.
 */
int kit_uffd_continue(int uffd, unsigned long dst, size_t len)
{
	struct uffdio_continue cont = {
		.range = { .start = dst & ~(len - 1), .len = len },
		.mode = 0,
	};

	return uffd_place(uffd, UFFDIO_CONTINUE, &cont, &cont.mapped, len);
}

/**
 * kit_uffd_open_case() - open a userfaultfd for a case, or skip the case
 * @name: the case
 * @features: ``UFFD_FEATURE_*`` bits the case cannot run without, or 0
 *
 * A kernel without userfaultfd, or without one of @features, cannot run the
 * case: it is reported skipped with the reason.  @features are asked for
 * here, with UFFDIO_API, which succeeds only once per userfaultfd; without
 * features that handshake is left to the caller (kit_uffd_api()), for whom
 * its failure is a failed case.  The diagnostic says whether the
 * userfaultfd is limited to user-mode faults, for want of CAP_SYS_PTRACE.
 *
 * Return: the userfaultfd, or -1 once the case has been reported skipped.
 */
int kit_uffd_open_case(const char *name, unsigned long long features)
{
	unsigned long long offered;
	const char *kind;
	char reason[128];
	bool user_only;
	int uffd;

	if (features && kit_uffd_features(&offered)) {
		snprintf(reason, sizeof(reason), "userfaultfd: %s",
			 strerror(errno));
		ktap_skip(name, reason);
		return -1;
	}
	if (features && (offered & features) != features) {
		snprintf(reason, sizeof(reason),
			 "userfaultfd lacks features 0x%llx (offers 0x%llx)",
			 features & ~offered, offered);
		ktap_skip(name, reason);
		return -1;
	}
	uffd = kit_uffd_open(&user_only);
	if (uffd < 0) {
		snprintf(reason, sizeof(reason), "userfaultfd: %s",
			 strerror(errno));
		ktap_skip(name, reason);
		return -1;
	}
	if (features && kit_uffd_api_features(uffd, features)) {
		snprintf(reason, sizeof(reason), "UFFDIO_API 0x%llx: %s",
			 features, strerror(errno));
		close(uffd);
		ktap_skip(name, reason);
		return -1;
	}
	kind = user_only ? "user-mode only (no CAP_SYS_PTRACE)" :
			   "with CAP_SYS_PTRACE";
	if (features)
		ktap_diag("%s: userfaultfd %s, features 0x%llx", name, kind,
			  features);
	else
		ktap_diag("%s: userfaultfd %s", name, kind);
	return uffd;
}

/**
 * kit_resolve_copy() - a kit_access resolver placing a copy of a page
 * @uffd: the userfaultfd
 * @addr: the faulting address
 * @src: the page-sized source buffer
 *
 * Return: as kit_uffd_copy().
 */
int kit_resolve_copy(int uffd, unsigned long addr, void *src)
{
	return kit_uffd_copy(uffd, addr, src);
}

static int resolve_zeropage(int uffd, unsigned long addr, void *arg)
{
	(void)arg;
	return kit_uffd_zeropage(uffd, addr);
}

/* ------------------------------------------------------- timed accesses */

/*
 * State shared with the access thread.  It is allocated, not on the
 * caller's stack, so that it can be abandoned with a thread that never
 * returns.
 */
struct access_thread {
	unsigned char *addr;
	bool write;
	unsigned char value;
	int efd;
	int signal;
	int done;
};

static __thread sigjmp_buf *access_jmp;

/*
 * A fault in the access thread ends the access, not the process: the
 * scenario reports the signal as a fact of a failed case.  Any other thread
 * gets the default action.
 */
static void access_signal(int sig)
{
	if (access_jmp)
		siglongjmp(*access_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void *access_thread(void *arg)
{
	struct access_thread *t = arg;
	sigjmp_buf env;
	int sig;

	sig = sigsetjmp(env, 1);
	if (!sig) {
		access_jmp = &env;
		/* Atomic accesses so that the compiler keeps the access. */
		if (t->write)
			__atomic_store_n(t->addr, t->value, __ATOMIC_RELAXED);
		else
			t->value = __atomic_load_n(t->addr, __ATOMIC_RELAXED);
	}
	access_jmp = NULL;
	t->signal = sig;
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	/* The caller also checks done, so a failed write loses nothing. */
	eventfd_write(t->efd, 1);
	return NULL;
}

/*
 * Read one message from the userfaultfd and resolve it.  Return 0 to keep
 * waiting, -1 with acc->error set to give up.
 */
static int serve_uffd(struct kit_access *acc)
{
	int (*resolve)(int uffd, unsigned long addr, void *arg);
	struct uffd_msg msg;
	ssize_t n;

	n = read(acc->uffd, &msg, sizeof(msg));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n != sizeof(msg)) {
		acc->error = n < 0 ? errno : EIO;
		return -1;
	}
	if (msg.event != UFFD_EVENT_PAGEFAULT)
		return 0;
	acc->events++;
	acc->fault_addr = msg.arg.pagefault.address;
	acc->fault_flags = msg.arg.pagefault.flags;
	if (acc->fault_flags & UFFD_PAGEFAULT_FLAG_WP)
		acc->wp_events++;
	else if (acc->fault_flags & UFFD_PAGEFAULT_FLAG_MINOR)
		acc->minor_events++;
	if (acc->events > KIT_MAX_EVENTS) {
		acc->error = ELOOP;
		return -1;
	}
	resolve = acc->resolve ? acc->resolve : resolve_zeropage;
	if (resolve(acc->uffd, acc->fault_addr, acc->arg)) {
		acc->error = errno;
		return -1;
	}
	return 0;
}

/* Wait until the access thread is done or @timeout_ms passed. */
static bool wait_done(struct access_thread *t, int timeout_ms)
{
	struct pollfd pfd = { .fd = t->efd, .events = POLLIN };

	if (__atomic_load_n(&t->done, __ATOMIC_ACQUIRE))
		return true;
	while (poll(&pfd, 1, timeout_ms) < 0 && errno == EINTR)
		;
	return __atomic_load_n(&t->done, __ATOMIC_ACQUIRE);
}

/**
 * kit_access_init() - describe one byte access for kit_access_run()
 * @acc: the access
 * @uffd: userfaultfd serving the address, or -1
 * @addr: the byte
 * @write: store @value if true, else load
 * @value: the byte to store; ignored for a load
 *
 * Clears the results and the optional fields: the default timeout
 * (%KIT_TIMEOUT_MS) and UFFDIO_ZEROPAGE as resolver.  Set @acc->resolve,
 * @acc->arg and @acc->timeout_ms afterwards to change them.
 */
void kit_access_init(struct kit_access *acc, int uffd, void *addr,
		     bool write, unsigned char value)
{
	memset(acc, 0, sizeof(*acc));
	acc->addr = addr;
	acc->uffd = uffd;
	acc->write = write;
	acc->value = value;
}

/**
 * kit_access_run() - run one byte access, serving its userfaultfd events
 * @acc: the access, from kit_access_init()
 *
 * The access runs in a new thread while the caller polls the userfaultfd
 * and an eventfd the thread signals when the access returned.  Every
 * page-fault event is counted by kind and passed to @acc->resolve; then the
 * wait goes on.  Each wait is bounded by @acc->timeout_ms.  If the access neither
 * completes nor faults in time, or resolving fails, the userfaultfd is
 * closed: that wakes the blocked fault, which is retried without
 * userfaultfd, and the thread can be joined.  SIGSEGV and SIGBUS raised by
 * the access are caught and reported instead of killing the process.
 *
 * Return: 0 if the access completed within the timeouts without a signal,
 * else -1; the details are in @acc.
 */
int kit_access_run(struct kit_access *acc)
{
	int timeout = acc->timeout_ms > 0 ? acc->timeout_ms : KIT_TIMEOUT_MS;
	struct sigaction sa = { .sa_handler = access_signal };
	struct sigaction old_segv, old_bus;
	struct access_thread *t;
	pthread_t tid;
	int err;

	acc->events = 0;
	acc->wp_events = 0;
	acc->minor_events = 0;
	acc->fault_addr = 0;
	acc->fault_flags = 0;
	acc->completed = false;
	acc->timed_out = false;
	acc->uffd_closed = false;
	acc->stuck = false;
	acc->signal = 0;
	acc->error = 0;

	t = calloc(1, sizeof(*t));
	if (!t) {
		acc->error = errno;
		return -1;
	}
	t->addr = acc->addr;
	t->write = acc->write;
	t->value = acc->value;
	t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->efd < 0) {
		acc->error = errno;
		free(t);
		return -1;
	}

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);

	err = pthread_create(&tid, NULL, access_thread, t);
	if (err) {
		acc->error = err;
		goto out_restore;
	}

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = t->efd, .events = POLLIN },
			/* poll() ignores a negative fd: no uffd to serve. */
			{ .fd = acc->uffd, .events = POLLIN },
		};
		int n;

		if (__atomic_load_n(&t->done, __ATOMIC_ACQUIRE))
			break;
		n = poll(pfd, 2, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			acc->error = errno;
			break;
		}
		if (n == 0) {
			acc->timed_out = true;
			break;
		}
		if (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			acc->error = EIO;
			break;
		}
		if ((pfd[1].revents & POLLIN) && serve_uffd(acc))
			break;
	}

	if (!__atomic_load_n(&t->done, __ATOMIC_ACQUIRE) && acc->uffd >= 0) {
		/* Releasing the userfaultfd wakes the blocked fault. */
		close(acc->uffd);
		acc->uffd_closed = true;
	}
	if (!wait_done(t, timeout)) {
		/*
		 * Not a userfaultfd wait: nothing left to wake it.  Leave the
		 * thread and its state behind; exit_group() will reap it.
		 */
		acc->stuck = true;
		acc->timed_out = true;
		pthread_detach(tid);
		return -1;
	}
	pthread_join(tid, NULL);

	acc->signal = t->signal;
	if (!acc->write && !t->signal)
		acc->value = t->value;
	/* Completed only if it did before anything was given up on. */
	acc->completed = !acc->uffd_closed && !acc->error &&
			 !acc->timed_out && !t->signal;

out_restore:
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	close(t->efd);
	free(t);
	return acc->completed ? 0 : -1;
}

/**
 * kit_access_run_uffd() - run an access served by a case's userfaultfd
 * @acc: the access, from kit_access_init() with *@uffd
 * @uffd: the case's userfaultfd; set to -1 if the access had to close it
 * @what: the access in a few words, for the diagnostic
 *
 * kit_access_run(), and a diagnostic of how far the access got if it did
 * not complete: whether the events came, a signal, a failed resolution or
 * a timeout tells a kernel that lost an event from one that broke the
 * access.
 *
 * Return: whether the access completed within the timeouts.
 */
bool kit_access_run_uffd(struct kit_access *acc, int *uffd, const char *what)
{
	if (kit_access_run(acc))
		ktap_diag("%s: not completed: events %d, signal %d, error %s, timed out %d",
			  what, acc->events, acc->signal,
			  acc->error ? strerror(acc->error) : "none",
			  acc->timed_out);
	if (acc->uffd_closed)
		*uffd = -1;
	return acc->completed;
}
