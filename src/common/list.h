/* SPDX-License-Identifier: MIT */
/*
 * common/list.h: intrusive circular doubly-linked lists. A node is embedded
 * in the object it links; hcs_list_entry() gets the object back. No
 * allocation, no locking: a list belongs to one thread.
 */
#ifndef HCS_COMMON_LIST_H
#define HCS_COMMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hcs_list_s {
  struct hcs_list_s *prev, *next;
} hcs_list_t;

#define hcs_list_entry(node, type, member)                                    \
  ((type *)((char *)(node) - offsetof(type, member)))

/* An empty list head, or an unlinked node (points at itself). */
static inline void hcs_list_init(hcs_list_t *l) {
  l->prev = l->next = l;
}

static inline bool hcs_list_empty(const hcs_list_t *l) {
  return l->next == l;
}

/* True when a node initialised with hcs_list_init is linked somewhere. */
static inline bool hcs_list_linked(const hcs_list_t *n) {
  return n->next != n;
}

static inline void hcs_list_push_back(hcs_list_t *head, hcs_list_t *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}

/* Unlink n and leave it unlinked (safe on an unlinked node). */
static inline void hcs_list_remove(hcs_list_t *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}

static inline hcs_list_t *hcs_list_first(const hcs_list_t *head) {
  return head->next == head ? NULL : head->next;
}

/* Move every node of `from` to the end of `to`, leaving `from` empty. */
static inline void hcs_list_move_all(hcs_list_t *from, hcs_list_t *to) {
  if (hcs_list_empty(from))
    return;
  from->next->prev = to->prev;
  to->prev->next = from->next;
  from->prev->next = to;
  to->prev = from->prev;
  hcs_list_init(from);
}

#endif
