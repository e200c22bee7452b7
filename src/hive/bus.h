/* SPDX-License-Identifier: MIT */
/*
 * hive/bus.h: the bus's private side, shared with hive/sse.c.
 */
#ifndef HIVE_BUS_PRIVATE_H
#define HIVE_BUS_PRIVATE_H

#include <stdint.h>

#include "hive/pubsub.h"

/* Count messages dropped by a drop-oldest policy. Any thread. */
void hive__count_drops(hive_bus_t *bus, uint64_t n);

/* Count a connection closed as too slow. Any thread. */
void hive__count_slow_close(hive_bus_t *bus);

#endif
