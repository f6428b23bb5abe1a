/* JSON string output shared by the command-line tools. */
#ifndef SHOAL_TOOL_JSON_H
#define SHOAL_TOOL_JSON_H

#include <stdio.h>

static inline void tool_json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++)
    {
        unsigned char ch = (unsigned char)s[i];
        if ('"' == ch || '\\' == ch)
        {
            printf("\\%c", ch);
        }
        else if (ch < 0x20)
        {
            printf("\\u%04x", ch);
        }
        else
        {
            putchar(ch);
        }
    }
    putchar('"');
}

#endif
