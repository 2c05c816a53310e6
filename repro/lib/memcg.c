// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup v2 memory controller helpers (see memcg.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"
#include "memcg.h"

static char cg_root[256];
static bool added_memory;

static void restore_subtree_control(void)
{
	if (added_memory)
		kit_memcg_write(cg_root, "cgroup.subtree_control", "-memory");
}

/* The first cgroup2 mount, if its root offers the memory controller. */
static int find_cgroup2(char *why, size_t len)
{
	char line[512], dev[128], dir[256], type[64];
	char path[300], ctrl[256];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mounts", "re");
	if (!f) {
		snprintf(why, len, "/proc/self/mounts: %s", strerror(errno));
		return -1;
	}
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%127s %255s %63s", dev, dir, type) == 3 &&
			!strcmp(type, "cgroup2");
	fclose(f);
	if (!found) {
		snprintf(why, len, "no cgroup2 mount");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	if (kit_knob_read(path, ctrl, sizeof(ctrl)) ||
	    !strstr(ctrl, "memory")) {
		snprintf(why, len,
			 "cgroup2 at %s offers no memory controller (it is bound to cgroup v1?)",
			 dir);
		return -1;
	}
	snprintf(cg_root, sizeof(cg_root), "%s", dir);
	return 0;
}

/**
 * kit_memcg_init() - find a cgroup v2 memory controller we may use
 * @why: where to say why not
 * @len: size of @why
 *
 * Needs CAP_SYS_ADMIN and a cgroup2 mount whose root offers the memory
 * controller; enables it for the root's children if it is not, and
 * disables it again at exit.
 *
 * Return: 0 if kit_memcg_create() can be used, else -1 with @why filled.
 */
int kit_memcg_init(char *why, size_t len)
{
	char path[300], ctrl[256];

	if (!kit_has_cap(CAP_SYS_ADMIN)) {
		snprintf(why, len, "needs CAP_SYS_ADMIN to create a memory cgroup");
		return -1;
	}
	if (find_cgroup2(why, len))
		return -1;
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", cg_root);
	if (!kit_knob_read(path, ctrl, sizeof(ctrl)) && strstr(ctrl, "memory"))
		return 0;
	if (kit_memcg_write(cg_root, "cgroup.subtree_control", "+memory")) {
		snprintf(why, len, "cannot enable memory in %s: %s", path,
			 strerror(errno));
		return -1;
	}
	added_memory = true;
	atexit(restore_subtree_control);
	return 0;
}

/**
 * kit_memcg_create() - make a child memory cgroup with a limit and no swap
 * @cg: where to store the new group's path
 * @len: size of @cg
 * @tag: part of the group's name, for whoever finds it left behind
 * @max_bytes: its memory.max
 *
 * memory.swap.max is set to 0 where it exists, so that a limit is a limit.
 *
 * Return: 0, or -1 with errno set (the group is removed again).
 */
int kit_memcg_create(char *cg, size_t len, const char *tag,
		     long long max_bytes)
{
	char value[32];
	int err;

	snprintf(cg, len, "%s/kit-%d-%s", cg_root, getpid(), tag);
	if (mkdir(cg, 0755))
		return -1;
	snprintf(value, sizeof(value), "%lld", max_bytes);
	if (kit_memcg_write(cg, "memory.max", value) ||
	    (kit_memcg_has(cg, "memory.swap.max") &&
	     kit_memcg_write(cg, "memory.swap.max", "0"))) {
		err = errno;
		kit_memcg_destroy(cg);
		errno = err;
		return -1;
	}
	return 0;
}

/**
 * kit_memcg_destroy() - remove a cgroup once its last task is gone
 * @cg: the group
 *
 * A task just killed may still be leaving it: retry EBUSY for up to 1 s.
 */
void kit_memcg_destroy(const char *cg)
{
	struct timespec ms = { 0, 1000000 };
	int i;

	for (i = 0; i < 1000 && rmdir(cg) && errno == EBUSY; i++)
		nanosleep(&ms, NULL);
}

/**
 * kit_memcg_write() - write a cgroup file
 * @cg: the group
 * @file: the file's name (``memory.max``)
 * @value: what to write
 *
 * Return: 0, or -1 with errno set.
 */
int kit_memcg_write(const char *cg, const char *file, const char *value)
{
	char path[512];
	size_t n = strlen(value);
	ssize_t w;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	w = write(fd, value, n);
	close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

/**
 * kit_memcg_key() - one line of a flat-keyed cgroup file
 * @cg: the group
 * @file: the file (``memory.stat``, ``memory.events``)
 * @key: the key (``anon``, ``oom_kill``)
 *
 * Return: the value, or -1 if the file or the key is absent.
 */
long long kit_memcg_key(const char *cg, const char *file, const char *key)
{
	char path[512], line[256];
	size_t klen = strlen(key);
	long long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			value = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

/**
 * kit_memcg_value() - a single-number cgroup file
 * @cg: the group
 * @file: the file (``memory.current``, ``memory.peak``)
 *
 * Return: the number, or -1 if the file is absent or reads ``max``.
 */
long long kit_memcg_value(const char *cg, const char *file)
{
	char path[512], value[64];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	if (kit_knob_read(path, value, sizeof(value)) || !strcmp(value, "max"))
		return -1;
	return strtoll(value, NULL, 10);
}

/**
 * kit_memcg_has() - whether a cgroup file exists on this kernel
 * @cg: the group
 * @file: the file (``memory.peak`` is 5.19+, ``memory.swap.max`` needs
 *	swap accounting)
 *
 * Return: true if it exists.
 */
bool kit_memcg_has(const char *cg, const char *file)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return !access(path, F_OK);
}
