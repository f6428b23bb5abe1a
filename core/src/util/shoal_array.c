#include "util/shoal_array.h"

#include <stdlib.h>

#include "util/shoal_error.h"

int shoal_array_ensure(void **array, int32_t count, int32_t *capacity, size_t element_size, const char *what)
{
    if (count < *capacity)
    {
        return 0;
    }
    int32_t cap = *capacity ? *capacity * 2 : 8;
    void *grown = realloc(*array, (size_t)cap * element_size);
    if (NULL == grown)
    {
        return shoal_set_err(SHOAL_ENOMEM, "%s: out of memory", what);
    }
    *array = grown;
    *capacity = cap;
    return 0;
}

int shoal_pointer_list_add(void **items, int32_t *count, int32_t *capacity, void *item)
{
    if (shoal_array_ensure(items, *count, capacity, sizeof(void *), "pointer list") < 0)
    {
        return -1;
    }
    ((void **)*items)[(*count)++] = item;
    return 0;
}

void shoal_pointer_list_remove(void **items, int32_t *count, const void *item)
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
