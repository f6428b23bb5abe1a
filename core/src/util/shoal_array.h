/*
 * Arrays that grow by doubling, for the driver's tables and the lists the
 * sender and receiver duties iterate: shoal_array_ensure makes room for one
 * more element; pointer lists are unordered (removal swaps the last entry
 * in). Conductor and duty bookkeeping only, never a hot path.
 */
#ifndef SHOAL_ARRAY_H
#define SHOAL_ARRAY_H

#include <stddef.h>
#include <stdint.h>

/* Room for element count (index count) of element_size bytes: doubles
 * *capacity (from 8) when full. -1 with SHOAL_ENOMEM "what: out of memory". */
int shoal_array_ensure(void **array, int32_t count, int32_t *capacity, size_t element_size, const char *what);

/* For an array field `name` with `name##_count` and `name##_capacity` beside it. */
#define SHOAL_ARRAY(type, name)                                                                                        \
    type *name;                                                                                                        \
    int32_t name##_count;                                                                                              \
    int32_t name##_capacity

#define SHOAL_ARRAY_ENSURE(o, name, what)                                                                              \
    shoal_array_ensure((void **)&(o)->name, (o)->name##_count, &(o)->name##_capacity, sizeof(*(o)->name), (what))

/* Pointer lists: append (growing as needed) and unordered removal. */
int shoal_pointer_list_add(void **items, int32_t *count, int32_t *capacity, void *item);
void shoal_pointer_list_remove(void **items, int32_t *count, const void *item);

#define SHOAL_POINTER_LIST(type, name) SHOAL_ARRAY(type, name)
#define SHOAL_POINTER_LIST_ADD(o, name, item)                                                                          \
    shoal_pointer_list_add((void **)&(o)->name, &(o)->name##_count, &(o)->name##_capacity, (item))
#define SHOAL_POINTER_LIST_REMOVE(o, name, item)                                                                       \
    shoal_pointer_list_remove((void **)(o)->name, &(o)->name##_count, (item))

#endif
