// SPDX-License-Identifier: GPL-2.0
/*
 * Backends as data: memfd, tmpfs, tmpfs-huge, hugetlbfs and anon, one row of
 * a table each, and the helpers that set them up and use them.
 *
 * tmpfs, tmpfs-huge and hugetlbfs need a mount.  The first of them set up
 * moves the process into a private mount namespace (unshare(CLONE_NEWNS),
 * then MS_REC | MS_PRIVATE on /, so nothing propagates back), mounts a
 * small tmpfs over KIT_MOUNT_ROOT there and the backends' file systems in
 * directories of it.  The mounts vanish with the process: no directory,
 * mount or file is left behind on the host, whatever way the process ends.
 * That needs CAP_SYS_ADMIN, checked up front with libcap.
 *
 * hugetlbfs also needs free huge pages: when too few are free, the pool is
 * grown through /proc/sys/vm/nr_hugepages, and the old size is restored at
 * exit (also on SIGTERM, SIGINT and SIGHUP) by the process that changed it.
 * kit_knob_set() is that mechanism, for any sysctl or sysfs knob.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "backend.h"
#include "kit.h"

/* Where the private mount namespace mounts its file systems. */
#define KIT_MOUNT_ROOT		"/tmp"

#define NR_HUGEPAGES		"/proc/sys/vm/nr_hugepages"

/* ---------------------------------------------------------------- knobs */

#define KIT_MAX_KNOBS		4

/*
 * A knob changed by kit_knob_set(), with the value to restore.  Static
 * storage only: the signal handler restores from it.
 */
static struct knob {
	char path[128];
	char old[64];
	bool changed;
} knobs[KIT_MAX_KNOBS];
static pid_t knobs_owner;

static int write_str(const char *path, const char *value)
{
	size_t len = strlen(value);
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, value, len);
	err = errno;
	close(fd);
	if (n != (ssize_t)len) {
		errno = n < 0 ? err : EIO;
		return -1;
	}
	return 0;
}

/* Restore every knob; async-signal-safe (open, write, close only). */
static void knobs_restore_all(void)
{
	int i;

	if (getpid() != knobs_owner)
		return;
	for (i = 0; i < KIT_MAX_KNOBS; i++) {
		if (!knobs[i].changed)
			continue;
		write_str(knobs[i].path, knobs[i].old);
		knobs[i].changed = false;
	}
}

