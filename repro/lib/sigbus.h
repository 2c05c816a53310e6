/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Accesses that may raise SIGBUS (beyond end of file, a racing truncation)
 * and report it instead of killing the process, in any thread.
 */
#ifndef KIT_SIGBUS_H
#define KIT_SIGBUS_H

#include <stddef.h>

int kit_sigbus_catch(void);
int kit_try_store(unsigned char *p, unsigned char val);
int kit_try_load(const unsigned char *p, unsigned char *val);
int kit_try_copy(unsigned char *dst, const unsigned char *src, size_t len);

#endif /* KIT_SIGBUS_H */
