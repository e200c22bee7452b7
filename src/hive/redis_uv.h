/* SPDX-License-Identifier: MIT */
/*
 * hive/redis_uv.h: hiredis's async API on a libuv loop. The same hooks as
 * the adapter hiredis ships (hiredis/adapters/libuv.h), with one fix: 0.14's
 * adapter ignores a poll error, and libuv reports POLLERR (a refused
 * connect, a reset) as exactly that, with the handle stopped, so a refused
 * connection would hang unnoticed. Here an error makes hiredis try the
 * directions it waits for, which surfaces the socket's error as a failed
 * connect or a disconnect.
 *
 * Loop thread only. The poll state is freed by the context's cleanup (on
 * redisAsyncFree or a disconnect), after the handle has closed.
 */
#ifndef HIVE_REDIS_UV_H
#define HIVE_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/* Attach ac to loop. Returns REDIS_OK, or REDIS_ERR (already attached, no
 * memory, or libuv refused the descriptor): then ac is unchanged and the
 * caller frees it. */
int hive__redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
