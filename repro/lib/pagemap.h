/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a virtual page maps, from /proc/self/pagemap and /proc/kpageflags:
 * nothing, an anonymous page, a page-cache page, the shared zero page, part
 * of a THP, or a hugetlb page.  Reading PFNs needs CAP_SYS_ADMIN; without it
 * the helpers say so and classify nothing.
 */
#ifndef KIT_PAGEMAP_H
#define KIT_PAGEMAP_H

#include <stdbool.h>
#include <stddef.h>

/**
 * enum kit_page_kind - what a virtual page maps
 * @KIT_PAGE_NONE: nothing (no PTE, or not present and not swapped)
 * @KIT_PAGE_SWAP: a swapped-out page
 * @KIT_PAGE_ZERO: the shared zero page, or the huge zero page
 * @KIT_PAGE_HUGE: part of a hugetlb page, anonymous or page cache
 * @KIT_PAGE_THP: part of a transparent huge page, anonymous or page cache
 * @KIT_PAGE_ANON: a small anonymous page
 * @KIT_PAGE_FILE: a small page-cache page
 *
 * The first that applies, in this order.  struct kit_page_info also says
 * whether a huge or THP page is anonymous.
 */
enum kit_page_kind {
	KIT_PAGE_NONE,
	KIT_PAGE_SWAP,
	KIT_PAGE_ZERO,
	KIT_PAGE_HUGE,
	KIT_PAGE_THP,
	KIT_PAGE_ANON,
	KIT_PAGE_FILE,
};

/**
 * struct kit_page_info - one virtual page, classified
 * @kind: the classification
 * @present: the pagemap entry is present
 * @anon: KPF_ANON: an anonymous page (hugetlb COW pages included)
 * @pfn: the page frame, if present
 * @kflags: its /proc/kpageflags word, if present
 */
struct kit_page_info {
	enum kit_page_kind kind;
	bool present;
	bool anon;
	unsigned long long pfn;
	unsigned long long kflags;
};

/**
 * struct kit_pagemap_counts - pages of a range, by what they map
 * @pages: pages looked at
 * @none: mapping nothing
 * @swap: swapped out
 * @zero: mapping the (huge) zero page
 * @anon: mapping an anonymous page, of any size
 * @file: mapping a page-cache page, of any size
 * @thp: among @anon and @file, those in a transparent huge page
 * @huge: among @anon and @file, those in a hugetlb page
 *
 * @none + @swap + @zero + @anon + @file == @pages.
 */
struct kit_pagemap_counts {
	long pages;
	long none;
	long swap;
	long zero;
	long anon;
	long file;
	long thp;
	long huge;
};

const char *kit_page_kind_name(enum kit_page_kind kind);
bool kit_pagemap_usable(char *why, size_t len);
int kit_page_classify(const void *addr, struct kit_page_info *info);
int kit_pagemap_count(const void *addr, size_t pages, size_t stride,
		      struct kit_pagemap_counts *c);
int kit_pagemap_facts(const char *prefix, const void *addr, size_t pages,
		      size_t stride);

#endif /* KIT_PAGEMAP_H */
