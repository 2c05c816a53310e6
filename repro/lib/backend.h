/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Backends as data: the kinds of memory a scenario maps privately, one row
 * of a table each (memfd, tmpfs, tmpfs-huge, hugetlbfs, anon), and the
 * helpers a scenario needs to use a row without knowing which one it is.
 *
 * Setting a backend up may mount a file system (in a private mount
 * namespace, so nothing is left behind) or reserve hugetlb pages (the old
 * pool size is restored at exit); kit_backend_setup() says up front whether
 * the row can run here, and why not.
 */
#ifndef KIT_BACKEND_H
#define KIT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

/* Flags of a backend row. */
#define KIT_BACKEND_SHMEM	0x1U	/* shmem_fault() serves its faults */
#define KIT_BACKEND_HUGETLB	0x2U	/* hugetlbfs: pages are huge pages */
#define KIT_BACKEND_FILE	0x4U	/* has a file: st_blocks, pread() */
#define KIT_BACKEND_THP		0x8U	/* huge=always: 2 MiB page cache */

/**
 * struct kit_backend - a kind of memory a scenario maps
 * @name: short name, the last part of the case names (``memfd``)
 * @create: create a file of @pages holes (pages of @page_size) named
 *	@name; return its descriptor, or -1 with errno set.  NULL for a
 *	backend without a file (``anon``).
 * @flags: ``KIT_BACKEND_*``
 * @setup: make the backend usable (mount, reserve pages) for files of up
 *	to @pages pages; see kit_backend_setup().  NULL: nothing to set up.
 * @page_size: size of the backend's pages in bytes: the base page size,
 *	or the default huge page size for hugetlbfs.  NULL: the base page
 *	size.
 *
 * Scenarios run their cases once per row of a list of backends, so that a
 * tmpfs file, a huge=always tmpfs file or a hugetlbfs file is one more row.
 * The rows are kit_backend_memfd and its siblings below; kit_backends[]
 * lists them all.
 */
struct kit_backend {
	const char *name;
	int (*create)(const char *name, size_t pages);
	unsigned int flags;
	int (*setup)(const struct kit_backend *b, size_t pages,
		     char *why, size_t len);
	size_t (*page_size)(void);
};

extern const struct kit_backend kit_backend_memfd;
extern const struct kit_backend kit_backend_tmpfs;
extern const struct kit_backend kit_backend_tmpfs_huge;
extern const struct kit_backend kit_backend_hugetlbfs;
extern const struct kit_backend kit_backend_anon;
extern const struct kit_backend *const kit_backends[];
extern const size_t kit_nr_backends;

/**
 * struct kit_area - memory of one backend a scenario works on
 * @backend: its backend
 * @fd: the file, or -1 for a backend without one
 * @pages: size in pages of @page_size
 * @page_size: the backend's page size in bytes
 *
 * kit_area_create() fills it; kit_area_destroy() closes the file.
 */
struct kit_area {
	const struct kit_backend *backend;
	int fd;
	size_t pages;
	size_t page_size;
};

const struct kit_backend *kit_backend_find(const char *name);
int kit_backend_setup(const struct kit_backend *b, size_t pages,
		      char *why, size_t len);
size_t kit_backend_page_size(const struct kit_backend *b);
size_t kit_backend_pages(const struct kit_backend *b, size_t pages,
			 size_t thp_pages, size_t huge_pages);

/**
 * struct kit_case - a case a scenario runs once on each of its backends
 * @name: first part of the case's name, ``<name>-<backend>``; NULL names it
 *	after the backend alone
 * @needs: ``KIT_BACKEND_*`` flags a backend must have for the case to run
 *	on it; on the others the case is not even planned
 * @test: run the case on @b under the name @name and report it with
 *	ktap_result() or ktap_skip(); @arg is the case's @arg
 * @arg: what tells the cases sharing one @test apart
 */
struct kit_case {
	const char *name;
	unsigned int needs;
	void (*test)(const struct kit_backend *b, const char *name,
		     const void *arg);
	const void *arg;
};

/**
 * struct kit_run - a scenario whose every case runs on each of its backends
 * @title: the title diagnostic of ktap_start(): name, what it does, claims
 * @backends: the backends, in the order each case runs on them; NULL: every
 *	row of kit_backends[]
 * @nr_backends: entries of @backends
 * @setup_pages: pages of @b the cases use at once, for kit_backend_setup();
 *	NULL: none to reserve
 * @cases: the cases, in the order they run
 * @nr_cases: entries of @cases
 * @case_name: first part of the name of case @c on @b, instead of @c->name,
 *	for a name that predates the scheme; NULL: @c->name
 *
 * kit_run_backends() runs it.
 */
struct kit_run {
	const char *title;
	const struct kit_backend *const *backends;
	size_t nr_backends;
	size_t (*setup_pages)(const struct kit_backend *b);
	const struct kit_case *cases;
	size_t nr_cases;
	const char *(*case_name)(const struct kit_case *c,
				 const struct kit_backend *b);
};

int kit_run_backends(const struct kit_run *run);

int kit_area_create(struct kit_area *a, const struct kit_backend *b,
		    const char *name, size_t pages);
void kit_area_destroy(struct kit_area *a);
void *kit_area_map(const struct kit_area *a, int flags);
int kit_area_unmap(const struct kit_area *a, void *addr);
long long kit_area_file_pages(const struct kit_area *a);
long long kit_area_private_pages(const struct kit_area *a, const void *addr);
int kit_area_file_equals(const struct kit_area *a, size_t index, int byte);
int kit_area_file_fill(const struct kit_area *a, size_t index, int byte);
int kit_area_file_all_equal(const struct kit_area *a, int byte);
int kit_area_touch(const struct kit_area *a, void *addr, bool write,
		   int value);
long kit_area_mismatches(const struct kit_area *a, const void *addr,
			 int first, int rest);

int kit_hugetlb_reserve(size_t free_pages);
int kit_knob_read(const char *path, char *buf, size_t len);
int kit_knob_set(const char *path, const char *value);
int kit_knob_restore(const char *path);
/* What kit_pmd_size() reads; a skip names it. */
#define KIT_PMD_SIZE_KNOB "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"
size_t kit_pmd_size(void);

#endif /* KIT_BACKEND_H */