static void knobs_signal(int sig)
{
	knobs_restore_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void knobs_arm(void)
{
	struct sigaction sa = { .sa_handler = knobs_signal };
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	size_t i;

	if (knobs_owner)
		return;
	knobs_owner = getpid();
	atexit(knobs_restore_all);
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

/**
 * kit_knob_read() - read the current value of a sysctl or sysfs knob
 * @path: the file, e.g. ``/proc/sys/vm/nr_hugepages``
 * @buf: where to put the value
 * @len: size of @buf
 *
 * For a choice knob such as ``always within_size advise [never] deny
 * force`` the value is the bracketed word; otherwise it is the first line,
 * without its newline.
 *
 * Return: 0, or -1 with errno set.
 */
int kit_knob_read(const char *path, char *buf, size_t len)
{
	char text[256], *start, *end;
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, text, sizeof(text) - 1);
	err = errno;
	close(fd);
	if (n < 0) {
		errno = err;
		return -1;
	}
	text[n] = '\0';
	start = strchr(text, '[');
	if (start) {
		start++;
		end = strchr(start, ']');
	} else {
		start = text;
		end = strchr(start, '\n');
	}
	if (end)
		*end = '\0';
	if (strlen(start) + 1 > len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, start, strlen(start) + 1);
	return 0;
}

/**
 * kit_knob_set() - change a sysctl or sysfs knob until the process exits
 * @path: the file
 * @value: the value to write, without a newline
 *
 * The value read before the first change of @path is restored by
 * kit_knob_restore(), or at exit of the calling process (not of its
 * children), or when it is ended by SIGTERM, SIGINT or SIGHUP.
 *
 * Return: 0, or -1 with errno set (ENOSPC if too many knobs are changed).
 */
int kit_knob_set(const char *path, const char *value)
{
	struct knob *k = NULL;
	int i;

	for (i = 0; i < KIT_MAX_KNOBS; i++) {
		if (knobs[i].changed && !strcmp(knobs[i].path, path)) {
			k = &knobs[i];
			break;
		}
		if (!k && !knobs[i].changed)
			k = &knobs[i];
	}
	if (!k || strlen(path) >= sizeof(k->path)) {
		errno = k ? ENAMETOOLONG : ENOSPC;
		return -1;
	}
	if (!k->changed) {
		if (kit_knob_read(path, k->old, sizeof(k->old)))
			return -1;
		snprintf(k->path, sizeof(k->path), "%s", path);
		knobs_arm();
		k->changed = true;
	}
	return write_str(path, value);
}

/**
 * kit_knob_restore() - restore a knob changed by kit_knob_set()
 * @path: the file
 *
 * Return: 0 (also if @path was not changed), or -1 with errno set.
 */
int kit_knob_restore(const char *path)
{
	int i;

	for (i = 0; i < KIT_MAX_KNOBS; i++) {
		if (!knobs[i].changed || strcmp(knobs[i].path, path))
			continue;
		knobs[i].changed = false;
		return write_str(path, knobs[i].old);
	}
	return 0;
}

/* -------------------------------------------------------------- hugetlb */

static size_t hugetlb_page_size(void)
{
	static size_t size;
	long long kb;

	if (!size) {
		kb = kit_meminfo_kb("Hugepagesize:");
		size = kb > 0 ? kb * 1024 : 0;
	}
	return size;
}

/* Huge pages free and not reserved by a mapping. */
static long long hugetlb_available(void)
{
	long long free = kit_meminfo_kb("HugePages_Free:");
	long long rsvd = kit_meminfo_kb("HugePages_Rsvd:");

	if (free < 0 || rsvd < 0)
		return -1;
	return free - rsvd;
}

/**
 * kit_hugetlb_reserve() - make sure some default-size huge pages are free
 * @free_pages: how many must be free and not reserved
 *
 * Grows /proc/sys/vm/nr_hugepages by what is missing; the old size is
 * restored at exit (kit_knob_set()).
 *
 * Return: 0 if @free_pages pages are available, else -1 with errno set
 * (ENOMEM: the kernel could not allocate enough).
 */
int kit_hugetlb_reserve(size_t free_pages)
{
	long long avail = hugetlb_available();
	long long total = kit_meminfo_kb("HugePages_Total:");
	char value[32];

	if (avail < 0 || total < 0)
		return -1;
	if (avail >= (long long)free_pages)
		return 0;
	snprintf(value, sizeof(value), "%lld",
		 total + (long long)free_pages - avail);
	if (kit_knob_set(NR_HUGEPAGES, value))
		return -1;
	if (hugetlb_available() < (long long)free_pages) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------- private mounts */

/* A directory of the private mount namespace, mounted once. */
struct mount_point {
	const char *dir;	/* under KIT_MOUNT_ROOT */
	const char *type;
	const char *options;
	int state;		/* 0: not tried, 1: mounted, -1: failed */
	int err;
};

static struct mount_point mnt_tmpfs = {
	.dir = KIT_MOUNT_ROOT "/tmpfs", .type = "tmpfs", .options = "mode=0700",
};

static struct mount_point mnt_tmpfs_huge = {
	.dir = KIT_MOUNT_ROOT "/tmpfs-huge", .type = "tmpfs",
	.options = "mode=0700,huge=always",
};

static struct mount_point mnt_hugetlbfs = {
	.dir = KIT_MOUNT_ROOT "/hugetlbfs", .type = "hugetlbfs",
	.options = "mode=0700",
};

/*
 * Enter a private mount namespace and mount a tmpfs over KIT_MOUNT_ROOT
 * to hold the mount points.  unshare(CLONE_NEWNS) fails with EINVAL while
 * another thread shares our fs_struct, which a thread just joined may still
 * do for a moment: retry briefly.
 */
static int private_namespace(char *why, size_t len)
{
	static int state, err;
	const char *step = "unshare(CLONE_NEWNS)";
	struct timespec ms = { 0, 1000000 };
	int tries = 100, ret;

	if (state)
		goto out;
	state = -1;
	while ((ret = unshare(CLONE_NEWNS)) && errno == EINVAL && --tries)
		nanosleep(&ms, NULL);
	if (ret) {
		err = errno;
		goto out;
	}
	step = "mount --make-rprivate /";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		err = errno;
		goto out;
	}
	step = "mount tmpfs on " KIT_MOUNT_ROOT;
	if (mount("kit", KIT_MOUNT_ROOT, "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=0700,size=1m")) {
		err = errno;
		goto out;
	}
	state = 1;
out:
	if (state < 0)
		snprintf(why, len, "%s: %s", step, strerror(err));
	return state > 0 ? 0 : -1;
}

/* Mount @m in the private namespace; 0, or -1 with the reason in @why. */
static int private_mount(struct mount_point *m, char *why, size_t len)
{
	if (m->state > 0)
		return 0;
	if (!kit_has_cap(CAP_SYS_ADMIN)) {
		snprintf(why, len,
			 "needs CAP_SYS_ADMIN to mount %s in a private mount namespace",
			 m->type);
		errno = EPERM;
		return -1;
	}
	if (private_namespace(why, len))
		return -1;
	if (m->state < 0) {
		errno = m->err;
		goto fail;
	}
	if ((mkdir(m->dir, 0700) && errno != EEXIST) ||
	    mount("kit", m->dir, m->type, MS_NOSUID | MS_NODEV, m->options)) {
		m->state = -1;
		m->err = errno;
		goto fail;
	}
	m->state = 1;
	return 0;
fail:
	snprintf(why, len, "mount -t %s -o %s: %s", m->type, m->options,
		 strerror(m->err));
	errno = m->err;
	return -1;
}

/* Create an unlinked file of @size bytes on @m, once it is mounted. */
static int create_on(const struct mount_point *m, const char *name,
		     off_t size)
{
	char path[PATH_MAX];
	int fd, err;

	if (m->state <= 0) {
		errno = ENODEV;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s-XXXXXX", m->dir, name);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	unlink(path);
	if (ftruncate(fd, size)) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------- the rows */

static size_t base_page_size(void)
{
	return kit_page_size();
}

static int setup_none(const struct kit_backend *b, size_t pages,
		      char *why, size_t len)
{
	(void)b;
	(void)pages;
	(void)why;
	(void)len;
	return 0;
}

static int setup_tmpfs(const struct kit_backend *b, size_t pages,
		       char *why, size_t len)
{
	(void)b;
	(void)pages;
	return private_mount(&mnt_tmpfs, why, len) ? 1 : 0;
}

static int create_tmpfs(const char *name, size_t pages)
{
	return create_on(&mnt_tmpfs, name, pages * kit_page_size());
}

/**
 * kit_pmd_size() - the size of a PMD-mapped transparent huge page
 *
 * Return: bytes, from ``/sys/kernel/mm/transparent_hugepage/hpage_pmd_size``;
 * 0 if the kernel has no transparent huge pages.
 */
size_t kit_pmd_size(void)
{
	char value[32];

	if (kit_knob_read(KIT_PMD_SIZE_KNOB, value, sizeof(value)))
		return 0;
	return strtoul(value, NULL, 10);
}

/*
 * A huge=always mount that hands out small folios anyway (6.1 built with
 * BASE_SMALL caps the page-cache order below PMD size) would make every
 * tmpfs-huge row a copy of the tmpfs row: check that one byte written at
 * offset 0 of a PMD-sized file allocates the whole PMD-sized folio.
 */
static int probe_huge_folio(char *why, size_t len)
{
	/* A tmpfs huge= mount without the knob: x86_64's and arm64's size. */
	size_t pmd = kit_pmd_size() ?: 2UL << 20;
	struct stat st;
	int fd, ret = 0;

	fd = create_on(&mnt_tmpfs_huge, "probe", pmd);
	if (fd < 0 || pwrite(fd, "", 1, 0) != 1 || fstat(fd, &st)) {
		snprintf(why, len, "huge folio probe: %s", strerror(errno));
		ret = -1;
	} else if ((size_t)st.st_blocks * 512 < pmd) {
		snprintf(why, len,
			 "huge=always tmpfs gave a %lld KiB folio for one byte at offset 0, not %zu KiB: no PMD-sized page cache (a 6.1 kernel without CONFIG_BASE_FULL?)",
			 (long long)st.st_blocks / 2, pmd >> 10);
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

static int setup_tmpfs_huge(const struct kit_backend *b, size_t pages,
			    char *why, size_t len)
{
	static int probed;

	(void)b;
	(void)pages;
	if (private_mount(&mnt_tmpfs_huge, why, len))
		return 1;
	if (!probed)
		probed = probe_huge_folio(why, len) ? -1 : 1;
	return probed > 0 ? 0 : -1;
}

static int create_tmpfs_huge(const char *name, size_t pages)
{
	return create_on(&mnt_tmpfs_huge, name, pages * kit_page_size());
}

static bool have_filesystem(const char *type)
{
	char line[128], want[64];
	bool found = false;
	FILE *f;

	f = fopen("/proc/filesystems", "re");
	if (!f)
		return false;
	snprintf(want, sizeof(want), "\t%s\n", type);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want);
	fclose(f);
	return found;
}

static int setup_hugetlbfs(const struct kit_backend *b, size_t pages,
			   char *why, size_t len)
{
	(void)b;
	if (!have_filesystem("hugetlbfs") || !hugetlb_page_size()) {
		snprintf(why, len, "no hugetlbfs in this kernel");
		return 1;
	}
	if (private_mount(&mnt_hugetlbfs, why, len))
		return 1;
	if (kit_hugetlb_reserve(pages)) {
		snprintf(why, len, "cannot reserve %zu huge pages through %s: %s",
			 pages, NR_HUGEPAGES, strerror(errno));
		return 1;
	}
	return 0;
}

static int create_hugetlbfs(const char *name, size_t pages)
{
	return create_on(&mnt_hugetlbfs, name, pages * hugetlb_page_size());
}

const struct kit_backend kit_backend_memfd = {
	.name = "memfd",
	.create = kit_memfd_create,
	.flags = KIT_BACKEND_SHMEM | KIT_BACKEND_FILE,
	.setup = setup_none,
	.page_size = base_page_size,
};

const struct kit_backend kit_backend_tmpfs = {
	.name = "tmpfs",
	.create = create_tmpfs,
	.flags = KIT_BACKEND_SHMEM | KIT_BACKEND_FILE,
	.setup = setup_tmpfs,
	.page_size = base_page_size,
};

const struct kit_backend kit_backend_tmpfs_huge = {
	.name = "tmpfs-huge",
	.create = create_tmpfs_huge,
	.flags = KIT_BACKEND_SHMEM | KIT_BACKEND_FILE | KIT_BACKEND_THP,
	.setup = setup_tmpfs_huge,
	.page_size = base_page_size,
};

const struct kit_backend kit_backend_hugetlbfs = {
	.name = "hugetlbfs",
	.create = create_hugetlbfs,
	.flags = KIT_BACKEND_HUGETLB | KIT_BACKEND_FILE,
	.setup = setup_hugetlbfs,
	.page_size = hugetlb_page_size,
};

const struct kit_backend kit_backend_anon = {
	.name = "anon",
	.create = NULL,
	.flags = 0,
	.setup = setup_none,
	.page_size = base_page_size,
};

const struct kit_backend *const kit_backends[] = {
	&kit_backend_memfd,
	&kit_backend_tmpfs,
	&kit_backend_tmpfs_huge,
	&kit_backend_hugetlbfs,
	&kit_backend_anon,
};

const size_t kit_nr_backends = ARRAY_SIZE(kit_backends);

/**
 * kit_backend_find() - look a backend up by name
 * @name: its name, e.g. ``tmpfs-huge``
 *
 * Return: the row of kit_backends[], or NULL.
 */
const struct kit_backend *kit_backend_find(const char *name)
{
	size_t i;

	for (i = 0; i < kit_nr_backends; i++)
		if (!strcmp(kit_backends[i]->name, name))
			return kit_backends[i];
	return NULL;
}

/**
 * kit_backend_setup() - make a backend usable, or say why it cannot be
 * @b: the backend
 * @pages: the most pages of @b the caller will use at once, all files
 *	and private copies together (hugetlbfs reserves that many)
 * @why: where to put the reason when it returns non-zero
 * @len: size of @why
 *
 * Call it for every backend before running any case: entering the private
 * mount namespace is easiest while the process has one thread.  Calling it
 * again is cheap.
 *
 * A row without @setup needs nothing.
 *
 * Return: 0 if @b is usable; 1 if a need is unmet here (privilege, file
 * system, huge pages), for a ktap_skip() with @why; -1 if @b is present
 * but broken (huge=always giving small folios), for a failed case.
 */
int kit_backend_setup(const struct kit_backend *b, size_t pages,
		      char *why, size_t len)
{
	if (len)
		why[0] = '\0';
	return b->setup ? b->setup(b, pages, why, len) : 0;
}

/**
 * kit_backend_page_size() - size of a backend's pages
 * @b: the backend
 *
 * Return: bytes per page: the default huge page size for hugetlbfs, the
 * base page size otherwise (also for a row without @page_size); 0 if
 * unknown.
 */
size_t kit_backend_page_size(const struct kit_backend *b)
{
	return b->page_size ? b->page_size() : kit_page_size();
}

/**
 * kit_backend_pages() - how many pages a case uses on a backend
 * @b: the backend
 * @pages: on a backend of base pages
 * @thp_pages: on a huge=always backend (``KIT_BACKEND_THP``), in base pages
 * @huge_pages: on hugetlbfs (``KIT_BACKEND_HUGETLB``), in huge pages
 *
 * One size in base pages does not fit all rows: on huge=always tmpfs it
 * should fill whole PMD-sized folios, and on hugetlbfs each page is a huge
 * page, of which few are free.
 *
 * Return: the one of @pages, @thp_pages and @huge_pages that fits @b.
 */
size_t kit_backend_pages(const struct kit_backend *b, size_t pages,
			 size_t thp_pages, size_t huge_pages)
{
	if (b->flags & KIT_BACKEND_HUGETLB)
		return huge_pages;
	if (b->flags & KIT_BACKEND_THP)
		return thp_pages;
	return pages;
}

/* ---------------------------------------------------------------- runs */

/* What kit_backend_setup() said of one backend of a run. */
struct run_setup {
	int state;
	char why[256];
};

static bool case_applies(const struct kit_case *c, const struct kit_backend *b)
{
	return (b->flags & c->needs) == c->needs;
}

static void case_name(const struct kit_run *run, const struct kit_case *c,
		      const struct kit_backend *b, char *buf, size_t len)
{
	const char *first = c->name;

	if (run->case_name)
		first = run->case_name(c, b);
	if (first)
		snprintf(buf, len, "%s-%s", first, b->name);
	else
		snprintf(buf, len, "%s", b->name);
}

/**
 * kit_run_backends() - run a scenario's cases on each of its backends
 * @run: the scenario
 *
 * Sets every backend up before the first case, while the process has one
 * thread (see kit_backend_setup()), then starts the KTAP run with
 * ktap_start() and runs each case on each backend it applies to, backends
 * in the inner loop.  On a backend whose needs are unmet here the case is
 * skipped with the reason; on one that is broken it fails, with the reason
 * as a diagnostic.
 *
 * Return: ktap_exit_status(), for main() to return.
 */
int kit_run_backends(const struct kit_run *run)
{
	const struct kit_backend *const *backends = run->backends;
	size_t nr = run->nr_backends, pages, i, j;
	struct run_setup *setup;
	char name[64];
	int plan = 0;

	if (!backends) {
		backends = kit_backends;
		nr = kit_nr_backends;
	}
	for (i = 0; i < run->nr_cases; i++)
		for (j = 0; j < nr; j++)
			plan += case_applies(&run->cases[i], backends[j]);

	setup = calloc(nr, sizeof(*setup));
	if (!setup) {
		/* Fewer cases than planned: the run fails. */
		ktap_start(plan, "%s", run->title);
		ktap_diag("setup of %zu backends: %s", nr, strerror(errno));
		return ktap_exit_status();
	}
	for (j = 0; j < nr; j++) {
		pages = run->setup_pages ? run->setup_pages(backends[j]) : 0;
		setup[j].state = kit_backend_setup(backends[j], pages,
						   setup[j].why,
						   sizeof(setup[j].why));
	}

	ktap_start(plan, "%s", run->title);
	for (i = 0; i < run->nr_cases; i++) {
		const struct kit_case *c = &run->cases[i];

		for (j = 0; j < nr; j++) {
			if (!case_applies(c, backends[j]))
				continue;
			case_name(run, c, backends[j], name, sizeof(name));
			if (setup[j].state > 0) {
				ktap_skip(name, setup[j].why);
			} else if (setup[j].state < 0) {
				ktap_diag("%s: %s", name, setup[j].why);
				ktap_result(false, name);
			} else {
				c->test(backends[j], name, c->arg);
			}
		}
	}
	free(setup);
	return ktap_exit_status();
}

/* ---------------------------------------------------------------- areas */

/**
 * kit_area_create() - create the memory a case works on
 * @a: filled in
 * @b: the backend, set up with kit_backend_setup()
 * @name: name of the file, for diagnostics
 * @pages: size in pages of the backend's page size
 *
 * For a backend with a file, creates a file of @pages holes; for ``anon``
 * there is nothing to create and @a->fd is -1.
 *
 * Return: 0, or -1 with errno set.
 */
int kit_area_create(struct kit_area *a, const struct kit_backend *b,
		    const char *name, size_t pages)
{
	a->backend = b;
	a->pages = pages;
	a->page_size = kit_backend_page_size(b);
	a->fd = -1;
	if (!a->page_size) {
		errno = ENOENT;
		return -1;
	}
	if (!b->create)
		return 0;
	a->fd = b->create(name, pages);
	return a->fd < 0 ? -1 : 0;
}

/**
 * kit_area_destroy() - close the file of an area
 * @a: the area
 */
void kit_area_destroy(struct kit_area *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}

/**
 * kit_area_map() - map the whole area readable and writable
 * @a: the area
 * @flags: MAP_PRIVATE or MAP_SHARED plus any others (MAP_POPULATE)
 *
 * A backend without a file is mapped MAP_ANONYMOUS between two PROT_NONE
 * guard pages, so that it never merges with a neighbouring anonymous VMA
 * whose pages smaps would then count as its own.
 *
 * Return: the start of the mapping, or NULL with errno set.
 */
void *kit_area_map(const struct kit_area *a, int flags)
{
	size_t len = a->pages * a->page_size, guard = kit_page_size();
	char *base;
	void *p;

	if (a->fd >= 0) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, a->fd, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	base = mmap(NULL, len + 2 * guard, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	p = mmap(base + guard, len, PROT_READ | PROT_WRITE,
		 flags | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		int err = errno;

		munmap(base, len + 2 * guard);
		errno = err;
		return NULL;
	}
	return p;
}

/**
 * kit_area_unmap() - unmap a mapping made by kit_area_map()
 * @a: the area
 * @addr: the mapping
 *
 * Return: 0, or -1 with errno set.
 */
int kit_area_unmap(const struct kit_area *a, void *addr)
{
	size_t len = a->pages * a->page_size, guard = kit_page_size();

	if (a->fd >= 0)
		return munmap(addr, len);
	return munmap((char *)addr - guard, len + 2 * guard);
}

/**
 * kit_area_file_pages() - pages the area's file holds
 * @a: the area
 *
 * From st_blocks, in the backend's pages: page-cache pages for shmem and
 * hugetlbfs files (and swapped-out shmem pages); 0 without a file.
 *
 * Return: the number of pages, or -1 with errno set.
 */
long long kit_area_file_pages(const struct kit_area *a)
{
	struct stat st;

	if (a->fd < 0)
		return 0;
	if (fstat(a->fd, &st))
		return -1;
	return kit_blocks_to_pages(st.st_blocks, a->page_size);
}

/**
 * kit_area_private_pages() - private pages of a mapping of the area
 * @a: the area
 * @addr: an address in the mapping
 *
 * Anonymous pages (smaps ``Anonymous:``), or for hugetlbfs the huge pages
 * mapped by this mapping alone (``Private_Hugetlb:``), in the backend's
 * pages.
 *
 * Return: the number of pages, or -1 with errno set.
 */
long long kit_area_private_pages(const struct kit_area *a, const void *addr)
{
	bool huge = a->backend->flags & KIT_BACKEND_HUGETLB;
	long long kb;

	kb = kit_vma_field_kb(addr, huge ? "Private_Hugetlb:" : "Anonymous:");
	if (kb < 0)
		return -1;
	return kb * 1024 / (long long)a->page_size;
}

/**
 * kit_area_file_equals() - does a page of the area's file read as a byte?
 * @a: the area
 * @index: page index, in the backend's pages
 * @byte: the value
 *
 * Reads with pread(), which allocates nothing over a hole.
 *
 * Return: 1 if every byte equals @byte, 0 if not, -1 with errno set if the
 * page cannot be read or the area has no file (ENODEV).
 */
int kit_area_file_equals(const struct kit_area *a, size_t index, int byte)
{
	unsigned char *buf;
	size_t i;
	ssize_t n;
	int ret = 1;

	if (a->fd < 0) {
		errno = ENODEV;
		return -1;
	}
	buf = malloc(a->page_size);
	if (!buf)
		return -1;
	n = pread(a->fd, buf, a->page_size, index * a->page_size);
	if (n != (ssize_t)a->page_size) {
		if (n >= 0)
			errno = EIO;
		ret = -1;
	}
	for (i = 0; ret == 1 && i < a->page_size; i++)
		if (buf[i] != (unsigned char)byte)
			ret = 0;
	free(buf);
	return ret;
}

/**
 * kit_area_file_fill() - write a page of the area's file through the file
 * @a: the area
 * @index: page index, in the backend's pages
 * @byte: the value every byte of the page gets
 *
 * With pwrite() for shmem; hugetlbfs has no write(), so through a
 * MAP_SHARED mapping of the page, unmapped again at once.
 *
 * Return: 0, or -1 with errno set (ENODEV without a file).
 */
int kit_area_file_fill(const struct kit_area *a, size_t index, int byte)
{
	off_t off = index * a->page_size;
	void *p;
	int ret = 0;

	if (a->fd < 0) {
		errno = ENODEV;
		return -1;
	}
	if (a->backend->flags & KIT_BACKEND_HUGETLB) {
		p = mmap(NULL, a->page_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, a->fd, off);
		if (p == MAP_FAILED)
			return -1;
		memset(p, byte, a->page_size);
		munmap(p, a->page_size);
		return 0;
	}
	p = malloc(a->page_size);
	if (!p)
		return -1;
	memset(p, byte, a->page_size);
	if (pwrite(a->fd, p, a->page_size, off) != (ssize_t)a->page_size) {
		if (!errno)
			errno = EIO;
		ret = -1;
	}
	free(p);
	return ret;
}

/**
 * kit_area_file_all_equal() - does every page of the file read as a byte?
 * @a: the area
 * @byte: the value
 *
 * Return: 1 if every byte of the file equals @byte, 0 if not, -1 with
 * errno set as kit_area_file_equals().
 */
int kit_area_file_all_equal(const struct kit_area *a, int byte)
{
	size_t i;
	int ret;

	for (i = 0; i < a->pages; i++) {
		ret = kit_area_file_equals(a, i, byte);
		if (ret != 1)
			return ret;
	}
	return 1;
}

/**
 * kit_area_touch() - one access to the first byte of every page
 * @a: the area
 * @addr: a mapping of it
 * @write: store @value if true, else load
 * @value: the byte to store
 *
 * Each access runs through kit_access_run(), so a SIGBUS or a hang is
 * reported instead of ending the process.  The first failure is printed as
 * a diagnostic.
 *
 * Return: the number of accesses that failed.
 */
int kit_area_touch(const struct kit_area *a, void *addr, bool write,
		   int value)
{
	unsigned char *p = addr;
	int failed = 0;
	size_t i;

	for (i = 0; i < a->pages; i++) {
		struct kit_access acc;

		kit_access_init(&acc, -1, p + i * a->page_size, write, value);
		if (!kit_access_run(&acc))
			continue;
		if (!failed++)
			ktap_diag("page %zu: %s failed: signal %d, error %d, timed out %d",
				  i, write ? "store" : "load", acc.signal,
				  acc.error, acc.timed_out);
	}
	if (failed)
		ktap_diag("%d of %zu %s failed", failed, a->pages,
			  write ? "stores" : "loads");
	return failed;
}

/**
 * kit_area_mismatches() - pages of a mapping that do not read as expected
 * @a: the area
 * @addr: a mapping of it, every page of which is readable
 * @first: expected value of the first byte of each page
 * @rest: expected value of every other byte
 *
 * Return: the number of pages that differ.
 */
long kit_area_mismatches(const struct kit_area *a, const void *addr,
			 int first, int rest)
{
	const unsigned char *p = addr;
	long bad = 0;
	size_t i, j;

	for (i = 0; i < a->pages; i++, p += a->page_size) {
		if (p[0] != (unsigned char)first) {
			bad++;
			continue;
		}
		for (j = 1; j < a->page_size; j++)
			if (p[j] != (unsigned char)rest)
				break;
		if (j < a->page_size)
			bad++;
	}
	return bad;
}
