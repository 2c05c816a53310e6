// SPDX-License-Identifier: GPL-2.0
/*
 * SIGBUS as a result, not a crash (see sigbus.h).
 *
 * A thread arms a per-thread jump buffer around one access; the handler
 * jumps back only when the fault is the armed thread's, and otherwise
 * restores the default action, so a SIGBUS nobody expected still kills
 * the process as it would without this file.  The accesses are atomic so
 * that the compiler keeps them; SA_NODEFER leaves SIGBUS unblocked after
 * the jump, so sigsetjmp() need not save the signal mask.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "sigbus.h"

/* Where a SIGBUS of this thread returns to; NULL: nowhere, not ours. */
static __thread struct {
	sigjmp_buf *env;
} bus;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigjmp_buf *env = bus.env;

	(void)si;
	(void)uc;
	if (!env) {
		/* Not ours: the access is retried and kills the process. */
		sigaction(sig, &dfl, NULL);
		return;
	}
	bus.env = NULL;
	siglongjmp(*env, 1);
}

/* Point SIGBUS of this thread at @env, with no access moved across. */
static void bus_arm(sigjmp_buf *env)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	bus.env = env;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/**
 * kit_sigbus_catch() - let kit_try_*() report SIGBUS
 *
 * Installs the process-wide SIGBUS handler; call it once, before the
 * threads that use kit_try_store(), kit_try_load() or kit_try_copy().
 *
 * Return: 0, or -1 with errno set.
 */
int kit_sigbus_catch(void)
{
	struct sigaction sa = {
		.sa_sigaction = on_sigbus,
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL);
}

/**
 * kit_try_store() - store a byte that may raise SIGBUS
 * @p: where
 * @val: what
 *
 * Return: 0, or -1 if the store raised SIGBUS (nothing was stored).
 */
int kit_try_store(unsigned char *p, unsigned char val)
{
	sigjmp_buf env;

	if (sigsetjmp(env, 0))
		return -1;
	bus_arm(&env);
	__atomic_store_n(p, val, __ATOMIC_RELAXED);
	bus_arm(NULL);
	return 0;
}

/**
 * kit_try_load() - load a byte that may raise SIGBUS
 * @p: where
 * @val: where to put it
 *
 * Return: 0, or -1 if the load raised SIGBUS (@val is untouched).
 */
int kit_try_load(const unsigned char *p, unsigned char *val)
{
	sigjmp_buf env;

	if (sigsetjmp(env, 0))
		return -1;
	bus_arm(&env);
	*val = __atomic_load_n(p, __ATOMIC_RELAXED);
	bus_arm(NULL);
	return 0;
}

/**
 * kit_try_copy() - copy bytes whose loads may raise SIGBUS
 * @dst: destination
 * @src: source, the mapping that may fault
 * @len: bytes
 *
 * Return: 0, or -1 if a load raised SIGBUS (@dst is partly written).
 */
int kit_try_copy(unsigned char *dst, const unsigned char *src, size_t len)
{
	sigjmp_buf env;

	if (sigsetjmp(env, 0))
		return -1;
	bus_arm(&env);
	memcpy(dst, src, len);
	bus_arm(NULL);
	return 0;
}
