/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroup v2 memory controller helpers: find the hierarchy, make a child
 * group with a limit, read its counters, remove it.  Used by the scenarios
 * and benchmarks that ask whether a workload fits a memory.max.
 */
#ifndef KIT_MEMCG_H
#define KIT_MEMCG_H

#include <stdbool.h>
#include <stddef.h>

int kit_memcg_init(char *why, size_t len);
int kit_memcg_create(char *cg, size_t len, const char *tag,
		     long long max_bytes);
void kit_memcg_destroy(const char *cg);
int kit_memcg_write(const char *cg, const char *file, const char *value);
long long kit_memcg_key(const char *cg, const char *file, const char *key);
long long kit_memcg_value(const char *cg, const char *file);
bool kit_memcg_has(const char *cg, const char *file);

#endif /* KIT_MEMCG_H */
