/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers of the shmem MAP_PRIVATE hole reproducers: KTAP output,
 * memory accounting facts, memfd mappings and userfaultfd.
 *
 * The scenarios run as /init-launched programs in a minimal guest whose
 * serial console may be cut by a crash, so every helper reports failure
 * through its return value and errno instead of exiting, and every line of
 * KTAP output is flushed as soon as it is printed.
 */
#ifndef KIT_H
#define KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "backend.h"	/* struct kit_backend, the table of backends */

#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(x)	(sizeof(x) / sizeof((x)[0]))
#endif

/* Default bound of every wait in kit_access_run(), in milliseconds. */
#define KIT_TIMEOUT_MS		2000

/*
 * More MISSING events than this for one access means the resolution does
 * not stick: give up instead of serving events forever.
 */
#define KIT_MAX_EVENTS		8

void ktap_set_output(FILE *f);
void ktap_header(int plan);
__printf(2, 3) void ktap_start(int plan, const char *fmt, ...);
__printf(1, 2) void ktap_diag(const char *fmt, ...);
__printf(2, 3) void ktap_fact(const char *key, const char *fmt, ...);
void ktap_result(bool ok, const char *name);
void ktap_skip(const char *name, const char *reason);
int ktap_exit_status(void);
bool kit_fact_file_intact(const char *name, int intact);

size_t kit_page_size(void);
int kit_wait_byte(int fd, int timeout_ms);
long long kit_blocks_to_pages(long long blocks, size_t page_size);
long long kit_file_pages(int fd);
long long kit_smaps_field_kb(FILE *f, unsigned long addr, const char *field);
long long kit_vma_field_kb(const void *addr, const char *field);
long long kit_meminfo_field_kb(FILE *f, const char *field);
long long kit_meminfo_kb(const char *field);

int kit_memfd_create(const char *name, size_t pages);
void *kit_map(int fd, size_t pages, int flags);
void *kit_map_aligned(int fd, size_t len, size_t align, int prot, int flags);
bool kit_page_equals(const void *page, int byte);
int kit_pread_page_equals(int fd, size_t index, int byte);

bool kit_has_cap(int cap);
int kit_uffd_open(bool *user_mode_only);
int kit_uffd_api(int uffd);
int kit_uffd_register_missing(int uffd, void *addr, size_t len);
int kit_uffd_copy(int uffd, unsigned long dst, const void *src);
int kit_uffd_zeropage(int uffd, unsigned long dst);
int kit_uffd_features(unsigned long long *features);
int kit_uffd_api_features(int uffd, unsigned long long features);
int kit_uffd_register(int uffd, void *addr, size_t len,
		      unsigned long long mode);
int kit_uffd_copy_len(int uffd, unsigned long dst, const void *src,
		      size_t len, unsigned long long mode);
int kit_uffd_writeprotect(int uffd, void *addr, size_t len, bool protect);
int kit_uffd_continue(int uffd, unsigned long dst, size_t len);
int kit_uffd_open_case(const char *name, unsigned long long features);

/**
 * struct kit_access - one byte access run by kit_access_run()
 * @addr: byte to read or write
 * @write: store @value to @addr if true, else load @addr into @value
 * @value: the byte to store, or the byte loaded once the access completed
 * @uffd: userfaultfd whose page-fault events the access may raise, or -1
 * @timeout_ms: bound of each wait for an event or for completion;
 *	0 means %KIT_TIMEOUT_MS
 * @resolve: called for every page-fault event with the userfaultfd, the
 *	faulting address and @arg; it must resolve the fault (UFFDIO_COPY,
 *	UFFDIO_ZEROPAGE, UFFDIO_CONTINUE, UFFDIO_WRITEPROTECT) and return 0,
 *	or return -1 with errno set.  @fault_flags tells the kind of the
 *	event.  NULL resolves with UFFDIO_ZEROPAGE.
 * @arg: passed to @resolve
 * @events: number of page-fault events the access raised, of any kind
 * @wp_events: how many of @events were write-protect faults
 *	(%UFFD_PAGEFAULT_FLAG_WP)
 * @minor_events: how many of @events were minor faults
 *	(%UFFD_PAGEFAULT_FLAG_MINOR); the rest were MISSING faults
 * @fault_addr: address reported by the last event
 * @fault_flags: flags (``UFFD_PAGEFAULT_FLAG_*``) of the last event
 * @completed: the access returned within the timeouts, without a signal
 * @timed_out: a wait ran out of time
 * @uffd_closed: @uffd was closed to wake the access; the caller must not
 *	use or close it again
 * @stuck: the access did not return even after @uffd was closed; its
 *	thread was left behind and the process should exit soon
 * @signal: SIGSEGV or SIGBUS if the access raised one, else 0
 * @error: errno of the step that failed (poll, read, @resolve), else 0
 *
 * Fill the inputs with kit_access_init(); kit_access_run() sets the rest.
 */
struct kit_access {
	unsigned char *addr;
	bool write;
	unsigned char value;
	int uffd;
	int timeout_ms;
	int (*resolve)(int uffd, unsigned long addr, void *arg);
	void *arg;

	int events;
	int wp_events;
	int minor_events;
	unsigned long fault_addr;
	unsigned long long fault_flags;
	bool completed;
	bool timed_out;
	bool uffd_closed;
	bool stuck;
	int signal;
	int error;
};

void kit_access_init(struct kit_access *acc, int uffd, void *addr,
		     bool write, unsigned char value);
int kit_access_run(struct kit_access *acc);
bool kit_access_run_uffd(struct kit_access *acc, int *uffd, const char *what);
int kit_resolve_copy(int uffd, unsigned long addr, void *src);

#endif /* KIT_H */
