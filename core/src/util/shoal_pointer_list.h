/*
 * An unordered array of pointers that grows by doubling: the lists the
 * sender and receiver duties iterate (endpoints, publications, images).
 * Removal swaps the last entry in, so order is not kept.
 */
#ifndef SHOAL_POINTER_LIST_H
#define SHOAL_POINTER_LIST_H

#include <stdint.h>
#include <stdlib.h>

#include "util/shoal_error.h"

#define SHOAL_POINTER_LIST(type, name) \
    type *name;                        \
    int32_t name##_count;              \
    int32_t name##_capacity

static inline int shoal_pointer_list_add(void **items, int32_t *count, int32_t *capacity, void *item)
{
    if (*count == *capacity)
    {
        int32_t cap = *capacity ? *capacity * 2 : 8;
        void **grown = realloc(*items, (size_t)cap * sizeof(void *));
        if (NULL == grown)
        {
            return shoal_set_err(SHOAL_ENOMEM, "driver: out of memory");
        }
        *items = grown;
        *capacity = cap;
    }
    ((void **)*items)[(*count)++] = item;
    return 0;
}

static inline void shoal_pointer_list_remove(void **items, int32_t *count, const void *item)
{
    for (int32_t i = 0; i < *count; i++)
    {
        if (items[i] == item)
        {
            items[i] = items[--(*count)];
            return;
        }
    }
}

#define SHOAL_POINTER_LIST_ADD(o, name, item) \
    shoal_pointer_list_add((void **)&(o)->name, &(o)->name##_count, &(o)->name##_capacity, (item))
#define SHOAL_POINTER_LIST_REMOVE(o, name, item) \
    shoal_pointer_list_remove((void **)(o)->name, &(o)->name##_count, (item))

#endif
